"""The client side of every scenario: one process holds many sockets, the same code for
Roost and its baseline.

Rules:

1. Each socket is a bare ``asyncio.Protocol``. The opening handshake is websockets'
   sans-I/O ``ClientProtocol`` (no extension offered: no permessage-deflate), offering
   ``roost.v1`` when the scenario speaks it (then ``hello`` is sent and the first answer,
   Roost's ``welcome`` or the bare server's echo of it, completes the opening).
2. Once open, frames are read from their headers here (server frames are unmasked,
   RFC 6455 §5.2) and frames are built here, masked by websockets' C ``apply_mask``
   (RFC 6455 §5.3): the client's CPU goes to the kernel, not to Python.
3. A message carries its send time: the first ``STAMP`` bytes of every payload are
   ``time.monotonic()`` as text (``CLOCK_MONOTONIC``, one clock for every process), then
   the writer's number. Every recipient records send -> receive latency from it; a
   writer also recognises its own messages, and sends message ``k + window`` only once
   its own copy of message ``k`` came back (at most ``window`` in flight), and at most
   ``rate`` messages a second when a rate is set.
4. Latencies go into a ``stats.Histogram`` and receipts into counts per ``stats.TICK``
   from the run's start; a socket that fails is counted by kind, never raised. A
   process publishes its running totals in a shared array (``PROGRESS_FIELDS``) for the
   parent's live progress line.

Commands (see ``loadtest.process``), each answered once:

* ``("connect", group, host, port, items, options)``: ``items`` is a list of
  ``(path, role, room)``; ``options`` has ``roost_v1``, ``ramp`` (connections a second
  from this process, 0: as fast as ``CONNECT_CONCURRENCY`` allows) and ``sources``
  (local addresses to bind, spreading ephemeral ports). Answers ``("connect", opened,
  errors, connect_histogram, seconds)``.
* ``("run", group, options)``: writers write for ``seconds`` (``size``, ``window``,
  ``rate``, ``measure_from``); then every socket drains. Answers ``("done", outcome)``:
  a dict of counts, the latency histogram and the throughput series.
* ``("wake", group, options)``: the wake probes (``Probe``), see ``loadtest.wake``.
* ``("close", group)``: closes the group's sockets; answers ``("close", closed)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import os
import secrets
import socket as _socket
import struct
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, cast

from websockets.client import ClientProtocol
from websockets.protocol import OPEN
from websockets.speedups import apply_mask  # C; websockets.frames uses it too
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

import protocol
from loadtest.process import Commands, raise_fd_limit, run_loop
from loadtest.stats import TICK, Histogram

__all__ = [
    "CONNECT_CONCURRENCY",
    "PROGRESS_FIELDS",
    "STAMP",
    "Recorder",
    "Socket",
    "client_main",
    "masked_text",
    "stamped",
]

#: Handshakes in flight at once per client process (under both servers' listen backlog).
CONNECT_CONCURRENCY = 200
#: Seconds allowed for one socket's TCP connect plus opening handshake.
CONNECT_TIMEOUT = 30.0
#: Seconds allowed for a group's sockets to see their connections end after ``close``.
CLOSE_TIMEOUT = 20.0
#: Seconds without a receipt after which a drained run is over, and the most to wait.
QUIET = 0.3
DRAIN_LIMIT = 10.0
#: Bytes of the send time at the start of a payload, then a space and the writer number.
STAMP = 17
_TAG = slice(STAMP + 1, STAMP + 9)
#: What the shared progress array holds, in order.
PROGRESS_FIELDS = ("opened", "delivered", "sent", "errors")
_TEXT_FIN = 0x81
_CLOSE = 0x8
_FIN_DATA = (0x80, 0x81, 0x82)


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


def stamped(writer: int, size: int, now: float) -> bytes:
    """A payload of ``size`` bytes (at least ``STAMP + 10``) stamped with ``now`` (rule 3)."""
    head = b"%017.6f %08d " % (now, writer)
    return head + b"x" * (size - len(head))


def error_kind(exc: BaseException) -> str:
    """A short stable name for why a connection failed."""
    if isinstance(exc, TimeoutError):
        return "connect_timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno == errno.EMFILE or exc.errno == errno.ENFILE:
            return "fd_limit"
        if exc.errno == errno.EADDRNOTAVAIL or exc.errno == errno.EADDRINUSE:
            return "ephemeral_ports"
        return f"os_{errno.errorcode.get(exc.errno, exc.errno)}"
    if isinstance(exc, HandshakeError):
        return "handshake_failed"
    return type(exc).__name__


class HandshakeError(ConnectionError):
    """The opening handshake failed (not 101, or ``roost.v1`` not selected)."""


class Recorder:
    """What the sockets of one process saw during one run (rule 4)."""

    __slots__ = (
        "delivered",
        "errors",
        "latencies",
        "measure_from",
        "received",
        "samples",
        "sent",
        "series",
        "start",
    )

    def __init__(self, start: float = 0.0, measure_from: float = 0.0, ticks: int = 0) -> None:
        self.start = start
        self.measure_from = measure_from
        self.latencies = array("d")
        #: (send time, latency) pairs, kept only by sockets that need the send times
        #: (``loadtest.sequenced``): the parent sorts them by when they were sent.
        self.samples = array("d")
        self.series = [0] * ticks
        self.delivered = 0
        self.received: Counter[int] = Counter()
        self.sent: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()

    def tick(self, now: float, count: int) -> None:
        """Count ``count`` receipts at ``now`` in the throughput series."""
        index = int((now - self.start) / TICK)
        series = self.series
        if 0 <= index < len(series):
            series[index] += count

    def outcome(self) -> dict[str, object]:
        """The plain dict the parent gets."""
        return {
            "delivered": self.delivered,
            "received": dict(self.received),
            "sent": dict(self.sent),
            "errors": dict(self.errors),
            "latency": Histogram.of(self.latencies).to_wire(),
            "series": self.series,
            "samples": self.samples.tobytes(),
        }


class Socket(asyncio.Protocol):
    """One client WebSocket: a member of a room that records what it receives."""

    def __init__(self, url: str, room: int, recorder: Recorder, *, roost_v1: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.room = room
        self.recorder = recorder
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.closing = False
        self._roost_v1 = roost_v1
        subprotocols = [Subprotocol(protocol.SUBPROTOCOL)] if roost_v1 else None
        self._ws: ClientProtocol | None = ClientProtocol(parse_uri(url), subprotocols=subprotocols)
        self._hello_pending = roost_v1
        self._rest = b""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        assert self._ws is not None
        self._ws.send_request(self._ws.connect())
        self._flush_handshake()

    def data_received(self, data: bytes) -> None:
        if self._ws is not None:
            self._handshake(data)
            return
        now = time.monotonic()
        if self._rest:
            data = self._rest + data
            self._rest = b""
        elif len(data) >= 2:
            # Fast path, the usual case: exactly one short unmasked data frame.
            first, length = data[0], data[1]
            if length < 126 and len(data) == length + 2 and first in _FIN_DATA:
                self.message(data, 2, len(data), now)
                self.received(1, now)
                return
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
            if first in _FIN_DATA:
                self.message(data, start, end, now)
                messages += 1
            elif opcode == _CLOSE:
                self.recorder.errors["closed_by_server"] += 1
                self.close()
            pos = end
        if pos < size:
            self._rest = data[pos:]
        if messages:
            self.received(messages, now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost in handshake: {exc}"))
        elif not self.closing:
            self.recorder.errors["connection_lost"] += 1
        if not self.lost.done():
            self.lost.set_result(None)

    # -- ours ------------------------------------------------------------------------------

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        """One data message: ``data[start:end]`` is its payload."""
        if self._hello_pending:
            self.hello_answered()
            return
        recorder = self.recorder
        if now >= recorder.measure_from:
            try:
                sent = float(data[start : start + STAMP])
            except ValueError:
                return  # not a stamped message (a roost.v1 frame): nothing to time
            recorder.latencies.append(now - sent)

    def received(self, messages: int, now: float) -> None:
        """``messages`` data messages arrived at ``now``."""
        recorder = self.recorder
        recorder.delivered += messages
        recorder.received[self.room] += messages
        recorder.tick(now, messages)

    def tally(self) -> dict[str, Any] | None:
        """What this socket counted of its run beyond the recorder's figures (none here;
        ``loadtest.sequenced``: messages seen by sequence number)."""
        return None

    def close(self) -> None:
        """End the TCP connection (the server sees it dropped)."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def send_text(self, payload: bytes) -> None:
        """Send one text message."""
        if self.transport is not None and not self.closing:
            self.transport.write(masked_text(payload))

    def _handshake(self, data: bytes) -> None:
        ws = self._ws
        assert ws is not None
        ws.receive_data(data)
        if ws.state is OPEN:
            self._ws = None  # from now on frames are read by hand (rule 2)
            if self._roost_v1 and ws.subprotocol != protocol.SUBPROTOCOL:
                self.opened.set_exception(HandshakeError("roost.v1 was not selected"))
                return
            self._flush(ws)
            if self._roost_v1:
                self.send_text(protocol.encode(protocol.Hello(session=secrets.token_hex(16))))
            else:
                self.opened.set_result(None)
            # Nothing is sent before the opening completes, so no frame is left half-read
            # in the sans-I/O parser here.
        elif ws.handshake_exc is not None and not self.opened.done():  # e.g. not 101
            self.opened.set_exception(HandshakeError(f"handshake: {ws.handshake_exc!r}"))
        else:
            self._flush(ws)

    def _flush_handshake(self) -> None:
        if self._ws is not None:
            self._flush(self._ws)

    def _flush(self, ws: ClientProtocol) -> None:
        if self.transport is None:
            return
        for data in ws.data_to_send():
            if data:
                self.transport.write(data)

    def hello_answered(self) -> bool:
        """For a ``roost.v1`` socket: True once, at the first frame after ``hello``."""
        if self._hello_pending:
            self._hello_pending = False
            if not self.opened.done():
                self.opened.set_result(None)
            return True
        return False


