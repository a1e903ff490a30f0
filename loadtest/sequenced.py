"""Sockets that number their messages, and the count of what was lost or repeated.

Used by ``reload``: writers speak ``roost.v1`` and send exactly-once messages
(``{"t":"msg","data":P,"id":N}``, protocol/SPEC.md §4.2, §5); every socket of the room,
the writer included, gets each message's broadcast copy and notes it by (writer, N).

Rules:

1. A payload is a stamped payload (``frames.stamped``: send time, writer number) with
   the message's id as 8 digits at ``SEQ_AT``; ids start at 1 on each writer's session
   and go up by one (SPEC §4.2), so an id is also the message's sequence number.
2. Every socket keeps, per writer, how many times it saw each id; a second copy is a
   duplicate. A writer also keeps the ids the hub acknowledged (``ack``); a second
   ``ack`` of one id is a duplicate too.
3. Each receipt records its latency and, in ``Recorder.samples``, its send time, so the
   parent can tell the messages sent during a reload from the others. Counts run from
   the socket's opening, not per run (``reload`` measures one run).
4. ``tally`` (pure) adds up the sockets' reports: an acknowledged message that a socket
   of its room never saw is lost; a message sent that was never acknowledged is
   unacknowledged (the hub promises nothing of it unless it is resent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.frames import STAMP
from loadtest.roles import Writer
from loadtest.sockets import Recorder, Socket

__all__ = [
    "SEQ_AT",
    "SequencedMember",
    "SequencedWriter",
    "Tally",
    "ranges",
    "read_payload",
    "sequenced",
    "tally",
]

#: Where the id starts in a payload (after ``STAMP`` bytes, a space, the writer's number
#: as 8 digits and a space).
SEQ_AT = STAMP + 10
_MSG = b'{"t":"msg","data":"'
_ACK = b'{"t":"ack","id":'
_ERROR = b'{"t":"error"'


def sequenced(payload: bytes, seq: int) -> bytes:
    """``payload`` (a stamped payload of at least ``SEQ_AT + 8`` bytes) carrying ``seq``."""
    return payload[:SEQ_AT] + b"%08d" % seq + payload[SEQ_AT + 8 :]


def read_payload(data: bytes, at: int) -> tuple[float, int, int]:
    """(send time, writer number, id) of the payload at ``data[at:]``; ``ValueError`` if
    it is not one."""
    return (
        float(data[at : at + STAMP]),
        int(data[at + STAMP + 1 : at + STAMP + 9]),
        int(data[at + SEQ_AT : at + SEQ_AT + 8]),
    )


def ranges(counts: Sequence[int]) -> list[tuple[int, int]]:
    """The ``[start, stop)`` runs of indices whose count is not zero."""
    runs: list[tuple[int, int]] = []
    start = -1
    for index, count in enumerate(counts):
        if count and start < 0:
            start = index
        elif not count and start >= 0:
            runs.append((start, index))
            start = -1
    if start >= 0:
        runs.append((start, len(counts)))
    return runs


def _note(counts: bytearray, seq: int) -> bool:
    """Count one more copy of ``seq``; True if it was seen before (rule 2)."""
    if seq >= len(counts):
        counts.extend(bytes(seq + 64 - len(counts)))
    seen = counts[seq]
    counts[seq] = min(255, seen + 1)
    return seen > 0


class _Seen:
    """What one socket saw, by writer (rule 2)."""

    def __init__(self) -> None:
        self.by_writer: dict[int, bytearray] = {}
        self.duplicates = 0

    def receipt(self, recorder: Recorder, data: bytes, at: int, now: float) -> None:
        """One broadcast copy whose payload starts at ``data[at]`` (rule 3)."""
        try:
            sent, writer, seq = read_payload(data, at)
        except ValueError:
            recorder.errors["unreadable_message"] += 1
            return
        counts = self.by_writer.setdefault(writer, bytearray())
        if _note(counts, seq):
            self.duplicates += 1
        if now >= recorder.measure_from:
            recorder.latencies.append(now - sent)
            recorder.samples.append(sent)
            recorder.samples.append(now - sent)

    def report(self) -> dict[str, Any]:
        """The plain form: seen ids as runs by writer, and duplicates."""
        return {
            "seen": {w: ranges(c) for w, c in self.by_writer.items()},
            "duplicates": self.duplicates,
        }


class SequencedMember(Socket):
    """A plain socket of a room that notes every broadcast copy by (writer, id)."""

    def __init__(self, url: str, room: int, recorder: Recorder, number: int, **kw: Any) -> None:
        super().__init__(url, room, recorder, **kw)
        self.number = number
        self.seen = _Seen()

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        self.seen.receipt(self.recorder, data, start, now)

    def tally(self) -> dict[str, Any] | None:
        return {"room": self.room, "number": self.number, **self.seen.report()}


class SequencedWriter(Writer):
    """A ``roost.v1`` writer of exactly-once messages, paced on their acknowledgements
    (at most ``window`` unacknowledged) and on ``rate``; it notes its room's broadcast
    copies, its own included, as a member does."""

    def __init__(self, url: str, room: int, recorder: Recorder, number: int, **kw: Any) -> None:
        super().__init__(url, room, recorder, number, **{**kw, "roost_v1": True})
        self.seen = _Seen()
        self.next_id = 0
        self.acked = bytearray()
        self.duplicate_acks = 0

    def wrap(self, payload: bytes) -> bytes:
        """The ``msg`` frame with the next id (rule 1)."""
        self.next_id += 1
        body = sequenced(payload, self.next_id)
        return _MSG + body + b'","id":' + b"%d" % self.next_id + b"}"

    def message(self, data: bytes, start: int, end: int, now: float) -> None:
        if self.hello_answered():
            return
        head = data[start : start + 16]
        if head == _ACK:
            try:
                seq = int(data[start + len(_ACK) : end - 1])
            except ValueError:
                self.recorder.errors["unreadable_ack"] += 1
                return
            if seq > self.next_id:
                self.recorder.errors["ack_of_unsent_id"] += 1
            elif _note(self.acked, seq):
                self.duplicate_acks += 1
            else:
                self.own(now)  # one fewer in flight
        elif data.startswith(_MSG, start):
            self.seen.receipt(self.recorder, data, start + len(_MSG), now)
        elif data.startswith(_ERROR, start):
            code = data[start:end].split(b'"code":"', 1)[-1].split(b'"', 1)[0]
            self.recorder.errors["v1_error_" + code.decode("ascii", "replace")[:40]] += 1

    def tally(self) -> dict[str, Any] | None:
        return {
            "room": self.room,
            "number": self.number,
            **self.seen.report(),
            "writer": {
                "sent": self.next_id,
                "acked": ranges(self.acked),
                "duplicate_acks": self.duplicate_acks,
            },
        }


@dataclass(frozen=True, slots=True)
class Tally:
    """What the sockets of a run add up to (rule 4)."""

    sockets: int
    sent: int
    acknowledged: int
    unacknowledged: int
    #: Copies of acknowledged messages that a socket of their room never got.
    lost: int
    #: Copies received twice or more, plus second acknowledgements.
    duplicated: int
    #: Copies received, one per (socket, writer, id).
    delivered: int


def _ids(runs: Iterable[Sequence[int]]) -> set[int]:
    return {i for start, stop in runs for i in range(start, stop)}


def tally(reports: Iterable[dict[str, Any]]) -> Tally:
    """Add up the sockets' ``tally()`` reports (rule 4)."""
    reports = list(reports)
    acked: dict[int, set[int]] = {}
    room_of: dict[int, int] = {}
    sent = duplicated = 0
    for report in reports:
        duplicated += int(report["duplicates"])
        writer = report.get("writer")
        if writer is not None:
            acked[report["number"]] = _ids(writer["acked"])
            room_of[report["number"]] = report["room"]
            sent += int(writer["sent"])
            duplicated += int(writer["duplicate_acks"])
    lost = delivered = 0
    for report in reports:
        seen = {int(w): _ids(runs) for w, runs in report["seen"].items()}
        delivered += sum(len(ids) for ids in seen.values())
        for number, ids in acked.items():
            if room_of[number] == report["room"]:
                lost += len(ids - seen.get(number, set()))
    acknowledged = sum(len(ids) for ids in acked.values())
    return Tally(
        sockets=len(reports),
        sent=sent,
        acknowledged=acknowledged,
        unacknowledged=sent - acknowledged,
        lost=lost,
        duplicated=duplicated,
        delivered=delivered,
    )
