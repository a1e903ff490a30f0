"""One client WebSocket, the same code for Roost and its baseline, and what it records.

Rules:

1. Each socket is a bare ``asyncio.Protocol``. The opening handshake is websockets'
   sans-I/O ``ClientProtocol`` (no extension offered: no permessage-deflate), offering
   ``roost.v1`` when the scenario speaks it (then ``hello`` is sent and the first answer,
   Roost's ``welcome`` or the bare server's echo of it, completes the opening).
2. Once open, frames are read from their headers here (server frames are unmasked,
   RFC 6455 §5.2) and written with ``loadtest.frames.masked_text``.
3. Latencies (from the stamp, ``loadtest.frames`` rule 2) go into the ``Recorder`` and
   receipts into counts per ``stats.TICK`` from the run's start; a socket that fails is
   counted by kind, never raised.

The roles that also write (writers, callers, probes, subscribers) are in
``loadtest.roles``; the process that holds the sockets is ``loadtest.client_process``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from array import array
from collections import Counter
from typing import Any, cast

from websockets.client import ClientProtocol
from websockets.protocol import OPEN
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

import protocol
from loadtest.frames import CLOSE, FIN_DATA, STAMP, masked_text
from loadtest.stats import TICK, Histogram

__all__ = ["HandshakeError", "Recorder", "Socket"]


class HandshakeError(ConnectionError):
    """The opening handshake failed (not 101, or ``roost.v1`` not selected)."""


class Recorder:
    """What the sockets of one process saw during one run (rule 3)."""

    __slots__ = (
        "delivered",
        "ends",
        "errors",
        "late",
        "latencies",
        "measure_from",
        "received",
        "samples",
        "sent",
        "series",
        "start",
    )

    def __init__(
        self,
        start: float = 0.0,
        measure_from: float = 0.0,
        ticks: int = 0,
        ends: float = float("inf"),
    ) -> None:
        self.start = start
        self.measure_from = measure_from
        #: When the run's writers stop: a receipt after it is late (waited for, counted).
        self.ends = ends
        self.late = 0
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
            "late": self.late,
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
            if length < 126 and len(data) == length + 2 and first in FIN_DATA:
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
            if first in FIN_DATA:
                self.message(data, start, end, now)
                messages += 1
            elif opcode == CLOSE:
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
        if now > recorder.ends:
            recorder.late += messages
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
