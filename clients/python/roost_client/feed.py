"""One subscription to a table's change feed, as a state machine over hub frames.

Pure: no I/O, no event loop. ``subscriptions.py`` runs a ``Feed`` over a connection's
sockets; tests feed it decoded frames (protocol/SPEC.md §9).

Rules:

1. ``subscribe(id)`` gives the ``sub`` frame for the current socket: a snapshot while
   one is owed (asked for, not yet complete, or owed after a ``reset``); else
   ``since=seq`` once a seq is known (SPEC §9.9); else the original request (live only,
   or ``since=N``). Every request has a fresh ``id``; frames for any other id are not
   this feed's (the caller routes by id).
2. While a snapshot is in flight, its rows (and any ``changes`` that come before
   ``subscribed``) are held. ``subscribed`` releases them: the rows as op ``snapshot``
   with the snapshot's seq, which becomes ``seq`` (a snapshot is a new base, so this
   is the one place ``seq`` may go down: after a ``reset`` of a wiped object), then the
   held changes above it.
3. Any change whose seq is not above ``seq`` is dropped, so no change reaches the app
   twice; ``seq`` follows every ``changes`` and ``subscribed`` frame (SPEC §9.9).
4. Losing the socket (or an ``error`` for the request) drops what was held: a snapshot
   cut off mid-way is asked for again, whole.
5. ``reset`` (SPEC §9.6) gives one ``reset`` change and owes a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import protocol
from roost_client import wire

__all__ = ["Change", "Feed", "FeedFrame", "Op"]

Op = Literal["snapshot", "insert", "update", "delete", "reset"]

#: The hub frames that belong to one subscription (by ``id``).
FeedFrame = protocol.Snapshot | protocol.Changes | protocol.Subscribed | protocol.Reset


@dataclass(frozen=True, slots=True)
class Change:
    """One change of a subscription, as the app applies it.

    Attributes:
        seq: the change's sequence number; for ``snapshot`` rows the seq of the newest
            change the snapshot includes; for ``reset`` the seq the subscription had
            reached (or the ``since`` it asked for, or 0).
        op: ``snapshot`` (a row of the current table), ``insert``, ``update``,
            ``delete`` (``row`` is the row as it was), or ``reset``: discard every row
            built from this subscription; a fresh snapshot follows.
        row: the row's columns (SPEC §9.2); None for ``reset``.
    """

    seq: int
    op: Op
    row: dict[str, Any] | None


class Feed:
    """The state of one subscription across sockets (rules 1-5).

    Args:
        table: the feed table.
        where: conditions in wire form (``where_conditions``).
        columns: the columns to deliver (with the primary key), or None for all.
        snapshot: start with the table's matching rows.
        since: start with the changes after this seq.
    """

    def __init__(
        self,
        table: str,
        *,
        where: list[Any] | None = None,
        columns: Sequence[str] | None = None,
        snapshot: bool = False,
        since: int | None = None,
    ) -> None:
        if not isinstance(table, str) or not table:
            raise ValueError(f"table must be a non-empty str, got {table!r}")
        if snapshot and since is not None:
            raise ValueError("give snapshot or since, not both (SPEC §9.3)")
        valid = isinstance(since, int) and not isinstance(since, bool)
        if since is not None and not (valid and 0 <= since <= protocol.MAX_ID):
            raise ValueError(f"since must be an int from 0 to 2**53 - 1, got {since!r}")
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
                raise ValueError(f"columns must be a list of column names, got {columns!r}")
            columns = list(columns)
        self.table = table
        self.where = where or []
        self.columns = columns
        self.snapshot = snapshot
        self.since = since
        #: The highest seq received (rule 3); None before any.
        self.seq: int | None = None
        #: The id of the request on the current socket; None when there is none.
        self.id: int | None = None
        #: The current request has seen its ``subscribed``.
        self.live = False
        self._owe_snapshot = snapshot
        self._asked_snapshot = False
        self._snapshot_seq: int | None = None
        self._rows: list[dict[str, Any]] = []
        self._held: list[protocol.ChangeItem] = []

    def frame(self, id: int) -> str:
        """The ``sub`` frame a request with ``id`` would send now (rule 1)."""
        if self._owe_snapshot:
            return wire.sub(id, self.table, where=self.where, columns=self.columns, snapshot=True)
        since = self.seq if self.seq is not None else self.since
        return wire.sub(id, self.table, where=self.where, columns=self.columns, since=since)

    def subscribe(self, id: int) -> str:
        """Start a request with ``id`` on the current socket; its ``sub`` frame."""
        text = self.frame(id)
        self._drop()
        self.id = id
        self._asked_snapshot = self._owe_snapshot
        return text

    def receive(self, frame: FeedFrame) -> list[Change]:
        """The changes ``frame`` releases for the app, in order (rules 2, 3 and 5)."""
        if frame.id != self.id:
            return []
        if isinstance(frame, protocol.Snapshot):
            if self._asked_snapshot and not self.live:
                self._snapshot_seq = frame.seq
                self._rows.extend(frame.rows)
            return []
        if isinstance(frame, protocol.Changes):
            if self._asked_snapshot and not self.live:
                self._held.extend(frame.changes)
                return []
            return self._fresh(frame.changes)
        if isinstance(frame, protocol.Subscribed):
            return self._subscribed(frame.seq)
        return self._reset()

    def lost(self) -> None:
        """The request ended without a ``reset``: its socket closed, or the hub refused
        it (rule 4). The next ``subscribe`` asks again."""
        self._drop()
        self.id = None

    def _subscribed(self, seq: int) -> list[Change]:
        out: list[Change] = []
        if self._asked_snapshot and not self.live:
            base = self._snapshot_seq if self._snapshot_seq is not None else seq
            out = [Change(base, "snapshot", row) for row in self._rows]
            self.seq = base  # a new base (rule 2)
            self._owe_snapshot = False
            out.extend(self._fresh(self._held))
        self.seq = seq if self.seq is None else max(self.seq, seq)
        self._drop()
        self.live = True
        return out

    def _reset(self) -> list[Change]:
        seq = self.seq if self.seq is not None else (self.since or 0)
        self._owe_snapshot = True
        self.lost()
        return [Change(seq, "reset", None)]

    def _fresh(self, changes: Sequence[protocol.ChangeItem]) -> list[Change]:
        out = []
        for item in changes:
            if self.seq is not None and item.seq <= self.seq:
                continue  # already delivered (rule 3)
            self.seq = item.seq
            out.append(Change(item.seq, item.op, item.row))
        return out

    def _drop(self) -> None:
        self.live = False
        self._snapshot_seq = None
        self._rows = []
        self._held = []