class Writer(Socket):
    """A member that also writes: ``window`` ahead of its own copies, at most ``rate``/s."""

    def __init__(self, url: str, room: int, recorder: Recorder, number: int, **kw: Any) -> None:
        super().__init__(url, room, recorder, **kw)
        self.number = number
        self.tag = b"%08d" % number
        self.sent = 0
        self.back = 0
        self.window = 1
        self.size = 64
        self.deadline = 0.0
        self.allowed = 0.0  # messages the rate allows so far (inf: no rate)
        self.drained: asyncio.Future[None] | None = None
        self.count = 0  # the most messages to send in a run (0: no limit)

    def start(self, size: int, window: int, deadline: float, unpaced: bool) -> None:
        """Write until ``deadline`` (or ``count`` messages)."""
        self.size, self.window, self.deadline = size, window, deadline
        self.sent = self.back = 0
        self.allowed = float("inf") if unpaced else 0.0
        self.drained = asyncio.get_running_loop().create_future()
        self.pump(time.monotonic())

    def pump(self, now: float) -> None:
        """Send what the window and the rate allow."""
        if now >= self.deadline or (self.count and self.sent >= self.count):
            self._check_drained()
            return
        limit = min(self.back + self.window, self.allowed, self.count or math.inf)
        while self.sent < limit:
            self.send_text(self.wrap(stamped(self.number, self.size, time.monotonic())))
            self.sent += 1
            self.recorder.sent[self.room] += 1

    def wrap(self, payload: bytes) -> bytes:
        """The message that carries ``payload`` (the payload itself here)."""
        return payload

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        super().message(data, start, end, now)
        if data[start + STAMP + 1 : start + STAMP + 9] == self.tag:
            self.own(now)

    def own(self, now: float) -> None:
        """One of this writer's messages came back."""
        self.back += 1
        if self.drained is not None:
            self.pump(now)

    def _check_drained(self) -> None:
        if self.back >= self.sent and self.drained is not None and not self.drained.done():
            self.drained.set_result(None)


