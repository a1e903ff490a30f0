"""``MirrorPort``: a worker's ``SocketPort``, a mirror of its objects' sockets.

A handler reads tags, attachments and socket lists synchronously; in a worker the
sockets live in the gateways. So the worker keeps a mirror of the socket records of its
partition, and every command both updates the mirror and goes to the gateway that owns
the socket (``socket_id % gateways``).

Rules:

1. The mirror changes from two sides only: the runtime's commands (accept, tags,
   attachments, close, presence) and the gateways' facts (``sync`` when this worker
   takes a partition over, ``gone`` when a socket closed, ``auto_at``). Links keep
   order, so both copies agree once the messages in flight are read.
2. A broadcast is one command per gateway that has a recipient, never one per socket:
   the gateway expands it against its own table.
3. Feed changes and ends go to every gateway (each holds its own subscriptions).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from hub.cluster.messages import change_to_wire, error_to_wire, feed_answer_to_wire
from hub.cluster.wire import Link, Message
from hub.errors import HubError
from hub.ids import ObjectId
from hub.limits import Limits
from hub.net.sockets import SocketState, SocketTable
from hub.runtime.ports import FeedAnswer
from hub.storage.feeds import Change

__all__ = ["MirrorPort"]


class MirrorPort:
    """The worker's view of its objects' sockets (implements ``SocketPort``)."""

    def __init__(self, limits: Limits, gateways: int) -> None:
        self.table = SocketTable(limits)
        #: Index j: the link to gateway j, or None while it is not connected.
        self.links: list[Link | None] = [None] * gateways
        #: object key -> socket id -> presence state, in join order.
        self._presence: dict[str, dict[int, bytes]] = {}
        #: object key -> its id (binding and name), to name the objects of sockets lost
        #: with a gateway; the worker hands the same one to every event of the object.
        self.objects: dict[str, ObjectId] = {}

    # -- facts from gateways --------------------------------------------------------------

    def sync(self, gateway: int, records: list[Any], presence: list[Any]) -> None:
        """Take the sockets gateway ``gateway`` holds for this partition (replacing what
        the mirror had of that gateway)."""
        self.drop_gateway(gateway, tell_others=False)
        table = self.table
        for socket_id, binding, key, name, tags, attachment, closing, auto_at in records:
            if key not in self.objects:
                self.objects[key] = ObjectId(binding, key, name)
            table.add(key, tags, socket_id)
            if attachment is not None:
                table.set_attachment(socket_id, attachment)
            if closing:
                table.mark_closing(socket_id)
            if auto_at is not None:
                table.note_auto_response(socket_id, auto_at)
        for key, socket_id, state in presence:
            self._presence.setdefault(key, {})[socket_id] = state

    def members_elsewhere(self, gateway: int) -> list[tuple[str, int, bytes]]:
        """``(object key, socket id, state)`` of the members held by the other gateways:
        a gateway that (re)joins learns them, so its watchers see every member."""
        count = len(self.links)
        return [
            (key, socket_id, state)
            for key, members in self._presence.items()
            for socket_id, state in members.items()
            if socket_id % count != gateway
        ]

    def forget(self, socket_id: int) -> tuple[tuple[str, ...], bytes | None] | None:
        """The gateway dropped the socket; its last tags and attachment (None if unknown)."""
        record = self.table.find(socket_id)
        if record is None:
            return None
        self.table.remove(socket_id)
        members = self._presence.get(record.object_key)
        if members is not None and members.pop(socket_id, None) is not None:
            if not members:
                del self._presence[record.object_key]
            self._others(socket_id, ("presence", record.object_key, socket_id, None))
        return record.tags, record.attachment

    def drop_gateway(
        self, gateway: int, *, tell_others: bool = True
    ) -> list[tuple[int, str, tuple[str, ...], bytes | None]]:
        """Forget every socket of gateway ``gateway`` (it is gone, or about to resync);
        ``(socket id, object key, tags, attachment)`` of each. Its presence members
        leave, which the other gateways are told unless ``tell_others`` is False."""
        count = len(self.links)
        dropped = []
        for key in self.table.objects():
            for record in list(self.table.records(key)):
                if record.socket_id % count == gateway:
                    self.table.remove(record.socket_id)
                    members = self._presence.get(key)
                    if members is not None and members.pop(record.socket_id, None) is not None:
                        if not members:
                            del self._presence[key]
                        if tell_others:  # their watchers see the member leave
                            leave = ("presence", key, record.socket_id, None)
                            self._others(record.socket_id, leave)
                    dropped.append((record.socket_id, key, record.tags, record.attachment))
        return dropped

    def auto_at(self, socket_id: int, at: float) -> None:
        """The gateway auto-responded on the socket at ``at``."""
        self.table.note_auto_response(socket_id, at)

    # -- sending ------------------------------------------------------------------------

    def _to(self, socket_id: int, message: Message) -> None:
        link = self.links[socket_id % len(self.links)]
        if link is not None:
            link.send(message)

    def _all(self, message: Message) -> None:
        for link in self.links:
            if link is not None:
                link.send(message)

    def _others(self, socket_id: int, message: Message) -> None:
        owner = socket_id % len(self.links)
        for index, link in enumerate(self.links):
            if link is not None and index != owner:
                link.send(message)

    # -- SocketPort -----------------------------------------------------------------------

    def accept(self, upgrade_id: int, object_key: str, tags: Sequence[str]) -> int:
        """Record the socket (its id is ``upgrade_id``) and tell its gateway."""
        record = self.table.add(object_key, tags, upgrade_id)
        self._to(upgrade_id, ("accept", upgrade_id, object_key, list(record.tags)))
        return upgrade_id

    def abandon(self, socket_id: int) -> None:
        """The accepting event failed: forget the socket, here and in its gateway."""
        if self.table.find(socket_id) is not None:
            self.table.remove(socket_id)
        self._to(socket_id, ("abandon", socket_id))

    def socket_ids(self, object_key: str, tag: str | None) -> list[int]:
        """Ids of the object's OPEN sockets (with ``tag``)."""
        return [record.socket_id for record in self.table.open_sockets(object_key, tag)]

    def tags(self, socket_id: int) -> tuple[str, ...]:
        """The socket's tags."""
        record = self.table.find(socket_id)
        return () if record is None else record.tags

    def set_tags(self, socket_id: int, tags: Sequence[str]) -> None:
        """Replace the socket's tags."""
        record = self.table.set_tags(socket_id, tags)
        self._to(socket_id, ("tags", socket_id, list(record.tags)))

    def attachment(self, socket_id: int) -> bytes | None:
        """The socket's serialized attachment."""
        record = self.table.find(socket_id)
        return None if record is None else record.attachment

    def set_attachment(self, socket_id: int, data: bytes | None) -> None:
        """Replace the socket's serialized attachment."""
        self.table.set_attachment(socket_id, data)
        self._to(socket_id, ("attachment", socket_id, data))

    def ready_state(self, socket_id: int) -> int:
        """1 OPEN, 2 CLOSING, 3 CLOSED."""
        record = self.table.find(socket_id)
        return int(SocketState.CLOSED if record is None else record.state)

    def send(self, socket_id: int, data: str | bytes) -> None:
        """One message to one socket."""
        link = self.links[socket_id % len(self.links)]  # ``_to``, inline: the busiest command
        if link is not None:
            link.send(("send", socket_id, data))

    def broadcast(
        self, object_key: str, data: str | bytes, tag: str | None, exclude: Collection[int]
    ) -> int:
        """One command per gateway holding a recipient; how many sockets get it."""
        records = self.table.open_sockets(object_key, tag)
        if exclude:
            records = [record for record in records if record.socket_id not in exclude]
        count = len(self.links)
        message = ("broadcast", object_key, data, tag, list(exclude))
        for index in {record.socket_id % count for record in records}:
            link = self.links[index]
            if link is not None:
                link.send(message)
        return len(records)

    def close(self, socket_id: int, code: int, reason: str) -> None:
        """Start the closing handshake."""
        if self.table.find(socket_id) is not None:
            self.table.mark_closing(socket_id)
        self._to(socket_id, ("close", socket_id, code, reason))

    def acknowledge(self, socket_id: int, message_id: int, error: HubError | None) -> None:
        """``ack`` (or ``error``) for an exactly-once message."""
        wire_error = None if error is None else error_to_wire(error)
        self._to(socket_id, ("ack", socket_id, message_id, wire_error))

    def answer(self, socket_id: int, call_id: int, result: Any, error: HubError | None) -> None:
        """The answer to an ``auth`` frame."""
        wire_error = None if error is None else error_to_wire(error)
        self._to(socket_id, ("answer", socket_id, call_id, result, wire_error))

    def set_auto_response(self, object_key: str, request: str | None, response: str | None) -> None:
        """Set or clear the object's auto-response pair, in every gateway."""
        self.table.set_auto_response(object_key, request, response)
        self._all(("auto_response", object_key, request, response))

    def auto_response(self, object_key: str) -> tuple[str, str] | None:
        """The object's auto-response pair."""
        return self.table.auto_response(object_key)

    def auto_response_timestamp(self, socket_id: int) -> float | None:
        """When the socket's gateway last auto-responded on it."""
        if self.table.find(socket_id) is None:
            return None
        return self.table.auto_response_timestamp(socket_id)

    def feed_answer(self, answer: FeedAnswer) -> None:
        """To the subscriber's gateway."""
        self._to(answer.socket_id, ("feed_answer", feed_answer_to_wire(answer)))

    def feed_changes(self, object_key: str, changes: Sequence[Change]) -> None:
        """To every gateway: each has its own subscribers."""
        self._all(("feed_changes", object_key, [change_to_wire(c) for c in changes]))

    def feed_ended(self, object_key: str, table: str | None) -> None:
        """To every gateway."""
        self._all(("feed_ended", object_key, table))

    def set_presence(self, socket_id: int, state: bytes | None) -> None:
        """Set or clear a member's state; every gateway's watchers are told."""
        record = self.table.find(socket_id)
        if record is None or record.state is not SocketState.OPEN:
            return
        key = record.object_key
        members = self._presence.setdefault(key, {})
        if state is None:
            members.pop(socket_id, None)
            if not members:
                del self._presence[key]
        else:
            members[socket_id] = state
        self._all(("presence", key, socket_id, state))

    def presence_members(self, object_key: str) -> list[tuple[int, bytes]]:
        """The object's members, in join order."""
        return list(self._presence.get(object_key, {}).items())
