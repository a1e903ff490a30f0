"""The client side of ``bench_sdk``: ``roost_client`` next to a bare ``websockets`` client.

A client process is of one kind for its whole life, so the CPU time ``/proc`` reports
for it is that kind's alone:

* ``sdk``: ``conn = await roost_client.connect(url, reconnect=False)``; calls are
  ``await conn.call("echo", value)``; exactly-once messages are ``conn.send(value)``,
  then ``await conn.flush()`` (every message acknowledged).
* ``bare``: ``websockets.asyncio.client.connect(url, subprotocols=["roost.v1"])`` with
  the SDK's socket options (no compression, no frame size limit, websockets' default
  keepalive), then the same frames by hand: ``hello`` and its ``welcome``; a ``call``
  frame built as a dict and encoded with ``msgspec.json``, sent as a text frame
  (``text=True``), its answer read as bytes (``decode=False``), decoded and checked
  (``result``, same id, same value); ``msg`` frames with ids 1, 2, ... and their
  ``ack`` frames. Call ids count down from 2^53 - 1 as the SDK's do (protocol/SPEC.md
  §6.1), so both send frames of the same size.

Both do the same amount of work per call: one call in flight per connection, the next
once the answer is in; for messages, ``batch`` messages per connection, then wait for
all their acks, then the next batch.

Commands (see ``loadtest.process``), each answered once:

* ``("connect", urls)``: one connection to each URL, welcomed; answers
  ``("connect", opened)``.
* ``("calls", count, seconds, size, allowed, path)``: sequential calls on the first
  ``count`` connections for ``seconds``; writes every round trip (seconds, an
  ``array("d")``) to ``path`` and answers ``("done", calls, first, last)`` with
  ``time.monotonic()`` times.
* ``("sends", seconds, size, batch, allowed)``: exactly-once message batches on every
  connection until ``seconds`` passed; answers ``("done", messages, first, last)``.
* ``("close",)``: closes every connection; answers ``("close", closed)``.

A wrong answer, or a window still running ``allowed`` seconds after it started, answers
``("failed", why)`` instead of ``done``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from array import array
from collections.abc import Awaitable, Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any, Protocol

import msgspec
import roost_client
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

import protocol
from loadtest.process import Commands, raise_fd_limit, run_loop

__all__ = ["KINDS", "client_main"]

#: The clients compared: the SDK, and a bare websockets client.
KINDS = ("sdk", "bare")
#: Call ids count down from here, as the SDK's do (SPEC §6.1).
FIRST_CALL_ID = protocol.MAX_ID


class _Client(Protocol):
    """One connection of either kind."""

    async def call(self, value: str) -> None:
        """Call ``echo(value)`` and check the answer."""

    async def send_batch(self, value: str, count: int) -> None:
        """Send ``count`` exactly-once messages; return once all are acknowledged."""

    async def close(self) -> None:
        """Close the connection."""


class _Sdk:
    """A ``roost_client`` connection."""

    def __init__(self, conn: roost_client.Connection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, url: str) -> _Sdk:
        return cls(await roost_client.connect(url, reconnect=False))

    async def call(self, value: str) -> None:
        result = await self.conn.call("echo", value)
        if result != value:
            raise RuntimeError(f"echo returned {result!r}, expected {value!r}")

    async def send_batch(self, value: str, count: int) -> None:
        send = self.conn.send
        for _ in range(count):
            send(value)
        await self.conn.flush()

    async def close(self) -> None:
        await self.conn.close()


_encode = msgspec.json.encode
_decode = msgspec.json.decode


class _Bare:
    """A bare ``websockets`` connection speaking ``roost.v1`` by hand."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_call = FIRST_CALL_ID
        self.next_message = 1

    @classmethod
    async def open(cls, url: str) -> _Bare:
        ws = await ws_connect(
            url,
            subprotocols=[Subprotocol(protocol.SUBPROTOCOL)],
            compression=None,
            max_size=None,
        )
        if ws.subprotocol != protocol.SUBPROTOCOL:
            await ws.close()
            raise RuntimeError(f"subprotocol {ws.subprotocol!r} selected, expected roost.v1")
        hello = {"t": "hello", "session": secrets.token_urlsafe(24)}
        await ws.send(_encode(hello), text=True)
        welcome = _decode(await ws.recv(decode=False))
        if welcome.get("t") != "welcome":
            raise RuntimeError(f"expected a welcome, got {welcome!r}")
        return cls(ws)

    async def call(self, value: str) -> None:
        call_id = self.next_call
        self.next_call -= 1
        frame = {"t": "call", "id": call_id, "method": "echo", "args": [value]}
        await self.ws.send(_encode(frame), text=True)
        answer = _decode(await self.ws.recv(decode=False))
        if answer.get("t") != "result" or answer.get("id") != call_id:
            raise RuntimeError(f"unexpected answer to call {call_id}: {answer!r}")
        if answer.get("result") != value:
            raise RuntimeError(f"echo returned {answer.get('result')!r}, expected {value!r}")

    async def send_batch(self, value: str, count: int) -> None:
        ws = self.ws
        first = self.next_message
        for message_id in range(first, first + count):
            await ws.send(_encode({"t": "msg", "id": message_id, "data": value}), text=True)
        self.next_message = first + count
        waiting = set(range(first, first + count))
        while waiting:
            answer = _decode(await ws.recv(decode=False))
            if answer.get("t") != "ack" or answer.get("id") not in waiting:
                raise RuntimeError(f"unexpected answer to messages {first}..: {answer!r}")
            waiting.discard(answer["id"])

    async def close(self) -> None:
        await self.ws.close()