class Caller(Socket):
    """A ``roost.v1`` socket making ``echo`` calls, one in flight, timing each round trip.

    The call is ``{"t":"call","id":N,"method":"echo","args":[V]}``; Roost answers
    ``{"t":"result","id":N,"result":V}``, the bare echo server sends the call back. Either
    must carry the id and the value sent, or the answer counts as ``wrong_answer``.
    """

    def __init__(self, url: str, room: int, recorder: Recorder, number: int, **kw: Any) -> None:
        super().__init__(url, room, recorder, roost_v1=True)
        self.deadline = 0.0
        self.drained: asyncio.Future[None] | None = None
        self._head = b'{"t":"call","id":'
        self._tail = b""
        self._value = b""
        self._next_id = 0
        self._token = b""
        self._sent_at = 0.0
        self._busy = False

    def start(self, size: int, window: int, deadline: float, unpaced: bool) -> None:
        """Call until ``deadline``."""
        value = b'"' + b"v" * size + b'"'
        self._value = value
        self._tail = b',"method":"echo","args":[' + value + b"]}"
        self.deadline = deadline
        self.drained = asyncio.get_running_loop().create_future()
        self._call()

    def pump(self, now: float) -> None:
        """Calls pace themselves on their answers: nothing to do on a tick."""

    def _call(self) -> None:
        self._next_id += 1
        number = b"%d" % self._next_id
        self._token = b'"id":' + number + b","
        self._sent_at = time.monotonic()
        self._busy = True
        self.send_text(self._head + number + self._tail)
        self.recorder.sent[self.room] += 1

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        if self.hello_answered() or not self._busy:
            return
        payload = data[start:end]
        if self._token not in payload or self._value not in payload:
            self.recorder.errors["wrong_answer"] += 1
        self._busy = False
        if now >= self.recorder.measure_from:
            self.recorder.latencies.append(now - self._sent_at)
        if now < self.deadline:
            self._call()
        elif self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def received(self, messages: int, now: float) -> None:
        if self.drained is not None:
            super().received(messages, now)


