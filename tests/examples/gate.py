"""A TCP proxy in front of the hub that a test closes and opens again: a network cut,
on demand, without timing. (``tests/roost_client/proxy.py`` cuts at byte counts; this
one cuts when the test says, which is what a page test needs.)
"""

from __future__ import annotations

import asyncio

from tests.conftest import within

__all__ = ["Gate"]


class Gate:
    """A TCP proxy in front of the hub that a test closes and opens again.

    Open, it forwards every connection both ways. ``close()`` aborts every connection it
    forwards (a browser sees its WebSocket close with 1006) and holds new ones, read
    from nothing and forwarded nowhere, until ``open()``: a client that reconnects
    meanwhile waits in its handshake, so what it misses does not depend on timing.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        #: Connections that arrived while closed and wait for ``open()``.
        self.held = 0
        self._open = asyncio.Event()
        self._open.set()
        self._arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port`` of the gate."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._open.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    def close(self) -> None:
        """Cut every forwarded connection now; hold new ones until ``open()``."""
        self._open.clear()
        self._arrived.clear()
        for writer in list(self._writers):
            writer.transport.abort()

    def open(self) -> None:
        """Forward the held connections, and new ones."""
        self._open.set()

    async def knocked(self) -> None:
        """Wait until a connection arrived since ``close()`` (it is held)."""
        await within(self._arrived.wait())

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            if not self._open.is_set():
                self.held += 1
                self._arrived.set()
                await self._open.wait()
            hub_reader, hub_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            self._writers.add(hub_writer)
            try:
                await asyncio.gather(
                    _pipe(reader, hub_writer), _pipe(hub_reader, writer), return_exceptions=True
                )
            finally:
                hub_writer.transport.abort()
                self._writers.discard(hub_writer)
        finally:
            writer.transport.abort()
            self._writers.discard(writer)
            self._tasks.discard(task)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(65536):
        if sink.transport.is_closing():
            return
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof() and not sink.transport.is_closing():
        sink.write_eof()
