"""The outbox: every frame the user gave a connection, until it no longer needs sending.

Pure: no I/O, no event loop. The connection's writer takes entries in order and writes
them to the current socket; the reader settles messages the hub acknowledged.

Rules:

1. Entries leave in the order they were added (issue order), so the hub sees a user's
   sends and calls in the order they were made.
2. An exactly-once message (SPEC §4.2) gets the next id of the session, 1 for the first,
   and stays until ``settle(id)`` (its ``ack`` or ``error``), written or not (SPEC §5.1).
3. Any other entry (an at-most-once message, a binary frame, a call) leaves when it is
   taken for writing: if the socket drops after that, it is not sent again.
4. ``rewind()`` (a new socket) makes every exactly-once message unwritten again; then
   they go out again in id order, among the not-yet-written entries, before new ones.
5. At most ``max_buffered`` entries wait at a time; ``add`` past that raises
   ``BufferFull`` and changes nothing. Control frames of subscriptions and presence
   (``bounded=False``) are not counted against it: there are at most a few per
   subscription, and the SDK sends them by itself (after a reconnect, a reset).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from roost_client.errors import BufferFull

__all__ = ["Entry", "Outbox"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One frame to write: ``payload`` is text (a JSON frame) or bytes (a binary frame).

    ``id`` is the message id of an exactly-once message; ``call_id`` the id of a call.
    """

    payload: str | bytes
    id: int | None = None
    call_id: int | None = None


class Outbox:
    """The frames of one connection (across its sockets) not yet done with."""

    def __init__(self, max_buffered: int) -> None:
        if max_buffered < 1:
            raise ValueError(f"max_buffered must be at least 1, got {max_buffered!r}")
        self.max_buffered = max_buffered
        self._next_id = 1
        self._seq = 0
        #: Every waiting entry by insertion number, in issue order.
        self._entries: dict[int, Entry] = {}
        #: Insertion numbers not yet written on the current socket, in order.
        self._unwritten: deque[int] = deque()
        #: Exactly-once message id -> insertion number.
        self._by_id: dict[int, int] = {}

    @property
    def next_id(self) -> int:
        """The id the next exactly-once message will get."""
        return self._next_id

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def unacknowledged(self) -> int:
        """How many exactly-once messages wait for their ``ack`` / ``error``."""
        return len(self._by_id)

    def add(
        self, payload: str | bytes, *, call_id: int | None = None, bounded: bool = True
    ) -> Entry:
        """Queue an at-most-once frame (a message without id, binary data, a call, a
        subscription's frame); ``bounded=False`` skips the room check (rule 5)."""
        if bounded:
            self._check_room()
        return self._add(Entry(payload, call_id=call_id))

    def add_message(self, build: Callable[[int], str | bytes]) -> Entry:
        """Queue an exactly-once message; ``build(id)`` gives its payload.

        If ``build`` raises (data that cannot be encoded), the id is not used.
        """
        self._check_room()
        message_id = self._next_id
        entry = Entry(build(message_id), id=message_id)
        self._add(entry)
        self._next_id += 1
        return entry

    def take(self) -> Entry | None:
        """The next entry to write on the current socket, or None (rules 3 and 4)."""
        while self._unwritten:
            seq = self._unwritten.popleft()
            entry = self._entries.get(seq)
            if entry is None:
                continue  # settled or discarded before it was written
            if entry.id is None:
                del self._entries[seq]
            return entry
        return None

    def settle(self, message_id: int) -> Entry | None:
        """Message ``message_id`` was acknowledged or failed: drop it (None if unknown)."""
        seq = self._by_id.pop(message_id, None)
        if seq is None:
            return None
        return self._entries.pop(seq)

    def discard_call(self, call_id: int) -> bool:
        """Drop the not-yet-written call ``call_id`` (it timed out); True if it waited."""
        for seq, entry in self._entries.items():
            if entry.call_id == call_id:
                del self._entries[seq]
                return True
        return False

    def discard(self, entry: Entry) -> bool:
        """Drop ``entry`` if it was not written yet (not for exactly-once messages);
        True if it still waited."""
        for seq, waiting in self._entries.items():
            if waiting is entry and entry.id is None:
                del self._entries[seq]
                return True
        return False

    def rewind(self) -> None:
        """A new socket: everything still waiting is unwritten again, in order."""
        self._unwritten = deque(self._entries)

    def clear_unwritten(self) -> list[Entry]:
        """Drop every entry that is not an exactly-once message; return them in order."""
        dropped = [entry for entry in self._entries.values() if entry.id is None]
        self._entries = {seq: e for seq, e in self._entries.items() if e.id is not None}
        return dropped

    def messages(self) -> list[Entry]:
        """The exactly-once messages not yet acknowledged, in id order."""
        return [self._entries[seq] for seq in self._by_id.values()]

    def _check_room(self) -> None:
        if len(self._entries) >= self.max_buffered:
            raise BufferFull(
                f"outbox full: {len(self._entries)} frames wait, "
                f"expected at most {self.max_buffered}"
            )

    def _add(self, entry: Entry) -> Entry:
        self._seq += 1
        self._entries[self._seq] = entry
        self._unwritten.append(self._seq)
        if entry.id is not None:
            self._by_id[entry.id] = self._seq
        return entry