class Probe(Socket):
    """A socket that sends one stamped message at a time and awaits its echo."""

    def __init__(self, url: str, room: int, recorder: Recorder, number: int, **kw: Any) -> None:
        super().__init__(url, room, recorder, **kw)
        self.number = number
        self.answer: asyncio.Future[float] | None = None

    async def ask(self, size: int) -> float:
        """Send one message; the seconds until it came back."""
        self.answer = asyncio.get_running_loop().create_future()
        sent = time.monotonic()
        self.send_text(stamped(self.number, size, sent))
        return await self.answer - sent

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(now)


_BODY = b'"body":"'


class Subscriber(Socket):
    """A socket that receives the ``changes`` frames of a feed (or their broadcast copy).

    On a ``roost.v1`` socket, ``subscribe(frame)`` sends a ``sub`` and times it until
    ``subscribed``. Every change's row holds a stamped ``body``: its latency is recorded
    as for any stamped message.
    """

    def __init__(self, url: str, room: int, recorder: Recorder, number: int, **kw: Any) -> None:
        super().__init__(url, room, recorder, **kw)
        self.number = number
        self.sub_sent = 0.0
        self.subscribed: asyncio.Future[float] | None = None
        self.seq = 0
        self.changes = 0
        self.rows = 0

    def subscribe(self, frame: bytes) -> asyncio.Future[float]:
        """Send ``frame`` (a ``sub``); the future gets the time ``subscribed`` came."""
        subscribed = self.expect_subscribed()
        self.send_text(frame)
        return subscribed

    def expect_subscribed(self) -> asyncio.Future[float]:
        """Start timing a ``sub`` sent now; the future gets the time of ``subscribed``."""
        self.subscribed = asyncio.get_running_loop().create_future()
        self.changes = self.rows = 0
        self.sub_sent = time.monotonic()
        return self.subscribed

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        if self._hello_pending:
            self.hello_answered()
            return
        head = data[start : start + 16]
        if head.startswith(b'{"t":"changes"'):
            self.changes += data.count(b'"op":', start, end)
            at = data.find(_BODY, start, end)
            if at > 0:
                self.body(data, at + len(_BODY), now)
        elif head.startswith(b'{"t":"snapshot"'):
            self.rows += data.count(_BODY, start, end)
            self._seq(data, start, end)
        elif head.startswith(b'{"t":"subscribed'):
            self._seq(data, start, end)
            if self.subscribed is not None and not self.subscribed.done():
                self.subscribed.set_result(now)
        elif head.startswith(b'{"t":"error"') or head.startswith(b'{"t":"reset"'):
            self.recorder.errors["feed_" + head[6:11].decode("ascii", "replace")] += 1

    def body(self, data: bytes, at: int, now: float) -> None:
        """A change's row whose stamped body starts at ``data[at]``."""
        if now >= self.recorder.measure_from:
            with contextlib.suppress(ValueError):
                self.recorder.latencies.append(now - float(data[at : at + STAMP]))

    def _seq(self, data: bytes, start: int, end: int) -> None:
        at = data.find(b'"seq":', start, end)
        if at > 0:
            digits = data[at + 6 : at + 26].split(b",")[0].split(b"}")[0]
            self.seq = max(self.seq, int(digits))