_OPENERS: dict[str, Callable[[str], Awaitable[_Client]]] = {"sdk": _Sdk.open, "bare": _Bare.open}


class _ClientProcess:
    """The connections of one client process and the commands that drive them."""

    def __init__(self, commands: Commands, kind: str) -> None:
        self.commands = commands
        self.kind = kind
        self.clients: list[_Client] = []

    async def serve(self) -> None:
        """Answer commands until ``("stop",)``; then close every connection."""
        self.commands.reply("ready", os.getpid())
        try:
            while (command := await self.commands.get())[0] != "stop":
                handler = getattr(self, f"do_{command[0]}", None)
                if handler is None:
                    self.commands.reply("error", f"unknown command {command[0]!r}")
                else:
                    await handler(*command[1:])
        finally:
            await self._close_all()

    async def do_connect(self, urls: list[str]) -> None:
        """Open one connection to each of ``urls``."""
        opener = _OPENERS[self.kind]
        try:
            async with asyncio.timeout(30.0):
                self.clients += await asyncio.gather(*(opener(url) for url in urls))
        except (OSError, TimeoutError, RuntimeError, roost_client.RoostError) as exc:
            self.commands.reply("error", f"{self.kind}: connect to {urls[0]}: {exc!r}")
            return
        self.commands.reply("connect", len(urls))

    async def do_calls(
        self, count: int, seconds: float, size: int, allowed: float, path: str
    ) -> None:
        """Sequential calls on the first ``count`` connections for ``seconds``."""
        value = "v" * size
        latencies = array("d")
        first = time.monotonic()
        deadline = first + seconds
        last = first

        async def loop(client: _Client) -> None:
            nonlocal last
            call = client.call
            record = latencies.append
            while True:
                sent = time.monotonic()
                await call(value)
                now = time.monotonic()
                record(now - sent)
                if now >= deadline:
                    last = max(last, now)
                    return

        if await self._run(allowed, [loop(c) for c in self.clients[:count]]):
            _write(path, latencies)
            self.commands.reply("done", len(latencies), first, last)

    async def do_sends(self, seconds: float, size: int, batch: int, allowed: float) -> None:
        """Exactly-once message batches on every connection until ``seconds`` passed."""
        value = "v" * size
        sent = 0
        first = time.monotonic()
        deadline = first + seconds
        last = first

        async def loop(client: _Client) -> None:
            nonlocal sent, last
            while True:
                await client.send_batch(value, batch)
                sent += batch
                now = time.monotonic()
                if now >= deadline:
                    last = max(last, now)
                    return

        if await self._run(allowed, [loop(c) for c in self.clients]):
            self.commands.reply("done", sent, first, last)

    async def do_close(self) -> None:
        """Close every connection."""
        closed = await self._close_all()
        self.commands.reply("close", closed)

    async def _run(self, allowed: float, loops: list[Coroutine[Any, Any, None]]) -> bool:
        """Run ``loops`` to their end, or answer ``failed``: a wrong answer or a timeout."""
        failure: BaseException | None = None
        try:
            async with asyncio.timeout(allowed), asyncio.TaskGroup() as group:
                for work in loops:
                    group.create_task(work)
        except* (TimeoutError, RuntimeError, roost_client.RoostError) as caught:
            failure = caught.exceptions[0]
        if failure is not None:
            self.commands.reply("failed", f"{self.kind}: {failure!r}")
        return failure is None

    async def _close_all(self) -> int:
        clients, self.clients = self.clients, []
        async with asyncio.timeout(10.0):
            await asyncio.gather(*(client.close() for client in clients))
        return len(clients)


def _write(path: str, latencies: array[float]) -> None:
    """Write the round trips for the parent (the command pipe is no road for megabytes)."""
    with open(path, "wb") as file:
        latencies.tofile(file)


def client_main(conn: Connection, kind: str) -> None:
    """Child process entry: hold connections of ``kind`` until told to stop."""
    raise_fd_limit()
    run_loop(lambda: _client(conn, kind))


async def _client(conn: Connection, kind: str) -> None:
    commands = Commands(conn)
    try:
        await _ClientProcess(commands, kind).serve()
    finally:
        commands.close()
