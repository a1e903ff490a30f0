"""Feed subscriptions in the front: who follows which table, and the frames they get.

Subscriptions live here, with the sockets, and not in the object: a parked subscriber
keeps its subscription while the object is evicted, and the object wakes only for
events (a write, or a new ``sub`` whose snapshot it must read). protocol/SPEC.md §9.

Rules:

1. One owner: every subscription is added, found and removed through ``Subscriptions``;
   a socket's subscriptions end with it (``drop_socket``).
2. A ``sub`` is *pending* from the frame until its object answers (``open``), and counts
   against the socket's limit from the start. An ``unsub`` of a pending subscription
   makes its answer be dropped.
3. Subscribers with the same table, ``where`` and ``columns`` form one group: each
   committed change is filtered, projected and encoded once per group, and each frame
   once per subscription id, whatever the number of subscribers.
4. The filter has one meaning everywhere (``protocol.where``); an update is delivered
   as the subscriber sees it: update, insert (entered its filter), delete (left it).
5. ``subscribed`` goes after the snapshot or replay and before any live change; a live
   change at or below a subscription's start seq is never sent to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.frames import Frame, Opcode

import protocol
from hub.errors import TooManySubscriptionsError
from hub.runtime.ports import FeedOpened
from hub.storage.feeds import Change
from protocol.where import Predicate, compile_where

__all__ = ["Subscriptions"]

#: Rows or changes per ``snapshot``/``changes`` frame are cut at about this many bytes, so
#: no frame outgrows a client's default message limit (1 MiB).
FRAME_BUDGET = 256 * 1024

Row = dict[str, Any]
#: (socket ids, payload, the payload framed for the wire) -> how many got it
Write = Callable[[Iterable[int], bytes, bytes], int]


@dataclass(slots=True)
class _Group:
    """Subscribers of one table with the same filter and columns."""

    table: str
    predicate: Predicate | None
    projection: tuple[str, ...] | None
    #: sub id -> socket id -> the seq it started after (most sockets share a sub id).
    members: dict[int, dict[int, int]] = field(default_factory=dict)
    #: The highest seq any member started after.
    newest_start: int = 0

    def add(self, socket_id: int, sub_id: int, start: int) -> None:
        self.members.setdefault(sub_id, {})[socket_id] = start
        self.newest_start = max(self.newest_start, start)

    def discard(self, socket_id: int, sub_id: int) -> None:
        sockets = self.members.get(sub_id)
        if sockets is not None:
            sockets.pop(socket_id, None)
            if not sockets:
                del self.members[sub_id]

    def shape(self, row: Row) -> Row:
        if self.projection is None:
            return row
        return {column: row[column] for column in self.projection if column in row}

    def items(self, changes: Iterable[Change]) -> list[tuple[int, bytes]]:
        """``(seq, encoded change)`` of what this group's subscribers see (Rule 4)."""
        out = []
        matches = self.predicate
        for change in changes:
            op, row = change.op, change.row
            if matches is not None:
                if op == "update":
                    now = matches(row)
                    before = matches(change.old) if change.old is not None else now
                    if not now and not before:
                        continue
                    if not before:
                        op = "insert"
                    elif not now:
                        op, row = "delete", change.old or row
                elif not matches(row):
                    continue
            item = orjson.dumps({"seq": change.seq, "op": op, "row": self.shape(row)})
            out.append((change.seq, item))
        return out


