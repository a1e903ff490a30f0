"""Broadcasts of one loop turn, written once per recipient (``ctx.broadcast`` fan-out).

An object that broadcasts several messages in one turn of the event loop (its queue
held several events) used to queue each frame on each recipient, one pass over every
recipient per message. At 10,000 receivers a pass no longer fits the CPU caches, so the
cost per delivery grew with the room. Here a turn's broadcasts of one object are kept
as one ``Batch``: the recipients are chosen once, at its first broadcast; a later
broadcast only appends its frame; at the end of the turn the frames are joined once and
the same bytes are written to every recipient (one pass, one ``write`` each).

Rules:

1. Order is kept per socket. A recipient writing anything else before the end of the
   turn (``ws.send``, a feed frame, a Close) first takes the frames it is owed
   (``Batch.take``: the connection's ``flush_pending`` and ``queue_frame`` call it), so
   they go out first, and gets only the later ones at the flush.
2. A batch has one tag (``None``: every OPEN socket); each frame keeps its own
   ``exclude``. A broadcast with another tag, a socket of the object completing its
   upgrade, or a tag change while the batch filters on a tag, flushes the batch at once
   (``flush_object``): a batch's recipients never change.
3. What a recipient gets is decided as ``Connection.write_frame`` decides it: sockets
   with an extension (compression) frame each message themselves and are left out; a
   recipient no longer open at the flush gets nothing more (it took its frames when it
   wrote its Close, rule 1).
4. The send-buffer bound is unchanged: a recipient whose unsent bytes plus the turn's
   frames pass ``Limits.outbox_bytes`` is closed as a slow consumer
   (``Connection.write_shared``). The frames are shared, so a batch holds each message
   once, however many recipients.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.net.connection import Connection

__all__ = ["Batch", "Fanout"]


class Batch:
    """The broadcasts of one object in this loop turn, to fixed recipients (rule 2)."""

    __slots__ = (
        "excluded",
        "excludes",
        "extended",
        "frames",
        "ids",
        "plain",
        "tag",
        "taken",
        "v1",
        "v1_frames",
    )

    def __init__(
        self,
        tag: str | None,
        plain: list[Connection],
        v1: list[Connection],
        extended: list[Connection],
        ids: set[int],
    ) -> None:
        self.tag = tag
        #: Recipients of ``frames`` (plain sockets) and of ``v1_frames`` (``roost.v1``).
        self.plain = plain
        self.v1 = v1
        #: Recipients that frame each message themselves (rule 3), written per broadcast.
        self.extended = extended
        #: The recipients' socket ids.
        self.ids = ids
        self.frames: list[bytes] = []
        self.v1_frames: list[bytes] = []
        #: Each frame's excluded socket ids (empty: none), and their union.
        self.excludes: list[Collection[int]] = []
        self.excluded: set[int] = set()
        #: How many frames a recipient already took (rule 1).
        self.taken: dict[Connection, int] = {}

    def add(self, frame: bytes, v1_frame: bytes, exclude: Collection[int]) -> int:
        """Append one broadcast; how many recipients it reaches."""
        self.frames.append(frame)
        self.v1_frames.append(v1_frame)
        self.excludes.append(exclude)
        reached = len(self.ids)
        if exclude:
            self.excluded.update(exclude)
            reached -= sum(1 for socket_id in exclude if socket_id in self.ids)
        return reached

    def owed(self, conn: Connection) -> list[bytes]:
        """The frames ``conn`` has not taken yet, in order, without those excluding it."""
        frames = self.v1_frames if conn.v1 else self.frames
        start = self.taken.get(conn, 0) if self.taken else 0
        socket_id = conn.socket_id
        if socket_id not in self.excluded:
            return frames[start:] if start else frames
        excludes = self.excludes
        return [frames[i] for i in range(start, len(frames)) if socket_id not in excludes[i]]

    def take(self, conn: Connection) -> list[bytes]:
        """The frames ``conn`` is owed now; it gets only later ones at the flush."""
        owed = self.owed(conn)
        self.taken[conn] = len(self.frames)
        return owed

    def flush(self) -> None:
        """Write every recipient the frames it is owed: the same bytes to most."""
        shared: dict[bool, bytes] = {}
        for is_v1, conns, frames in (
            (False, self.plain, self.frames),
            (True, self.v1, self.v1_frames),
        ):
            if conns:
                shared[is_v1] = frames[0] if len(frames) == 1 else b"".join(frames)
        excluded, taken = self.excluded, self.taken
        # Most recipients took nothing early and are excluded from nothing: the shared
        # bytes; the others get their own join (rule 1).
        for conns in (self.plain, self.v1):
            for conn in conns:
                conn.batch = None
                if (taken and conn in taken) or (excluded and conn.socket_id in excluded):
                    data = b"".join(self.owed(conn))
                else:
                    data = shared[conn.v1]
                if data:
                    conn.write_shared(data)


class Fanout:
    """The open batches of the front, by object key, flushed at the end of the turn."""

    __slots__ = ("_batches", "_schedule")

    def __init__(self, schedule: Callable[[], None]) -> None:
        #: Asks the front to call ``flush`` at the end of this loop turn.
        self._schedule = schedule
        self._batches: dict[str, Batch] = {}

    def batch(self, object_key: str, tag: str | None) -> Batch | None:
        """The object's open batch for ``tag``, after flushing one for another tag."""
        batch = self._batches.get(object_key)
        if batch is not None and batch.tag != tag:
            self.flush_object(object_key)
            return None
        return batch

    def open(self, object_key: str, batch: Batch) -> None:
        """Make ``batch`` the object's open batch; its recipients learn it (rule 1)."""
        if not (batch.plain or batch.v1):
            return  # nothing to share: each broadcast selects its recipients again
        for conns in (batch.plain, batch.v1):
            for conn in conns:
                conn.batch = batch
        if not self._batches:
            self._schedule()
        self._batches[object_key] = batch

    def flush_object(self, object_key: str, *, tagged_only: bool = False) -> None:
        """Write the object's open batch now (rule 2); with ``tagged_only``, only if it
        filters on a tag."""
        batch = self._batches.get(object_key)
        if batch is not None and not (tagged_only and batch.tag is None):
            del self._batches[object_key]
            batch.flush()

    def flush(self) -> None:
        """Write every open batch (the end of the loop turn)."""
        batches, self._batches = self._batches, {}
        for batch in batches.values():
            batch.flush()