class FeedWriter(Writer):
    """A writer whose messages become rows of a feed table, paced on its own changes."""

    def __init__(self, url: str, room: int, recorder: Recorder, number: int, **kw: Any) -> None:
        super().__init__(url, room, recorder, number, **kw)
        self._reader = Subscriber(url, room, recorder, number)  # reads, never connects
        self._reader.body = self._body  # type: ignore[method-assign]
        self._roost_v1_writer = bool(kw.get("roost_v1"))

    def wrap(self, payload: bytes) -> bytes:
        """``roost.v1``: a ``msg`` frame around the payload; plain: the payload."""
        if self._roost_v1_writer:
            return b'{"t":"msg","data":"' + payload + b'"}'
        return payload

    def subscribe(self, frame: bytes) -> asyncio.Future[float]:
        """Subscribe this writer too, to see its own changes come back."""
        subscribed = self._reader.expect_subscribed()
        self.send_text(frame)
        return subscribed

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        if self._hello_pending:
            self.hello_answered()
            return
        self._reader.recorder = self.recorder
        self._reader.message(data, start, end, now)

    def _body(self, data: bytes, at: int, now: float) -> None:
        Subscriber.body(self._reader, data, at, now)
        if data[at + STAMP + 1 : at + STAMP + 9] == self.tag:
            self.own(now)


def roles() -> dict[str, Callable[..., Socket]]:
    """The socket class of each role an item may name."""
    # The sequenced sockets live with their module (they subclass these).
    from loadtest.sequenced import SequencedMember, SequencedWriter

    return {
        "member": lambda url, room, recorder, number, **kw: Socket(url, room, recorder, **kw),
        "writer": Writer,
        "caller": Caller,
        "probe": Probe,
        "subscriber": Subscriber,
        "feed_writer": FeedWriter,
        "seq_member": SequencedMember,
        "seq_writer": SequencedWriter,
    }


