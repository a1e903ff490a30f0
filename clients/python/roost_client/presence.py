"""Presence: who is connected to the object, with their state (protocol/SPEC.md §10).

``Members`` is the pure part (frames in, events out); ``Presence`` is what the app
holds (``conn.presence``): the current members, callbacks and an event stream.

Rules:

1. The app sees one consistent stream of events: ``members`` starts empty and every
   ``presence`` list is applied as the difference from the members known (``leave``
   for those gone, in their join order, then ``update`` and ``join`` in the list's
   order), so the first list gives a ``join`` per member, and the fresh list after a
   reconnect gives only what changed while the socket was down.
2. ``join`` / ``update`` / ``leave`` frames apply as they are, made consistent: a
   ``join`` of a member is an ``update`` (nothing if its state is the same), an
   ``update`` of a stranger is a ``join``, a ``leave`` of a stranger is nothing.
3. ``members`` keeps the join order; an update keeps a member's place.
4. States compare as JSON values: ``true`` is not ``1`` (Python's ``==`` says it is),
   object members in any order.
5. ``presence_sub`` is sent when ``conn.presence`` is first read and again on every new
   socket (after the hello); ``close()`` sends ``presence_unsub`` (or takes the
   unwritten ``presence_sub`` back) and ends the event streams.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import protocol
from roost_client import wire
from roost_client.control import Control
from roost_client.errors import RoostError
from roost_client.outbox import Entry
from roost_client.state import Listeners

__all__ = ["Members", "Presence", "PresenceEvent", "PresenceFrame", "PresenceStream"]

#: The hub frames of presence.
PresenceFrame = protocol.Presence | protocol.Join | protocol.Update | protocol.Leave


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """One change of the members.

    Attributes:
        kind: ``join``, ``leave`` or ``update``.
        socket: the member's socket id (``conn.socket_id`` is this client's own).
        state: the member's state; for ``leave``, its state as it was.
    """

    kind: Literal["join", "leave", "update"]
    socket: int
    state: Any


class Members:
    """The member list and its changes, as events (rules 1-4). Pure."""

    def __init__(self) -> None:
        self._members: dict[int, Any] = {}
        #: A ``presence`` list was applied.
        self.listed = False

    def snapshot(self) -> dict[int, Any]:
        """Socket id -> state, in join order (a copy)."""
        return dict(self._members)

    def receive(self, frame: PresenceFrame) -> list[PresenceEvent]:
        """Apply ``frame``; the events it makes, in order."""
        if isinstance(frame, protocol.Presence):
            return self.replace((member.socket, member.state) for member in frame.members)
        if isinstance(frame, protocol.Leave):
            if frame.socket not in self._members:
                return []
            return [PresenceEvent("leave", frame.socket, self._members.pop(frame.socket))]
        return self._set(frame.socket, frame.state)

    def replace(self, members: Iterable[tuple[int, Any]]) -> list[PresenceEvent]:
        """A whole member list: the difference as events (rule 1)."""
        new = dict(members)
        events = [
            PresenceEvent("leave", socket, state)
            for socket, state in self._members.items()
            if socket not in new
        ]
        for socket, state in new.items():
            if socket not in self._members:
                events.append(PresenceEvent("join", socket, state))
            elif not _same_json(self._members[socket], state):
                events.append(PresenceEvent("update", socket, state))
        self._members = new
        self.listed = True
        return events

    def _set(self, socket: int, state: Any) -> list[PresenceEvent]:
        if socket not in self._members:
            self._members[socket] = state
            return [PresenceEvent("join", socket, state)]
        if _same_json(self._members[socket], state):
            return []
        self._members[socket] = state
        return [PresenceEvent("update", socket, state)]


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values (rule 4)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same_json, a, b))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)


class PresenceStream:
    """``async for event in presence.events()``: every event from its creation on.

    Events wait in memory until read, without bound; iteration ends when the presence
    or its connection is closed (raising the connection's error, if it closed on one).
    """

    def __init__(self, listeners: Listeners[PresenceEvent], ended: bool) -> None:
        self._events: deque[PresenceEvent] = deque()
        self._readable = asyncio.Event()
        self._ended = ended
        self._error: RoostError | None = None
        self._unsubscribe = listeners.add(self._push)

    def __aiter__(self) -> PresenceStream:
        return self

    async def __anext__(self) -> PresenceEvent:
        while not self._events:
            if self._ended:
                self._unsubscribe()
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._readable.clear()
            await self._readable.wait()
        return self._events.popleft()

    def close(self) -> None:
        """Stop receiving events; iteration ends after those already received."""
        self._unsubscribe()
        self._end(None)

    def _push(self, event: PresenceEvent) -> None:
        self._events.append(event)
        self._readable.set()

    def _end(self, error: RoostError | None) -> None:
        if not self._ended:
            self._ended = True
            self._error = error
            self._readable.set()


class Presence:
    """The object's presence as this connection sees it; ``conn.presence`` makes it.

    ``members`` maps each member's socket id to its state, in join order (compare with
    ``conn.socket_id`` to find yourself). Callbacks and ``events()`` see joins, updates
    and leaves as they happen; the first member list counts as joins, and after a
    reconnect the fresh list is applied as its difference (so the stream stays
    consistent: a member who left while the socket was down gets its ``leave``).
    Between sockets ``members`` is the last list known.

    ``await presence.ready()`` waits for the first list.
    """

    def __init__(self, control: Control, forget: Callable[[Presence], None]) -> None:
        self._control = control
        self._forget = forget
        self._members = Members()
        self._listeners: Listeners[PresenceEvent] = Listeners()
        self._streams: list[PresenceStream] = []
        self._listed = asyncio.Event()
        self._ended = False
        self._error: RoostError | None = None
        self._entry: Entry | None = None

    def __repr__(self) -> str:
        return f"<Presence members={len(self._members.snapshot())} closed={self._ended}>"

    @property
    def members(self) -> dict[int, Any]:
        """Socket id -> state of every member, in join order (a copy)."""
        return self._members.snapshot()

    @property
    def closed(self) -> bool:
        """``close()`` was called, or the connection closed for good."""
        return self._ended

    async def ready(self) -> None:
        """Return once the first member list arrived.

        Raises the connection's close error (``ConnectionClosed`` after ``conn.close()``)
        if it closes first, and ``RuntimeError`` if the presence was closed first.
        """
        if not self._members.listed and not self._ended:
            await self._listed.wait()
        if not self._members.listed:
            if self._error is not None:
                raise self._error
            raise RuntimeError("presence was closed before the member list arrived")

    def on_join(self, callback: Callable[[int, Any], object]) -> Callable[[], None]:
        """Call ``callback(socket_id, state)`` for each member that joins; returns an
        unsubscribe."""
        return self._on("join", callback)

    def on_leave(self, callback: Callable[[int, Any], object]) -> Callable[[], None]:
        """Call ``callback(socket_id, state)`` for each member that leaves (``state`` as
        it was); returns an unsubscribe."""
        return self._on("leave", callback)

    def on_update(self, callback: Callable[[int, Any], object]) -> Callable[[], None]:
        """Call ``callback(socket_id, state)`` for each member whose state changes (the
        new state); returns an unsubscribe."""
        return self._on("update", callback)

    def events(self) -> PresenceStream:
        """``async for event in presence.events()``: every ``PresenceEvent`` from now on."""
        stream = PresenceStream(self._listeners, self._ended)
        if not self._ended:
            self._streams.append(stream)
        return stream

    def close(self) -> None:
        """Stop the presence frames (``presence_unsub``) and end the event streams.
        ``conn.presence`` afterwards starts a new presence."""
        if self._ended:
            return
        if not self._control.discard(self._entry) and self._control.online:
            self._control.send(wire.presence_unsub())
        self._entry = None
        self._end(None, None)
        self._forget(self)

    def _on(self, kind: str, callback: Callable[[int, Any], object]) -> Callable[[], None]:
        def listener(event: PresenceEvent) -> None:
            if event.kind == kind:
                callback(event.socket, event.state)

        return self._listeners.add(listener)

    def _opened(self) -> None:
        """A socket was welcomed: ask for the list (rule 5)."""
        if not self._ended:
            self._control.discard(self._entry)
            self._entry = self._control.send(wire.presence_sub())

    def _receive(self, frame: PresenceFrame) -> None:
        if self._ended:
            return
        events = self._members.receive(frame)
        if self._members.listed:
            self._listed.set()
        for event in events:
            self._listeners.emit(event)

    def _end(self, error: RoostError | None, closed: RoostError | None) -> None:
        """Closed (rule 5); ``error`` ends the streams, ``closed`` fails ``ready``."""
        if self._ended:
            return
        self._ended = True
        self._error = closed
        for stream in self._streams:
            stream._end(error)
        self._streams.clear()
        self._listed.set()
