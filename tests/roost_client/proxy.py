"""A TCP proxy that cuts connections: the network flapping, on demand, without timing.

Rules:

1. Each of the first ``cuts`` connections forwards exactly ``budget`` bytes in the
   watched direction (``up``: client to hub, ``down``: hub to client), then is cut,
   mid-frame or not: the receiving side is closed after those bytes, the sending side
   aborted. Later connections forward everything.
2. A cut happens at a byte count, never at a time, so how many cuts a test sees depends
   only on how many bytes must cross: ``cuts * budget`` below the bytes a test must
   send makes every cut happen.
"""

from __future__ import annotations

import asyncio
from typing import Literal

__all__ = ["CuttingProxy"]


class CuttingProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target`` and cuts as rule 1 says."""

    def __init__(
        self, target: int, *, budget: int, cuts: int, direction: Literal["up", "down"] = "up"
    ) -> None:
        self.target = target
        self.budget = budget
        self.cuts = cuts
        self.direction = direction
        self.port = 0
        #: Connections accepted, and connections cut, so far.
        self.connections = 0
        self.cut = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        if self._server is not None:
            await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        limited = self.connections <= self.cuts
        self._writers.add(client_w)
        try:
            hub_r, hub_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_w.transport.abort()
            self._writers.discard(client_w)
            self._tasks.discard(task)
            return
        self._writers.add(hub_w)
        remaining = self.budget if limited else None

        def cut(receiver: asyncio.StreamWriter) -> None:
            self.cut += 1
            receiver.transport.close()  # after the bytes it was given: no more, no fewer
            for writer in (client_w, hub_w):
                if writer is not receiver:
                    writer.transport.abort()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, watched: bool) -> None:
            nonlocal remaining
            try:
                while data := await src.read(65536):
                    if dst.transport.is_closing():
                        return  # cut, or the other side is gone
                    if watched and remaining is not None:
                        if len(data) >= remaining:
                            dst.write(data[:remaining])
                            cut(dst)
                            return
                        remaining -= len(data)
                    dst.write(data)
                    await dst.drain()
                if dst.can_write_eof():
                    dst.write_eof()
            except (ConnectionError, OSError):
                client_w.transport.abort()
                hub_w.transport.abort()

        try:
            await asyncio.gather(
                pipe(client_r, hub_w, self.direction == "up"),
                pipe(hub_r, client_w, self.direction == "down"),
            )
        finally:
            client_w.transport.abort()
            hub_w.transport.abort()
            self._writers.discard(client_w)
            self._writers.discard(hub_w)
            self._tasks.discard(task)