class Subscriptions:
    """Every feed subscription of the front, by socket and by object table."""

    __slots__ = ("_groups", "_limit", "_pending", "_sockets", "_write")

    def __init__(self, limit: int, write: Write) -> None:
        self._limit = limit
        self._write = write
        #: (socket id, sub id) pending an answer from the object.
        self._pending: set[tuple[int, int]] = set()
        #: socket id -> sub id -> the group it is in (None while pending).
        self._sockets: dict[int, dict[int, tuple[str, _Group] | None]] = {}
        #: object key -> table -> group key -> group.
        self._groups: dict[str, dict[str, dict[bytes, _Group]]] = {}

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._sockets.values())

    def count(self, socket_id: int) -> int:
        """How many subscriptions the socket has (pending ones included)."""
        return len(self._sockets.get(socket_id, ()))

    # -- a socket's frames -----------------------------------------------------------

    def request(self, socket_id: int, sub_id: int) -> None:
        """A ``sub`` frame arrived: hold its place; ``TooManySubscriptionsError`` past the
        limit. A repeated id replaces the subscription it names."""
        subs = self._sockets.setdefault(socket_id, {})
        if sub_id in subs:
            self.remove(socket_id, sub_id)
            subs = self._sockets.setdefault(socket_id, {})
        if len(subs) >= self._limit:
            if not subs:
                del self._sockets[socket_id]
            raise TooManySubscriptionsError(
                f"this socket has {len(subs)} subscriptions, the most allowed"
            )
        subs[sub_id] = None
        self._pending.add((socket_id, sub_id))

    def remove(self, socket_id: int, sub_id: int) -> None:
        """End one subscription (``unsub``, or after an error or reset was sent)."""
        subs = self._sockets.get(socket_id)
        if subs is None or sub_id not in subs:
            return
        entry = subs.pop(sub_id)
        if not subs:
            del self._sockets[socket_id]
        self._pending.discard((socket_id, sub_id))
        if entry is not None:
            object_key, group = entry
            self._leave(object_key, group, socket_id, sub_id)

    def drop_socket(self, socket_id: int) -> None:
        """The socket is gone: end all its subscriptions."""
        for sub_id in list(self._sockets.get(socket_id, ())):
            self.remove(socket_id, sub_id)

    # -- answers from objects ----------------------------------------------------------

    def open(self, object_key: str, opened: FeedOpened) -> None:
        """The object read the snapshot or replay: send it, then go live."""
        key = (opened.socket_id, opened.sub_id)
        if key not in self._pending:
            return  # unsubscribed, or its socket closed, while the object read
        self._pending.discard(key)
        group = self._group(object_key, opened)
        socket_id, sub_id = key
        if opened.rows is not None:
            rows = [group.shape(row) for row in opened.rows if _matches(group, row)]
            for chunk in _chunks([orjson.dumps(row) for row in rows]) or [b""]:
                self._send(
                    socket_id,
                    b'{"t":"snapshot","id":%d,"seq":%d,"rows":[%s]}' % (sub_id, opened.seq, chunk),
                )
        if opened.changes:
            items = [item for _, item in group.items(opened.changes)]
            for chunk in _chunks(items):
                self._send(socket_id, _changes_frame(sub_id, chunk))
        self._send(socket_id, protocol.encode(protocol.Subscribed(id=sub_id, seq=opened.seq)))
        group.add(socket_id, sub_id, opened.seq)
        self._sockets[socket_id][sub_id] = (object_key, group)

    def refuse(self, socket_id: int, sub_id: int, frame: bytes) -> None:
        """The object refused (``frame`` is the error or reset): send it, forget the sub."""
        if (socket_id, sub_id) in self._pending:
            self.remove(socket_id, sub_id)
            self._send(socket_id, frame)

    def publish(self, object_key: str, changes: Sequence[Change]) -> int:
        """One event's committed changes to every subscriber that sees some; how many
        frames were written."""
        tables = self._groups.get(object_key)
        if not tables:
            return 0
        sent = 0
        for table, groups in tables.items():
            mine = [change for change in changes if change.table == table]
            if not mine:
                continue
            for group in list(groups.values()):
                sent += self._fan_out(group, mine)
        return sent

    def end(self, object_key: str, table: str | None, frame_for: Callable[[int], bytes]) -> None:
        """End the subscriptions of ``table`` (None: all) of the object, sending each
        ``frame_for(sub_id)`` (a ``reset`` or an ``error``)."""
        tables = self._groups.get(object_key, {})
        ended = [
            (socket_id, sub_id)
            for name, groups in tables.items()
            if table is None or name == table
            for group in groups.values()
            for sub_id, sockets in group.members.items()
            for socket_id in sockets
        ]
        for socket_id, sub_id in ended:
            self.remove(socket_id, sub_id)
            self._send(socket_id, frame_for(sub_id))

    # -- internals ---------------------------------------------------------------------

    def _send(self, socket_id: int, payload: bytes) -> None:
        self._write((socket_id,), payload, Frame(Opcode.TEXT, payload).serialize(mask=False))

    def _fan_out(self, group: _Group, changes: list[Change]) -> int:
        items = group.items(changes)
        if not items:
            return 0
        if items[0][0] <= group.newest_start:
            return self._fan_out_late(group, items)
        body = b",".join(item for _, item in items)
        sent = 0
        for sub_id, sockets in group.members.items():
            payload = _changes_frame(sub_id, body)
            framed = Frame(Opcode.TEXT, payload).serialize(mask=False)
            sent += self._write(sockets, payload, framed)
        return sent

    def _fan_out_late(self, group: _Group, items: list[tuple[int, bytes]]) -> int:
        """Some member started after some of these changes (Rule 5): each gets only the
        newer ones. The runtime's ordering makes this rare; it is kept as a guard."""
        sent = 0
        for sub_id, sockets in group.members.items():
            for socket_id, after in sockets.items():
                newer = [item for seq, item in items if seq > after]
                if newer:
                    self._send(socket_id, _changes_frame(sub_id, b",".join(newer)))
                    sent += 1
        return sent

    def _group(self, object_key: str, opened: FeedOpened) -> _Group:
        projection = None
        if opened.columns is not None:
            wanted = {*opened.columns, *opened.keys}
            projection = tuple(c for c in opened.table_columns if c in wanted)
        # A compact copy: kept as long as the group, and orjson's output keeps 4 KiB.
        group_key = memoryview(orjson.dumps([opened.where, projection])).tobytes()
        groups = self._groups.setdefault(object_key, {}).setdefault(opened.table, {})
        group = groups.get(group_key)
        if group is None:
            predicate = compile_where(opened.where) if opened.where else None
            group = groups[group_key] = _Group(opened.table, predicate, projection)
        return group

    def _leave(self, object_key: str, group: _Group, socket_id: int, sub_id: int) -> None:
        group.discard(socket_id, sub_id)
        if group.members:
            return
        tables = self._groups.get(object_key, {})
        groups = tables.get(group.table, {})
        for key, candidate in list(groups.items()):
            if candidate is group:
                del groups[key]
        if not groups:
            tables.pop(group.table, None)
        if not tables:
            self._groups.pop(object_key, None)


def _matches(group: _Group, row: Row) -> bool:
    return group.predicate is None or group.predicate(row)


def _changes_frame(sub_id: int, body: bytes) -> bytes:
    return b'{"t":"changes","id":%d,"changes":[%s]}' % (sub_id, body)


def _chunks(items: list[bytes]) -> list[bytes]:
    """Join encoded items with commas into pieces of about ``FRAME_BUDGET`` bytes."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for item in items:
        if current and size + len(item) > FRAME_BUDGET:
            chunks.append(b",".join(current))
            current, size = [], 0
        current.append(item)
        size += len(item) + 1
    if current:
        chunks.append(b",".join(current))
    return chunks
