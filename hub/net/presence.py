"""Presence in the front: which sockets of an object are members, with what state, and
who watches the list. protocol/SPEC.md §10.

Presence lives with the sockets, so reading it (a ``presence_sub`` frame, or
``GET /objects/{binding}/{name}/presence``) never wakes a hibernated object, a socket
that drops leaves at once, and a hub restart starts with nobody.

Rules:

1. One owner: members and watchers change only through ``PresenceTable`` methods.
2. A member's state is JSON bytes, encoded once by the object's side; frames embed
   them as they are.
3. Members are listed in join order; an update keeps a member's place.
4. Every change of the list is one frame, built once for all of the object's watchers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from websockets.frames import Frame, Opcode

__all__ = ["PresenceTable"]

#: (socket ids, payload, the payload framed for the wire) -> how many got it.
Write = Callable[[Iterable[int], bytes, bytes], int]


class PresenceTable:
    """Members and watchers of every object's presence."""

    __slots__ = ("_members", "_object_of", "_watchers", "_write")

    def __init__(self, write: Write) -> None:
        self._write = write
        #: object key -> socket id -> state (JSON bytes), in join order.
        self._members: dict[str, dict[int, bytes]] = {}
        #: object key -> watching socket ids (dict as an ordered set).
        self._watchers: dict[str, dict[int, None]] = {}
        #: socket id -> object key, for members and watchers.
        self._object_of: dict[int, str] = {}

    def members(self, object_key: str) -> list[tuple[int, bytes]]:
        """The object's members, in join order."""
        return list(self._members.get(object_key, {}).items())

    def list_frame(self, object_key: str) -> bytes:
        """The ``presence`` frame of the object's current members."""
        members = b",".join(
            b'{"socket":%d,"state":%s}' % (socket_id, state)
            for socket_id, state in self._members.get(object_key, {}).items()
        )
        return b'{"t":"presence","members":[%s]}' % members

    def set(self, object_key: str, socket_id: int, state: bytes | None) -> None:
        """Set (join or update) or clear (leave) a socket's state."""
        members = self._members.get(object_key, {})
        before = members.get(socket_id)
        if state is None:
            if before is None:
                return
            self._leave(object_key, socket_id)
            return
        if before == state:
            return
        self._members.setdefault(object_key, {})[socket_id] = state
        self._object_of[socket_id] = object_key
        kind = b"update" if before is not None else b"join"
        self._tell(object_key, b'{"t":"%s","socket":%d,"state":%s}' % (kind, socket_id, state))

    def watch(self, object_key: str, socket_id: int) -> None:
        """Send the socket the member list, then every change of it."""
        self._watchers.setdefault(object_key, {})[socket_id] = None
        self._object_of[socket_id] = object_key
        payload = self.list_frame(object_key)
        self._write((socket_id,), payload, Frame(Opcode.TEXT, payload).serialize(mask=False))

    def unwatch(self, object_key: str, socket_id: int) -> None:
        """Stop sending the socket presence frames."""
        watchers = self._watchers.get(object_key)
        if watchers is not None:
            watchers.pop(socket_id, None)
            if not watchers:
                del self._watchers[object_key]

    def drop_socket(self, socket_id: int) -> None:
        """The socket closed (for any reason): it leaves, and watches no more."""
        object_key = self._object_of.pop(socket_id, None)
        if object_key is None:
            return
        self.unwatch(object_key, socket_id)
        if socket_id in self._members.get(object_key, {}):
            self._leave(object_key, socket_id)

    def __len__(self) -> int:
        return sum(len(members) for members in self._members.values())

    def _leave(self, object_key: str, socket_id: int) -> None:
        members = self._members[object_key]
        del members[socket_id]
        if not members:
            del self._members[object_key]
        self._tell(object_key, b'{"t":"leave","socket":%d}' % socket_id)

    def _tell(self, object_key: str, payload: bytes) -> None:
        watchers = self._watchers.get(object_key)
        if not watchers:
            return
        framed = Frame(Opcode.TEXT, payload).serialize(mask=False)
        self._write(list(watchers), payload, framed)
