"""The client side of the socket benchmarks: the same code against Roost and the baseline.

One client process holds any number of sockets to each server, in groups by side
(``roost`` / ``baseline``). Each socket is a bare ``asyncio.Protocol``:

* the opening handshake is websockets' sans-I/O ``ClientProtocol`` (no extension
  offered: no permessage-deflate, as with the asyncio client's ``compression=None``);
* once open, a receiver only counts the data messages it gets. It reads the frame
  headers itself (server frames are unmasked, RFC 6455 §5.2) and never builds a frame,
  decodes UTF-8 or copies a payload, so the client's CPU goes to the kernel (reads,
  epoll), not to parsing;
* the publisher sends through its ``ClientProtocol`` (masked frames, RFC 6455 §5.3) and
  paces itself on its own echoes: message ``k + window`` leaves only once the echo of
  message ``k`` is back, so at most ``window`` messages are in flight and neither side
  buffers without bound.

Commands (see ``loadtest.process``), each answered once:

* ``("connect", side, url, receivers, publisher)`` opens ``receivers`` sockets (at most
  ``CONNECT_CONCURRENCY`` handshakes at a time), then the publisher if asked, and answers
  ``("connect", opened)``.
* ``("arm", side, messages, seconds)`` expects ``messages`` messages on every receiver of
  the side and answers ``("armed",)``; later it answers ``("done", last, count)`` with
  the ``time.monotonic()`` of the last expected receipt (``CLOCK_MONOTONIC``, the same
  clock in every process), or ``("timeout", count)`` after ``seconds``.
* ``("run", side, messages, window, size, seconds)``, to the process with the publisher:
  arms as above, publishes, and answers ``("done", last, count, first_send)``.
* ``("close", side)`` closes the side's sockets and answers ``("close", closed)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN
from websockets.uri import parse_uri

from loadtest.process import Commands, raise_fd_limit, run_loop

__all__ = ["CONNECT_CONCURRENCY", "Publisher", "Socket", "Tally", "client_main"]

#: Handshakes in flight at once per client process (under both servers' listen backlog).
CONNECT_CONCURRENCY = 200
#: Seconds allowed for one socket's TCP connect plus opening handshake.
CONNECT_TIMEOUT = 20.0
#: Seconds allowed for a side's sockets to see their connections end after ``close``.
CLOSE_TIMEOUT = 10.0
_DATA_OPCODES = (0x0, 0x1, 0x2)  # continuation, text, binary (RFC 6455 §5.2)
_FIN_DATA = (0x80, 0x81, 0x82)  # the same with FIN set (first byte, RSV bits masked out)
_CLOSE_OPCODE = 0x8


class Tally:
    """Messages received by the receivers of one side in one process."""

    __slots__ = ("count", "done", "expected", "last")

    def __init__(self) -> None:
        self.count = 0
        self.expected = -1
        self.last = 0.0
        self.done: asyncio.Future[None] | None = None

    def arm(self, expected: int) -> asyncio.Future[None]:
        """Start counting from zero towards ``expected`` messages."""
        self.count = 0
        self.expected = expected
        self.last = 0.0
        self.done = asyncio.get_running_loop().create_future()
        if expected == 0:
            self.done.set_result(None)
        return self.done

    def add(self, messages: int) -> None:
        """Count ``messages`` more; note the time when the expected count is reached."""
        self.count += messages
        if self.count == self.expected and self.done is not None:
            self.last = time.monotonic()
            if not self.done.done():
                self.done.set_result(None)


class Socket(asyncio.Protocol):
    """One client WebSocket that counts the data messages it receives."""

    def __init__(self, url: str, tally: Tally) -> None:
        self.tally = tally
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ws = ClientProtocol(parse_uri(url))  # no extensions: no permessage-deflate
        self._handshaking = True
        self._rest = b""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self._ws.send_request(self._ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        if self._handshaking:
            self._handshake(data)
            return
        if not self._rest and len(data) >= 2:
            # Fast path, the usual case: exactly one short unmasked frame.
            first, length = data[0], data[1]
            if length < 126 and len(data) == length + 2 and (first & 0x8F) in _FIN_DATA:
                self.counted(1)
                return
        elif self._rest:
            data = self._rest + data
            self._rest = b""
        size = len(data)
        pos = 0
        messages = 0
        while size - pos >= 2:
            first = data[pos]
            length = data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                start = pos + 4
                if start > size:
                    break
                length = int.from_bytes(data[pos + 2 : start], "big")
            elif length == 127:
                start = pos + 10
                if start > size:
                    break
                length = int.from_bytes(data[pos + 2 : start], "big")
            end = start + length
            if end > size:
                break
            opcode = first & 0x0F
            if first & 0x80 and opcode in _DATA_OPCODES:  # FIN: the message is complete
                messages += 1
            elif opcode == _CLOSE_OPCODE and self.transport is not None:
                self.transport.close()
            pos = end
        if pos < size:
            self._rest = data[pos:]
        if messages:
            self.counted(messages)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost in handshake: {exc}"))
        if not self.lost.done():
            self.lost.set_result(None)

    # -- ours ------------------------------------------------------------------------------

    def counted(self, messages: int) -> None:
        """``messages`` complete data messages arrived (a receiver adds them up)."""
        self.tally.add(messages)

    def close(self) -> None:
        """End the TCP connection (the server sees it dropped: 1006)."""
        if self.transport is not None:
            self.transport.close()

    def _handshake(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        messages = 0
        for event in ws.events_received():
            if isinstance(event, Frame) and event.fin and event.opcode is not Opcode.PING:
                messages += event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
        # Frames arrive only once every socket is open, so nothing is left half-parsed in
        # the sans-I/O reader when counting switches to ``data_received`` below.
        if ws.state is OPEN and not self.opened.done():
            self._handshaking = False
            self.opened.set_result(None)
        elif ws.handshake_exc is not None and not self.opened.done():  # e.g. not 101
            self.opened.set_exception(ConnectionError(f"handshake: {ws.handshake_exc!r}"))
        self._flush()
        if messages:
            self.counted(messages)

    def _flush(self) -> None:
        if self.transport is None:
            return
        for data in self._ws.data_to_send():
            if data:
                self.transport.write(data)

    def send_text(self, payload: bytes) -> None:
        """Send one text message (UTF-8 ``payload``) through the sans-I/O protocol."""
        self._ws.send_text(payload)
        self._flush()


class Publisher(Socket):
    """The socket that publishes, ``window`` messages ahead of its own echoes."""

    def __init__(self, url: str, tally: Tally) -> None:
        super().__init__(url, tally)
        self._payloads: list[bytes] = []
        self._window = 1
        self._sent = 0
        self._echoes = 0
        self.finished: asyncio.Future[None] | None = None

    def publish(self, payloads: list[bytes], window: int) -> float:
        """Start sending ``payloads``; returns the ``monotonic()`` time of the first send."""
        self._payloads, self._window = payloads, window
        self._sent = self._echoes = 0
        self.finished = asyncio.get_running_loop().create_future()
        first = time.monotonic()
        self._send_ahead()
        return first

    def counted(self, messages: int) -> None:
        self._echoes += messages
        if self.finished is None:
            return
        if self._echoes >= len(self._payloads):
            if not self.finished.done():
                self.finished.set_result(None)
            return
        self._send_ahead()

    def _send_ahead(self) -> None:
        limit = min(len(self._payloads), self._echoes + self._window)
        while self._sent < limit:
            self._ws.send_text(self._payloads[self._sent])
            self._sent += 1
        self._flush()


def payloads(messages: int, size: int) -> list[bytes]:
    """``messages`` distinct ASCII text payloads of ``size`` bytes (a sequence number)."""
    return [f"{k:010d}".ljust(size, "x").encode("ascii") for k in range(messages)]


class _Group:
    """The sockets of one side in this process."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.receivers: list[Socket] = []
        self.publisher: Publisher | None = None

    def sockets(self) -> list[Socket]:
        """The receivers, then the publisher if there is one."""
        return [*self.receivers, *([self.publisher] if self.publisher is not None else [])]


