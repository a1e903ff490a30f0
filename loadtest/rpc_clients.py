"""The client side of ``bench_rpc``: sequential ``roost.v1`` calls, the same code for both servers.

One client process holds any number of sockets to each server, in groups by scenario
(``roost``, ``roost-one``, ``baseline``). Each socket is a bare ``asyncio.Protocol``, in
the style of ``loadtest.clients``:

* the opening handshake is websockets' sans-I/O ``ClientProtocol``, offering the
  subprotocol ``roost.v1`` and no extension (no permessage-deflate);
* once open, the socket sends ``{"t":"hello","session":S}`` and waits for the first
  answer (Roost's ``welcome``; the bare echo server sends the ``hello`` back);
* during a window, it sends ``{"t":"call","id":N,"method":"echo","args":[V]}`` and the
  next call only once the answer to the previous one arrived: one call in flight per
  socket. The answer must be Roost's ``result`` (or the echoed ``call``) with the same
  id and the value sent; anything else fails the window.

To keep the client's CPU in the kernel (reads, writes, epoll) rather than in Python,
the hot path builds its frames itself: a call frame is two byte strings around the id,
masked with a fresh random key (RFC 6455 §5.3) by websockets' C ``apply_mask``; answers
are read from the frame header (server frames are unmasked, RFC 6455 §5.2) and checked
with two byte comparisons, never decoded as JSON.

Commands (see ``loadtest.process``), each answered once:

* ``("connect", group, urls)`` opens one socket to each URL (at most
  ``CONNECT_CONCURRENCY`` handshakes at a time), waits for the answer to each ``hello``,
  and answers ``("connect", opened)``.
* ``("run", group, side, seconds, size, allowed, path)`` makes every socket of the
  group call in a loop for ``seconds`` (a value of ``size`` bytes), then finish the call
  in flight; it writes every round trip in seconds to the file ``path`` (an
  ``array("d")``: the command pipe is non-blocking in the child, too small a road for
  megabytes) and answers ``("done", calls, first, last)``: the calls answered and the
  ``time.monotonic()`` of the first send and of the last answer (``CLOCK_MONOTONIC``,
  the same clock in every process). ``("failed", why)`` when an answer was wrong or
  the window still ran ``allowed`` seconds after it started.
* ``("close", group)`` closes the group's sockets and answers ``("close", closed)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import struct
import time
from array import array
from multiprocessing.connection import Connection
from typing import cast

from websockets.client import ClientProtocol
from websockets.protocol import OPEN
from websockets.speedups import apply_mask  # C; websockets.frames uses it too
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

import protocol
from loadtest.clients import CLOSE_TIMEOUT, CONNECT_CONCURRENCY, CONNECT_TIMEOUT
from loadtest.process import Commands, raise_fd_limit, run_loop

__all__ = ["Caller", "Window", "call_frame", "client_main", "masked_text"]

_TEXT_FIN = 0x81
_CLOSE_OPCODE = 0x8
#: What an answer starts with, by server: Roost's ``result``, or the echoed ``call``.
ANSWER_PREFIX = {"roost": b'{"t":"result",', "baseline": b'{"t":"call",'}


def masked_text(payload: bytes) -> bytes:
    """One client text frame (FIN, masked with a fresh random key) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _TEXT_FIN, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", _TEXT_FIN, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 0x80 | 127, size)
    mask = os.urandom(4)
    return header + mask + apply_mask(payload, mask)


def call_frame(value: str) -> tuple[bytes, bytes]:
    """The bytes of an ``echo`` call frame before and after its id (compact JSON)."""
    head = b'{"t":"call","id":'
    tail = b',"method":"echo","args":[' + json.dumps(value).encode("utf-8") + b"]}"
    return head, tail


class Window:
    """One measured window of one group: the calls answered and their round trips."""

    def __init__(self, seconds: float, size: int, prefix: bytes, sockets: int) -> None:
        loop = asyncio.get_running_loop()
        value = "v" * size
        self.head, self.tail = call_frame(value)
        self.prefix = prefix
        self.value = json.dumps(value).encode("utf-8")
        self.latencies = array("d")
        self.first = time.monotonic()
        self.deadline = self.first + seconds
        self.last = 0.0
        self.running = sockets
        self.done: asyncio.Future[None] = loop.create_future()
        if sockets == 0:
            self.done.set_result(None)

    def finished(self, now: float) -> None:
        """One socket has made its last call."""
        self.last = max(self.last, now)
        self.running -= 1
        if self.running == 0 and not self.done.done():
            self.done.set_result(None)

    def fail(self, why: str) -> None:
        """End the window with an error."""
        if not self.done.done():
            self.done.set_exception(RuntimeError(why))