#: Linux's ``IP_BIND_ADDRESS_NO_PORT`` (``socket`` names it from Python 3.12 on).
IP_BIND_ADDRESS_NO_PORT = getattr(_socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def bound_socket(source: str) -> _socket.socket:
    """A non-blocking TCP socket bound to ``source`` whose port the kernel picks only at
    ``connect`` (``IP_BIND_ADDRESS_NO_PORT``), unique for that destination. A plain
    ``bind((source, 0))`` must pick a port free for every destination, from ports that
    fill up as sockets open: past the ephemeral range's size (28,232 here) every port is
    held by some socket, and each bind searched them (a few hundred connects a second
    near 100,000 sockets)."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        with contextlib.suppress(OSError):  # not Linux: the port is picked by bind
            sock.setsockopt(_socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_socket(
    host: str, port: int, factory: Callable[[], Socket], source: str | None
) -> Socket:
    """Connect one socket (from ``source`` when given) and complete its opening handshake."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        if source:
            sock = bound_socket(source)
            try:
                await loop.sock_connect(sock, (host, port))
                transport, socket = await loop.create_connection(factory, sock=sock)
            except BaseException:
                sock.close()
                raise
        else:
            transport, socket = await loop.create_connection(factory, host, port)
        try:
            await socket.opened
        except BaseException:
            transport.close()
            raise
    return socket


class _ClientProcess:
    """The sockets of one client process, by group, and the commands that drive them."""

    def __init__(self, commands: Commands, progress: Any) -> None:
        self.commands = commands
        self.progress = progress
        self.groups: dict[str, list[Socket]] = {}
        self.recorder = Recorder()
        self.opened = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        """Answer commands until ``("stop",)``; then drop every socket."""
        self.commands.reply("ready", os.getpid())
        publisher = asyncio.create_task(self._publish())
        try:
            while (command := await self.commands.get())[0] != "stop":
                handler = getattr(self, f"do_{command[0]}", None)
                if handler is None:
                    self.commands.reply("error", f"unknown command {command[0]!r}")
                else:
                    await handler(*command[1:])
        finally:
            publisher.cancel()
            for group in self.groups.values():
                for socket in group:
                    socket.close()

    async def _publish(self) -> None:
        """Copy the running totals into the shared progress array (rule 4)."""
        while True:
            recorder = self.recorder
            values = (
                self.opened,
                recorder.delivered,
                sum(recorder.sent.values()),
                sum(recorder.errors.values()),
            )
            for index, value in enumerate(values):
                self.progress[index] = value
            await asyncio.sleep(0.2)

    async def do_connect(
        self,
        group: str,
        host: str,
        port: int,
        items: Sequence[tuple[str, str, int]],
        options: dict[str, Any],
    ) -> None:
        """Open one socket for each ``(path, role, room)`` of ``items``."""
        recorder = self.recorder
        roost_v1 = bool(options.get("roost_v1"))
        ramp = float(options.get("ramp") or 0.0)
        sources: Sequence[str] = options.get("sources") or ()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        times = array("d")
        errors: Counter[str] = Counter()
        sockets = self.groups.setdefault(group, [])
        started = time.monotonic()
        base = int(options.get("first_number", 0))
        give_up = int(options.get("give_up") or 0)
        skipped: list[int] = []
        kinds = roles()

        async def one(index: int, path: str, role: str, room: int) -> None:
            if ramp:
                delay = started + index / ramp - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            url = f"ws://{host}:{port}{path}"
            make = kinds[role]

            def factory() -> Socket:
                return make(url, room, recorder, base + index, roost_v1=roost_v1)

            source = sources[index % len(sources)] if sources else None
            async with gate:
                if give_up and sum(errors.values()) >= give_up:
                    skipped.append(index)  # rule 4: counted, never raised
                    return
                begun = time.monotonic()
                try:
                    socket = await open_socket(host, port, factory, source)
                except (OSError, TimeoutError) as exc:
                    errors[error_kind(exc)] += 1
                    return
            times.append(time.monotonic() - begun)
            sockets.append(socket)
            self.opened += 1

        await asyncio.gather(*(one(i, *item) for i, item in enumerate(items)))
        seconds = time.monotonic() - started
        recorder.errors.update(errors)
        if skipped:
            errors["not_attempted"] = len(skipped)
        wire = Histogram.of(times).to_wire()
        self.commands.reply("connect", len(times), dict(errors), wire, seconds)

    async def do_run(self, group: str, options: dict[str, Any]) -> None:
        """Write for ``seconds``, drain, and report what every socket saw."""
        seconds = float(options["seconds"])
        start = float(options.get("start") or time.monotonic())
        measure_from = start + float(options.get("warmup", 0.0))
        deadline = start + seconds
        ticks = int((seconds + DRAIN_LIMIT + 2.0) / TICK) + 1
        recorder = Recorder(start, measure_from, ticks)
        self.recorder = recorder
        sockets = self.groups.get(group, [])
        for socket in sockets:
            socket.recorder = recorder
        writers = [s for s in sockets if isinstance(s, Writer | Caller)]
        delay = start - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        rate = float(options.get("rate") or 0.0)
        unpaced = rate <= 0
        size, window = int(options["size"]), int(options["window"])
        count = int(options.get("count") or 0)
        for writer in writers:
            if isinstance(writer, Writer):
                writer.count = count
            writer.start(size, window, deadline, unpaced)
        if not unpaced:
            await self._paced(writers, rate, deadline)
        await self._drain(writers, deadline, counted=count > 0)
        outcome = recorder.outcome()
        tallies = [t for socket in sockets if (t := socket.tally()) is not None]
        if tallies:
            outcome["tallies"] = tallies
        self.commands.reply("done", outcome)

    async def _paced(self, writers: Sequence[Socket], rate: float, deadline: float) -> None:
        """Raise every writer's allowance ``rate`` a second until ``deadline``."""
        begun = time.monotonic()
        while (now := time.monotonic()) < deadline:
            allowed = (now - begun) * rate + 1
            for writer in writers:
                if isinstance(writer, Writer):
                    writer.allowed = allowed
                    writer.pump(now)
            await asyncio.sleep(0.005)

    async def _drain(
        self, writers: Sequence[Writer | Caller | Socket], deadline: float, *, counted: bool
    ) -> None:
        """Wait for the writers' last messages to come back, then for quiet (a counted
        run ends when its writers sent their count, however early)."""
        delay = deadline - time.monotonic()
        if delay > 0 and not counted:
            await asyncio.sleep(delay)
        for writer in writers:
            if isinstance(writer, Writer):
                writer.pump(time.monotonic())
        pending = [w.drained for w in writers if isinstance(w, Writer | Caller) and w.drained]
        allowed = max(0.0, deadline - time.monotonic()) if counted else 0.0
        limit = time.monotonic() + DRAIN_LIMIT + allowed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_LIMIT + allowed):
                await asyncio.gather(*pending)
        if not all(p.done() for p in pending):
            self.recorder.errors["not_drained"] += sum(not p.done() for p in pending)
        seen = -1
        while seen != self.recorder.delivered and time.monotonic() < limit:
            seen = self.recorder.delivered
            await asyncio.sleep(QUIET)

    async def do_close(self, group: str) -> None:
        """Close the sockets of ``group``; answer once their connections are gone."""
        sockets = self.groups.pop(group, [])
        for socket in sockets:
            socket.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*(socket.lost for socket in sockets))
        self.opened -= len(sockets)
        self.commands.reply("close", sum(socket.lost.done() for socket in sockets))

    async def do_subscribe(self, group: str, frame: bytes, seconds: float) -> None:
        """Send ``frame`` (a ``sub``) on every subscriber of ``group`` at once; answer
        when each got ``subscribed``, with the times and what they received."""
        subs = [s for s in self.groups.get(group, []) if isinstance(s, Subscriber)]
        writers = [s for s in self.groups.get(group, []) if isinstance(s, FeedWriter)]
        first = time.monotonic()
        waits = [s.subscribe(frame) for s in subs]
        try:
            async with asyncio.timeout(seconds):
                await asyncio.gather(*(w.subscribe(frame) for w in writers))
                done = await asyncio.gather(*waits)
        except TimeoutError:
            self.commands.reply("error", f"{group}: not every subscription answered")
            return
        times = Histogram.of(t - s.sub_sent for t, s in zip(done, subs, strict=True))
        await asyncio.sleep(QUIET)  # live changes still on their way are counted too
        self.commands.reply(
            "subscribed",
            times.to_wire(),
            first,
            max(done, default=first),
            sum(s.changes for s in subs),
            sum(s.rows for s in subs),
            max((s.seq for s in subs), default=0),
            dict(self.recorder.errors),
        )

    async def do_wake(self, group: str, options: dict[str, Any]) -> None:
        """The wake scenario's samples (``loadtest.wake.probe``)."""
        from loadtest.wake import probe

        probes = {s.room: s for s in self.groups.get(group, []) if isinstance(s, Probe)}
        sockets = [probes[k] for k in sorted(probes)]
        self.commands.reply("done", await probe(sockets, options))


def client_main(conn: Connection, progress: Any) -> None:
    """Child process entry: hold sockets until told to stop."""
    raise_fd_limit()
    run_loop(lambda: _client(conn, progress))


async def _client(conn: Connection, progress: Any) -> None:
    commands = Commands(conn)
    try:
        await _ClientProcess(commands, progress).serve()
    finally:
        commands.close()
