"""The client socket roles a scenario may name: members that also write, call, probe or
subscribe (``roles()``), built on ``loadtest.sockets.Socket``.

Rules:

1. A writer sends message ``k + window`` only once its own copy of message ``k`` came
   back (at most ``window`` in flight), and at most ``rate`` messages a second when a
   rate is set (its ``allowed`` is raised by the client process).
2. A caller keeps one ``roost.v1`` call in flight and times each round trip; an answer
   without the id and value sent counts as ``wrong_answer``.
3. A role is named in a connect item as a string; ``roles()`` maps every name to its
   class (the sequenced roles of ``reload`` live in ``loadtest.sequenced``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

from loadtest.frames import STAMP, stamped
from loadtest.sockets import Recorder, Socket

__all__ = ["Caller", "FeedWriter", "Probe", "Subscriber", "Writer", "roles"]


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