class Caller(asyncio.Protocol):
    """One ``roost.v1`` client socket making one call at a time."""

    def __init__(self, url: str) -> None:
        loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self._ws = ClientProtocol(parse_uri(url), subprotocols=[Subprotocol(protocol.SUBPROTOCOL)])
        self._handshaking = True
        self._rest = b""
        self._window: Window | None = None
        self._next_id = 0
        self._token = b""
        self._sent_at = 0.0

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
        if self._rest:
            data = self._rest + data
            self._rest = b""
        size = len(data)
        pos = 0
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
            if first == _TEXT_FIN:
                self._answer(data[start:end])
            elif first & 0x0F == _CLOSE_OPCODE and self.transport is not None:
                self.transport.close()
            elif first & 0x0F < _CLOSE_OPCODE:  # a fragment or a binary frame
                self._fail(f"unexpected frame, first byte {first:#x}")
            pos = end
        if pos < size:
            self._rest = data[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost in handshake: {exc}"))
        if not self.lost.done():
            self.lost.set_result(None)
        self._fail(f"connection lost: {exc!r}")

    # -- ours ------------------------------------------------------------------------------

    def start(self, window: Window) -> None:
        """Make calls until ``window``'s deadline, one in flight."""
        self._window = window
        self._send_call(window)

    def close(self) -> None:
        """End the TCP connection."""
        if self.transport is not None:
            self.transport.close()

    def _send_call(self, window: Window) -> None:
        assert self.transport is not None
        self._next_id += 1
        number = b"%d" % self._next_id
        self._token = b'"id":' + number + b","
        self._sent_at = time.monotonic()
        self.transport.write(masked_text(window.head + number + window.tail))

    def _answer(self, payload: bytes) -> None:
        now = time.monotonic()
        window = self._window
        if window is None:
            # The answer to ``hello``: Roost's ``welcome``, or the echo of the ``hello``.
            if not self.opened.done():
                self.opened.set_result(None)
            return
        if (
            not payload.startswith(window.prefix)
            or self._token not in payload
            or window.value not in payload
        ):
            self._fail(f"unexpected answer to call {self._next_id}: {payload[:200]!r}")
            return
        window.latencies.append(now - self._sent_at)
        if now < window.deadline:
            self._send_call(window)
        else:
            self._window = None
            window.finished(now)

    def _fail(self, why: str) -> None:
        window, self._window = self._window, None
        if window is not None:
            window.fail(why)

    def _handshake(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        if ws.state is OPEN:
            self._handshaking = False
            if ws.subprotocol != protocol.SUBPROTOCOL:
                self.opened.set_exception(ConnectionError("roost.v1 was not selected"))
                return
            hello = protocol.encode(protocol.Hello(session=secrets.token_urlsafe(16)))
            assert self.transport is not None
            self.transport.write(masked_text(hello))
        elif ws.handshake_exc is not None and not self.opened.done():  # e.g. not 101
            self.opened.set_exception(ConnectionError(f"handshake: {ws.handshake_exc!r}"))
        self._flush()

    def _flush(self) -> None:
        if self.transport is None:
            return
        for data in self._ws.data_to_send():
            if data:
                self.transport.write(data)


async def _open(url: str) -> Caller:
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        _transport, caller = await loop.create_connection(lambda: Caller(url), uri.host, uri.port)
        await caller.opened
    return caller


class _ClientProcess:
    """The sockets of one client process, by group, and the commands that drive them."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.groups: dict[str, list[Caller]] = {}

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
            for group in self.groups.values():
                for caller in group:
                    caller.close()

    async def do_connect(self, group: str, urls: list[str]) -> None:
        """Open one socket to each of ``urls``."""
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(url: str) -> Caller:
            async with gate:
                return await _open(url)

        try:
            callers = list(await asyncio.gather(*(one(url) for url in urls)))
        except (OSError, TimeoutError) as exc:
            self.commands.reply("error", f"connect to {urls[0]}: {exc!r}")
            return
        self.groups.setdefault(group, []).extend(callers)
        self.commands.reply("connect", len(callers))

    async def do_run(
        self, group: str, side: str, seconds: float, size: int, allowed: float, path: str
    ) -> None:
        """Call in a loop on every socket of ``group`` for ``seconds``."""
        callers = self.groups[group]
        window = Window(seconds, size, ANSWER_PREFIX[side], len(callers))
        for caller in callers:
            caller.start(window)
        try:
            async with asyncio.timeout(allowed):
                await window.done
        except (RuntimeError, TimeoutError) as exc:
            self.commands.reply("failed", f"{group}: {exc!r}")
            return
        _write(path, window.latencies)
        calls = len(window.latencies)
        self.commands.reply("done", calls, window.first, window.last)

    async def do_close(self, group: str) -> None:
        """Close the sockets of ``group``; answer once their connections are gone."""
        callers = self.groups.pop(group, [])
        for caller in callers:
            caller.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*(caller.lost for caller in callers))
        self.commands.reply("close", sum(caller.lost.done() for caller in callers))


def _write(path: str, latencies: array[float]) -> None:
    with open(path, "wb") as file:
        latencies.tofile(file)


def client_main(conn: Connection) -> None:
    """Child process entry: hold sockets and make calls until told to stop."""
    raise_fd_limit()
    run_loop(lambda: _client(conn))


async def _client(conn: Connection) -> None:
    commands = Commands(conn)
    try:
        await _ClientProcess(commands).serve()
    finally:
        commands.close()
