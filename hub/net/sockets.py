"""The socket table: the network front's record of every accepted WebSocket.

A socket outlives the object instance that accepted it: an idle object is evicted
(hibernation) while its sockets stay open, and a message on a parked socket wakes it.
So what the anchor keeps per socket (tags, the serialized attachment, when the last
auto-response was sent) and the auto-response pair it keeps per object live here, in
the front, keyed by socket id and by object key (the object's 64 hex digits).

Rules:

1. The socket table is the only owner of tags, attachments and auto-responses; object
   instances hold only socket ids. Every change goes through a ``SocketTable`` method.
2. Records are frozen snapshots: a change replaces the record in the table. A record
   handed out never changes under its holder, and holding one grants no way to change
   the table; ask the table again for the current state.
3. Indexes always agree with records. A socket is in its object's index while OPEN or
   CLOSING; it is in its object's open index, and in the open-by-tag index of each of
   its tags, while OPEN. An index entry that empties is deleted, so ``objects()`` names
   exactly the objects with a socket.
4. Validate, then change: a call that raises has changed nothing.
5. Socket ids count up from 1 and are never reused by a table.
6. States only move forward: OPEN -> CLOSING -> CLOSED. A CLOSED socket is no longer in
   the table; CLOSED is seen only on the records ``remove`` and ``drop_object`` return.
7. Reads cost what they return: ``open_sockets`` walks only the ids of the matching
   sockets, in accept order (ids ascending), never the whole table.
8. Refusals: a size or count over ``hub.limits.Limits`` raises ``LimitExceededError``
   with expected vs got; a value of the wrong type raises ``TypeError``; an unusable
   value that is not a size (an empty tag, half an auto-response pair) raises
   ``ValueError``; an unknown socket id raises ``KeyError``.

The table stores attachments as the bytes it is given; serializing them is the
caller's business. Tags are mutable (beyond the anchor, whose tags are fixed at accept).

Pure: no asyncio, no I/O, no websockets. The asyncio front keeps each socket's
transport in its own map, keyed by the same socket id.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from hub.errors import LimitExceededError
from hub.limits import Limits, check_size

__all__ = ["SocketRecord", "SocketState", "SocketTable"]


class SocketState(enum.IntEnum):
    """Where a socket is in its life; the values are the WebSocket ``readyState``'s.

    There is no CONNECTING: a socket enters the table once its upgrade is accepted.
    """

    OPEN = 1
    CLOSING = 2
    CLOSED = 3


@dataclass(frozen=True, slots=True)
class SocketRecord:
    """One accepted WebSocket, as the table knows it (a snapshot; see Rule 2)."""

    #: The table's id for this socket, counting up from 1.
    socket_id: int
    #: The 64 hex digits of the object that accepted the socket.
    object_key: str
    #: Distinct tags, in the order first given.
    tags: tuple[str, ...]
    #: The serialized attachment, or ``None`` when none was set.
    attachment: bytes | None
    #: OPEN or CLOSING while in the table; CLOSED once removed.
    state: SocketState
    #: Epoch seconds of the last auto-response sent on this socket, if any.
    auto_response_at: float | None


class SocketTable:
    """Every accepted WebSocket of the front, indexed by object and by tag."""

    __slots__ = (
        "_auto_responses",
        "_by_object",
        "_id_step",
        "_limits",
        "_next_id",
        "_open",
        "_open_by_tag",
        "_records",
    )

    def __init__(
        self, limits: Limits | None = None, *, first_id: int = 1, id_step: int = 1
    ) -> None:
        self._limits = limits if limits is not None else Limits()
        #: Ids are ``first_id + k * id_step``: gateways of one hub take disjoint ids.
        self._next_id = first_id
        self._id_step = id_step
        self._records: dict[int, SocketRecord] = {}
        # Dicts with ``None`` values serve as insertion-ordered sets of socket ids.
        self._by_object: dict[str, dict[int, None]] = {}
        self._open: dict[str, dict[int, None]] = {}
        self._open_by_tag: dict[str, dict[str, dict[int, None]]] = {}
        self._auto_responses: dict[str, tuple[str, str]] = {}

    @property
    def limits(self) -> Limits:
        """The limits this table enforces."""
        return self._limits

    # -- sockets ---------------------------------------------------------------------

    def reserve_id(self) -> int:
        """A new socket id, for an upgrade that an object may accept (``add``)."""
        socket_id = self._next_id
        self._next_id += self._id_step
        return socket_id

    def add(
        self, object_key: str, tags: Iterable[str], socket_id: int | None = None
    ) -> SocketRecord:
        """Record a newly accepted socket of ``object_key`` (under ``socket_id`` from
        ``reserve_id``, or a new id); returns its OPEN record.

        Raises ``LimitExceededError`` when the tags are over their limits or the object
        already has ``limits.sockets_per_object`` sockets open or closing.
        """
        clean = self._check_tags(tags)
        count = len(self._by_object.get(object_key, ()))
        limit = self._limits.sockets_per_object
        if count >= limit:
            raise LimitExceededError(
                f"too many sockets on object {object_key!r}: {count + 1} sockets, "
                f"expected at most {limit}"
            )
        if socket_id is None:
            socket_id = self.reserve_id()
        elif socket_id in self._records:
            raise ValueError(f"socket id {socket_id} is taken")
        # Positional: keywords cost a third more, and every upgrade passes here twice
        # with workers (the gateway's table and the worker's mirror).
        record = SocketRecord(socket_id, object_key, clean, None, SocketState.OPEN, None)
        self._records[socket_id] = record
        self._by_object.setdefault(object_key, {})[socket_id] = None
        self._open.setdefault(object_key, {})[socket_id] = None
        for tag in clean:
            self._index_tag(object_key, tag, socket_id)
        return record

    def get(self, socket_id: int) -> SocketRecord:
        """The record of ``socket_id``; ``KeyError`` when the table does not hold it."""
        record = self._records.get(socket_id)
        if record is None:
            raise KeyError(f"unknown socket id: {socket_id!r}")
        return record

    def find(self, socket_id: int) -> SocketRecord | None:
        """The record of ``socket_id``, or ``None`` when the table does not hold it."""
        return self._records.get(socket_id)

    def set_tags(self, socket_id: int, tags: Iterable[str]) -> SocketRecord:
        """Replace the tags of ``socket_id`` (validated as in ``add``); returns the record.

        A tag the socket keeps keeps its place in the tag's index.
        """
        record = self.get(socket_id)
        clean = self._check_tags(tags)
        if record.state is SocketState.OPEN:
            old, new = set(record.tags), set(clean)
            for tag in record.tags:
                if tag not in new:
                    self._unindex_tag(record.object_key, tag, socket_id)
            for tag in clean:
                if tag not in old:
                    self._index_tag(record.object_key, tag, socket_id)
        return self._store(dataclasses.replace(record, tags=clean))

    def set_attachment(self, socket_id: int, data: bytes | None) -> SocketRecord:
        """Store ``data`` (already serialized) as the attachment of ``socket_id``.

        ``None`` clears it. Raises ``LimitExceededError`` when ``data`` is longer than
        ``limits.attachment_bytes``.
        """
        record = self.get(socket_id)
        if data is not None:
            if not isinstance(data, bytes | bytearray | memoryview):
                # The value is not shown: an attachment can be large, and it is user data.
                raise TypeError(f"attachment must be bytes or None, got {type(data).__name__}")
            data = bytes(data)
            check_size("attachment", len(data), self._limits.attachment_bytes)
        return self._store(dataclasses.replace(record, attachment=data))

    def attachment(self, socket_id: int) -> bytes | None:
        """The attachment of ``socket_id``, or ``None`` when none was set."""
        return self.get(socket_id).attachment

    def mark_closing(self, socket_id: int) -> SocketRecord:
        """Move ``socket_id`` from OPEN to CLOSING (a close has started); idempotent.

        A closing socket still counts towards ``sockets_per_object`` but is no longer
        returned by ``open_sockets``.
        """
        record = self.get(socket_id)
        if record.state is not SocketState.OPEN:
            return record
        self._unindex_open(record)
        return self._store(dataclasses.replace(record, state=SocketState.CLOSING))

    def remove(self, socket_id: int) -> SocketRecord:
        """Forget ``socket_id`` (its close is complete); returns its record, CLOSED."""
        record = self.get(socket_id)
        if record.state is SocketState.OPEN:
            self._unindex_open(record)
        del self._records[socket_id]
        _discard(self._by_object, record.object_key, socket_id)
        return _closed(record)

    def drop_object(self, object_key: str) -> list[SocketRecord]:
        """Forget every socket of ``object_key`` and its auto-response (shutdown).

        Returns the sockets' records, CLOSED, in accept order.
        """
        ids = self._by_object.pop(object_key, {})
        self._open.pop(object_key, None)
        self._open_by_tag.pop(object_key, None)
        self._auto_responses.pop(object_key, None)
        return [_closed(self._records.pop(socket_id)) for socket_id in ids]

    # -- reads -----------------------------------------------------------------------

    def open_sockets(self, object_key: str, tag: str | None = None) -> list[SocketRecord]:
        """The OPEN sockets of ``object_key`` in accept order; only those tagged ``tag``
        when it is given (the anchor's ``getWebSockets(tag?)``)."""
        if tag is None:
            ids = self._open.get(object_key, {})
        else:
            ids = self._open_by_tag.get(object_key, {}).get(tag, {})
        return [self._records[socket_id] for socket_id in ids]

    def count(self, object_key: str) -> int:
        """How many sockets of ``object_key`` are OPEN or CLOSING."""
        return len(self._by_object.get(object_key, ()))

    def records(self, object_key: str) -> list[SocketRecord]:
        """Every socket of ``object_key`` (OPEN and CLOSING), in accept order."""
        return [self._records[socket_id] for socket_id in self._by_object.get(object_key, ())]

    def objects(self) -> list[str]:
        """The keys of the objects with at least one socket (OPEN or CLOSING)."""
        return list(self._by_object)

    def __len__(self) -> int:
        """How many sockets the table holds (OPEN or CLOSING)."""
        return len(self._records)

    # -- auto-response ---------------------------------------------------------------

    def set_auto_response(self, object_key: str, request: str | None, response: str | None) -> None:
        """Answer ``request`` with ``response`` on every socket of ``object_key``.

        The front sends the response itself, without waking the object (the anchor's
        ``setWebSocketAutoResponse``). Both ``None`` clears it; giving only one is a
        ``ValueError``. Each string is at most ``limits.auto_response_bytes`` in UTF-8.
        """
        if request is None and response is None:
            self._auto_responses.pop(object_key, None)
            return
        if request is None or response is None:
            raise ValueError(
                "auto-response needs both a request and a response, "
                f"got request={request!r} and response={response!r}"
            )
        for what, text in (("request", request), ("response", response)):
            if not isinstance(text, str):
                raise TypeError(
                    f"auto-response {what} must be a str, got {type(text).__name__} {text!r}"
                )
            check_size(
                f"auto-response {what}", len(text.encode()), self._limits.auto_response_bytes
            )
        self._auto_responses[object_key] = (request, response)

    def auto_response(self, object_key: str) -> tuple[str, str] | None:
        """The ``(request, response)`` pair of ``object_key``, or ``None``."""
        return self._auto_responses.get(object_key)

    def match_auto_response(self, socket_id: int, message: str | bytes, now: float) -> str | None:
        """The response to send for ``message`` on ``socket_id``, or ``None``.

        Matches only a text message equal to the object's request string, on an OPEN
        socket; a match records ``now`` as the socket's auto-response time.
        """
        record = self.get(socket_id)
        pair = self._auto_responses.get(record.object_key)
        if (
            pair is None
            or record.state is not SocketState.OPEN
            or not isinstance(message, str)
            or message != pair[0]
        ):
            return None
        self._store(dataclasses.replace(record, auto_response_at=now))
        return pair[1]

    def note_auto_response(self, socket_id: int, at: float) -> None:
        """Record that the socket was auto-responded to at ``at`` (a worker's mirror
        learns it from its gateway)."""
        record = self._records.get(socket_id)
        if record is not None:
            self._store(dataclasses.replace(record, auto_response_at=at))

    def auto_response_timestamp(self, socket_id: int) -> float | None:
        """When an auto-response was last sent on ``socket_id`` (epoch seconds), or ``None``."""
        return self.get(socket_id).auto_response_at

    # -- internals -------------------------------------------------------------------

    def _check_tags(self, tags: Iterable[str]) -> tuple[str, ...]:
        """Validate ``tags``; returns them without duplicates, in first-occurrence order."""
        if isinstance(tags, str | bytes):
            raise TypeError(
                f"tags must be an iterable of str, got a single {type(tags).__name__} {tags!r}"
            )
        distinct: dict[str, None] = {}
        for tag in tags:
            if not isinstance(tag, str):
                raise TypeError(f"tag must be a str, got {type(tag).__name__} {tag!r}")
            if not tag:
                raise ValueError("empty tag: expected a non-empty str")
            check_size("tag", len(tag.encode()), self._limits.tag_bytes)
            distinct[tag] = None
        limit = self._limits.tags_per_socket
        if len(distinct) > limit:
            raise LimitExceededError(
                f"too many tags: {len(distinct)} tags, expected at most {limit}"
            )
        return tuple(distinct)

    def _store(self, record: SocketRecord) -> SocketRecord:
        """Put ``record`` in place of the socket's previous record; returns it."""
        self._records[record.socket_id] = record
        return record

    def _index_tag(self, object_key: str, tag: str, socket_id: int) -> None:
        """Add an OPEN socket to the index of ``tag``, keeping ids ascending."""
        by_tag = self._open_by_tag.setdefault(object_key, {})
        ids = by_tag.setdefault(tag, {})
        if ids and next(reversed(ids)) > socket_id:
            # ``set_tags`` gave an older socket a tag that newer ones already carry:
            # rebuild in accept order (Timsort is linear on this almost-sorted input).
            by_tag[tag] = dict.fromkeys(sorted([*ids, socket_id]))
        else:
            ids[socket_id] = None

    def _unindex_tag(self, object_key: str, tag: str, socket_id: int) -> None:
        """Take a socket out of the index of ``tag``."""
        by_tag = self._open_by_tag[object_key]
        _discard(by_tag, tag, socket_id)
        if not by_tag:
            del self._open_by_tag[object_key]

    def _unindex_open(self, record: SocketRecord) -> None:
        """Take an OPEN socket out of the open index and every tag index."""
        _discard(self._open, record.object_key, record.socket_id)
        for tag in record.tags:
            self._unindex_tag(record.object_key, tag, record.socket_id)


def _closed(record: SocketRecord) -> SocketRecord:
    """``record`` as CLOSED (built directly: ``dataclasses.replace`` costs a few µs, and
    every socket that closes passes here)."""
    return SocketRecord(
        record.socket_id,
        record.object_key,
        record.tags,
        record.attachment,
        SocketState.CLOSED,
        record.auto_response_at,
    )


def _discard(index: dict[str, dict[int, None]], key: str, socket_id: int) -> None:
    """Remove ``socket_id`` from ``index[key]``, and ``key`` once its set is empty."""
    ids = index[key]
    del ids[socket_id]
    if not ids:
        del index[key]
