"""Commands from objects to the front: the ``SocketPort`` the front gives the host.

Rules:

1. This is the only way objects reach sockets (``hub.runtime.ports.SocketPort``). It
   holds no state of its own: it acts on the front's socket table, connections,
   pending upgrades, subscriptions and presence, which the front owns.
2. A broadcast builds its frame once and writes the same bytes to every recipient
   (a ``roost.v1`` socket gets text wrapped in one ``msg`` frame, also built once); a
   loop turn's broadcasts of one object are written together (``hub.net.fanout``).
3. Writing to a socket that is gone or no longer open (``send``, ``broadcast``,
   ``close``, ``acknowledge``, ``answer``, ``set_presence``) does nothing: the object may act on a
   socket the client has just closed. Changing the record of an unknown socket
   (``set_tags``, ``set_attachment``) raises ``KeyError`` (``hub.net.sockets``).
4. Calls that change what clients see (``send``, ``broadcast``, ``close``,
   ``acknowledge``, ``answer``) come from the object's output gate, after its event committed
   (``hub.runtime.ports``); they act at once here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from websockets.frames import Frame, Opcode

import protocol
from hub.errors import HubError, NoSuchFeedError
from hub.net import roost_v1
from hub.net.fanout import Batch
from hub.net.sockets import SocketState
from hub.runtime.ports import FeedAnswer, FeedOpened, FeedResetNeeded

if TYPE_CHECKING:
    from hub.net.connection import Connection
    from hub.net.front import Front
    from hub.storage.feeds import Change

__all__ = ["Commands"]


class Commands:
    """The ``SocketPort`` of one front (``Front.commands``, attached to the host)."""

    __slots__ = (
        "_counters",
        "_fanout",
        "_presence",
        "_sockets",
        "_subscriptions",
        "_table",
        "_upgrades",
    )

    def __init__(self, front: Front) -> None:
        self._table = front.table
        self._sockets = front.sockets
        self._upgrades = front.upgrades
        self._subscriptions = front.subscriptions
        self._presence = front.presence
        self._counters = front.counters
        self._fanout = front.fanout

    # -- accepting --------------------------------------------------------------------

    def accept(self, upgrade_id: int, object_key: str, tags: Sequence[str]) -> int:
        """Register the pending upgrade ``upgrade_id`` as a socket of ``object_key``
        (the socket id is ``upgrade_id``)."""
        self._upgrades.check_acceptable(upgrade_id)
        self._table.add(object_key, tags, upgrade_id)
        self._upgrades.accepted(upgrade_id)
        return upgrade_id

    def abandon(self, socket_id: int) -> None:
        """Forget a socket whose upgrade will not complete."""
        self._upgrades.abandoned(socket_id)
        if self._table.find(socket_id) is not None:
            self._table.remove(socket_id)

    # -- the socket table -------------------------------------------------------------

    def socket_ids(self, object_key: str, tag: str | None) -> list[int]:
        """Ids of the OPEN sockets of ``object_key`` (with ``tag``)."""
        return [record.socket_id for record in self._table.open_sockets(object_key, tag)]

    def tags(self, socket_id: int) -> tuple[str, ...]:
        """The socket's tags (empty once it is gone)."""
        record = self._table.find(socket_id)
        return () if record is None else record.tags

    def set_tags(self, socket_id: int, tags: Sequence[str]) -> None:
        """Replace the socket's tags (a broadcast batch filtering on a tag is written
        first: ``hub.net.fanout`` rule 2)."""
        record = self._table.get(socket_id)
        self._fanout.flush_object(record.object_key, tagged_only=True)
        self._table.set_tags(socket_id, tags)

    def attachment(self, socket_id: int) -> bytes | None:
        """The socket's serialized attachment (None once it is gone)."""
        record = self._table.find(socket_id)
        return None if record is None else record.attachment

    def set_attachment(self, socket_id: int, data: bytes | None) -> None:
        """Replace the socket's serialized attachment."""
        self._table.set_attachment(socket_id, data)

    def ready_state(self, socket_id: int) -> int:
        """1 OPEN, 2 CLOSING, 3 CLOSED."""
        record = self._table.find(socket_id)
        return int(SocketState.CLOSED if record is None else record.state)

    # -- frames out -------------------------------------------------------------------

    def send(self, socket_id: int, data: str | bytes) -> None:
        """Send one message to one socket, if it is still open."""
        conn = self._sockets.get(socket_id)
        if conn is None or not conn.is_open:
            return
        if conn.v1 and isinstance(data, str):
            conn.send_text(roost_v1.message_frame(data))
        else:
            conn.send_message(data)
        self._counters.messages_out += 1
        self._counters.bytes_out += len(data)

    def broadcast(
        self, object_key: str, data: str | bytes, tag: str | None, exclude: Collection[int]
    ) -> int:
        """Frame ``data`` once and write it to every OPEN socket of the object.

        The recipients and the frames of one loop turn's broadcasts are kept together
        and written once per recipient at the end of the turn (``hub.net.fanout``).
        """
        batch = self._fanout.batch(object_key, tag)
        if batch is None:
            batch = self._select(object_key, tag)
            if batch is None:
                return 0
        opcode = Opcode.TEXT if isinstance(data, str) else Opcode.BINARY
        payload = data.encode("utf-8") if isinstance(data, str) else data
        frame = Frame(opcode, payload).serialize(mask=False)
        # roost.v1 sockets get text wrapped in a msg frame: built once too, if needed.
        v1_frame, wrapped = frame, payload
        if isinstance(data, str) and (batch.v1 or batch.extended):
            wrapped = roost_v1.message_frame(data)
            v1_frame = Frame(Opcode.TEXT, wrapped).serialize(mask=False)
        sent = batch.add(frame, v1_frame, exclude)
        for conn in batch.extended:
            if conn.socket_id not in exclude:
                if conn.v1:
                    conn.write_frame(v1_frame, opcode, wrapped)
                else:
                    conn.write_frame(frame, opcode, payload)
                sent += 1
        self._counters.messages_out += sent
        self._counters.bytes_out += sent * len(payload)
        return sent

    def _select(self, object_key: str, tag: str | None) -> Batch | None:
        """A batch to the object's OPEN sockets (with ``tag``), opened; None if none."""
        records = self._table.open_sockets(object_key, tag)
        if not records:
            return None
        sockets = self._sockets
        plain: list[Connection] = []
        v1: list[Connection] = []
        extended: list[Connection] = []
        ids: set[int] = set()
        for record in records:
            conn = sockets.get(record.socket_id)
            if conn is None or not conn.is_open:
                continue
            assert conn.ws is not None
            if conn.ws.extensions:
                extended.append(conn)
            else:
                (v1 if conn.v1 else plain).append(conn)
                ids.add(record.socket_id)
        batch = Batch(tag, plain, v1, extended, ids)
        self._fanout.open(object_key, batch)
        return batch

    def close(self, socket_id: int, code: int, reason: str) -> None:
        """Start the closing handshake of a socket."""
        conn = self._sockets.get(socket_id)
        if self._table.find(socket_id) is not None:
            self._table.mark_closing(socket_id)
        if conn is not None:
            conn.close_socket(code, reason)

    def acknowledge(self, socket_id: int, message_id: int, error: HubError | None) -> None:
        """Answer an exactly-once message: ``ack``, or ``error`` if its handler raised."""
        conn = self._sockets.get(socket_id)
        if conn is None or not conn.is_open:
            return  # the client resends it after reconnecting, and gets its ack then
        if error is None:
            conn.send_text(protocol.encode(protocol.Ack(id=message_id)))
        else:
            conn.send_text(roost_v1.error_frame(message_id, error))

    def answer(self, socket_id: int, call_id: int, result: Any, error: HubError | None) -> None:
        """Answer an ``auth`` frame: ``result``, or ``error`` (SPEC §6.6)."""
        conn = self._sockets.get(socket_id)
        if conn is None or not conn.is_open:
            return  # the client fails it with connection_lost (SPEC §6.8)
        if error is None:
            conn.send_text(protocol.encode(protocol.Result(id=call_id, result=result)))
        else:
            conn.send_text(roost_v1.error_frame(call_id, error))

    # -- auto-responses ---------------------------------------------------------------

    def set_auto_response(self, object_key: str, request: str | None, response: str | None) -> None:
        """Set or clear the object's auto-response pair."""
        self._table.set_auto_response(object_key, request, response)

    def auto_response(self, object_key: str) -> tuple[str, str] | None:
        """The object's auto-response pair."""
        return self._table.auto_response(object_key)

    def auto_response_timestamp(self, socket_id: int) -> float | None:
        """When the socket was last auto-responded to."""
        if self._table.find(socket_id) is None:
            return None
        return self._table.auto_response_timestamp(socket_id)

    # -- feeds and presence -----------------------------------------------------------

    def feed_answer(self, answer: FeedAnswer) -> None:
        """Send a subscription's snapshot or replay and go live; or refuse it."""
        record = self._table.find(answer.socket_id)
        if record is None:
            self._subscriptions.remove(answer.socket_id, answer.sub_id)
        elif isinstance(answer, FeedOpened):
            self._subscriptions.open(record.object_key, answer)
        elif isinstance(answer, FeedResetNeeded):
            reset = protocol.encode(protocol.Reset(id=answer.sub_id))
            self._subscriptions.refuse(answer.socket_id, answer.sub_id, reset)
        else:
            error = roost_v1.error_frame(answer.sub_id, answer.error)
            self._subscriptions.refuse(answer.socket_id, answer.sub_id, error)

    def feed_changes(self, object_key: str, changes: Sequence[Change]) -> None:
        """Deliver one event's committed changes to the object's subscribers."""
        self._counters.feed_frames += self._subscriptions.publish(object_key, changes)

    def feed_ended(self, object_key: str, table: str | None) -> None:
        """End subscriptions: ``reset`` (storage deleted) or ``no_such_feed`` (disabled)."""
        if table is None:
            self._subscriptions.end(
                object_key, None, lambda sub_id: protocol.encode(protocol.Reset(id=sub_id))
            )
        else:
            gone = NoSuchFeedError(f"{table!r} stopped being a feed table")
            self._subscriptions.end(
                object_key, table, lambda sub_id: roost_v1.error_frame(sub_id, gone)
            )

    def set_presence(self, socket_id: int, state: bytes | None) -> None:
        """Set or clear a socket's presence state (ignored once the socket is gone)."""
        record = self._table.find(socket_id)
        if record is not None and record.state is SocketState.OPEN:
            self._presence.set(record.object_key, socket_id, state)

    def presence_members(self, object_key: str) -> list[tuple[int, bytes]]:
        """The object's members, in join order."""
        return self._presence.members(object_key)