S = TypeVar("S", bound=Socket)


async def _open(url: str, factory: Callable[[], S]) -> S:
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        _transport, socket = await loop.create_connection(factory, uri.host, uri.port)
        await socket.opened
    return socket


async def _open_many(url: str, count: int, tally: Tally) -> list[Socket]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Socket:
        async with gate:
            return await _open(url, lambda: Socket(url, tally))

    # Accept order among receivers does not matter; the publisher is opened after all.
    return list(await asyncio.gather(*(one() for _ in range(count))))


class _ClientProcess:
    """The sockets of one client process, by side, and the commands that drive them."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.groups: dict[str, _Group] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        """Answer commands until ``("stop",)``; then drop every socket."""
        self.commands.reply("ready", os.getpid())
        try:
            while (command := await self.commands.get())[0] != "stop":
                handler = getattr(self, f"do_{command[0]}", None)
                if handler is None:
                    self.commands.reply("error", f"unknown command {command[0]!r}")
                else:
                    await handler(*command[1:])
        finally:
            for task in self.tasks:
                task.cancel()
            for group in self.groups.values():
                for socket in group.sockets():
                    socket.close()

    async def do_connect(self, side: str, url: str, receivers: int, publisher: bool) -> None:
        """Open ``receivers`` sockets to ``url``, then the publisher if asked."""
        group = self.groups.setdefault(side, _Group())
        try:
            group.receivers += await _open_many(url, receivers, group.tally)
            if publisher:
                group.publisher = await _open(url, lambda: Publisher(url, Tally()))
        except (OSError, TimeoutError) as exc:
            self.commands.reply("error", f"connect to {url}: {exc!r}")
            return
        self.commands.reply("connect", len(group.sockets()))

    async def do_arm(self, side: str, messages: int, seconds: float) -> None:
        """Expect ``messages`` on every receiver of ``side``; answer when they are in."""
        group = self.groups[side]
        group.tally.arm(messages * len(group.receivers))
        self.commands.reply("armed")
        self._later(self._wait_done(group, seconds, None))

    async def do_run(
        self, side: str, messages: int, window: int, size: int, seconds: float
    ) -> None:
        """Arm, then publish ``messages`` of ``size`` bytes, ``window`` in flight."""
        group = self.groups[side]
        assert group.publisher is not None
        group.tally.arm(messages * len(group.receivers))
        texts = payloads(messages, size)
        first = group.publisher.publish(texts, window)
        self._later(self._wait_done(group, seconds, first))

    async def do_close(self, side: str) -> None:
        """Close the sockets of ``side``; answer once their connections are gone."""
        group = self.groups.pop(side, _Group())
        sockets = group.sockets()
        for socket in sockets:
            socket.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*(socket.lost for socket in sockets))
        self.commands.reply("close", sum(socket.lost.done() for socket in sockets))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _wait_done(self, group: _Group, seconds: float, first: float | None) -> None:
        assert group.tally.done is not None
        waits = [group.tally.done]
        if first is not None and group.publisher is not None:
            assert group.publisher.finished is not None
            waits.append(group.publisher.finished)
        try:
            async with asyncio.timeout(seconds):
                await asyncio.gather(*waits)
        except TimeoutError:
            self.commands.reply("timeout", group.tally.count)
            return
        extra = () if first is None else (first,)
        self.commands.reply("done", group.tally.last, group.tally.count, *extra)


def client_main(conn: Connection) -> None:
    """Child process entry: hold sockets and count messages until told to stop."""
    raise_fd_limit()
    run_loop(lambda: _client(conn))


async def _client(conn: Connection) -> None:
    commands = Commands(conn)
    try:
        await _ClientProcess(commands).serve()
    finally:
        commands.close()
