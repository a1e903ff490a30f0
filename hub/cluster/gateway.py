"""A gateway process: holds the sockets, routes events to the worker of each object.

``Workers`` is the gateway's ``HostPort``: the front submits events to it exactly as it
would to an ``ObjectHost``, and it sends them down the link of the worker that runs the
object's partition. The worker's commands come back up and are applied to the front.

Rules:

1. Each partition has at most one *owner* link; events go to it in order. While a
   partition has no owner (its worker crashed, or is being replaced) its events are
   *held*, up to ``hold_limit``; over it, ``submit`` raises ``OverloadedError`` (the
   front closes the socket with 1013 or answers 503, as for a full object queue).
2. Replacing a worker: a second worker saying ``hello`` for an owned partition is the
   *standby*; the owner is told to ``retire`` and the partition's events are held. The
   owner finishes its events, sends their output, says ``retired``; the standby then
   gets the partition's sockets (``sync``) and the held events. No socket closes.
3. A worker lost without ``retired`` (a crash): requests, calls and ``auth`` frames it
   had are answered ``hub_stopping`` (retryable); exactly-once messages it had not
   acknowledged are held again for its successor, whose session record drops any it
   already committed; the partition's events are held until a worker says ``hello``.
4. Correlation ids, not objects, cross the link: fetches, calls, barriers and admin
   queries wait here under an id until their answer comes back.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.cluster.messages import (
    WIRE_VERSION,
    change_from_wire,
    error_from_wire,
    error_to_wire,
    event_to_wire,
    facts_from_wire,
    feed_answer_from_wire,
    message_head,
    message_to_wire,
    object_from_wire,
    object_to_wire,
    request_from_wire,
    request_to_wire,
    response_from_wire,
    tail_from_wire,
)
from hub.cluster.wire import Link, Message
from hub.errors import (
    HubError,
    HubStoppingError,
    OverloadedError,
    RpcError,
    UnknownBindingError,
)
from hub.histograms import merge
from hub.http import Response
from hub.ids import ObjectId, id_from_name, parse_id
from hub.net.sockets import SocketState
from hub.runtime.events import Event, FetchCall, SocketAuth, SocketMessage
from hub.runtime.host import partition_of
from hub.runtime.ports import HubStats, ObjectFacts, ObjectStats

if TYPE_CHECKING:
    from hub.net.front import Front

__all__ = ["Workers"]

log = logging.getLogger("roost.cluster")

#: Messages answered under a correlation id (their second item).
#: At most this many sockets' routes are kept (``Workers._route``).
_ROUTES_KEPT = 1 << 18
_ANSWERED = frozenset({"fetch", "call", "barrier", "hibernate", "report", "list", "inspect"})


@dataclass(slots=True)
class Partition:
    """One partition's worker links and the events waiting for a worker."""

    index: int
    owner: Link | None = None
    standby: Link | None = None
    #: The owner was asked to retire: events are held until it says ``retired``.
    retiring: bool = False
    held: list[Message] = field(default_factory=list)


@dataclass(slots=True)
class Pending:
    """Something waiting for an answer from a worker: who to tell, and over which link."""

    answer: Callable[[bool, Any], None]
    link: Link | None


class Workers:
    """The gateway's ``HostPort``: events to workers, their commands to the front."""

    def __init__(self, gateway: int, gateways: int, workers: int, *, hold_limit: int) -> None:
        self.gateway, self.gateways = gateway, gateways
        self.partitions = [Partition(index) for index in range(workers)]
        self.hold_limit = hold_limit
        self.front: Front | None = None
        #: binding -> the socket handlers its class defines (from the workers' hello).
        self.handlers: dict[str, frozenset[str]] = {}
        self.ready = asyncio.Event()
        self._pending: dict[int, Pending] = {}
        self._ids = itertools.count(1)
        #: (socket, message id) -> (partition, message, link it went to): exactly-once
        #: messages not acknowledged yet, replayed to a crashed worker's successor.
        self._unacked: dict[tuple[int, int], tuple[int, Message, Link | None]] = {}
        #: (socket, auth id) -> (partition, link it went to): ``auth`` frames not
        #: answered yet, answered ``hub_stopping`` if that worker is lost.
        self._unanswered: dict[tuple[int, int], tuple[int, Link | None]] = {}
        #: socket -> (partition, head of its ``msg`` messages), while the socket is open.
        self._routes: dict[int, tuple[int, tuple[Any, ...]]] = {}
        self._commands: dict[str, Callable[[Link, Message], None]] = {
            "hello": self._on_hello,
            "retired": self._on_retired,
            "accept": self._on_accept,
            "abandon": lambda link, m: self._front.commands.abandon(m[1]),
            "tags": lambda link, m: self._front.commands.set_tags(m[1], m[2]),
            "attachment": lambda link, m: self._front.commands.set_attachment(m[1], m[2]),
            "broadcast": self._on_broadcast,
            "close": lambda link, m: self._front.commands.close(m[1], m[2], m[3]),
            "ack": self._on_ack,
            "answer": self._on_answer,
            "auto_response": lambda link, m: self._front.commands.set_auto_response(
                m[1], m[2], m[3]
            ),
            "presence": self._on_presence,
            "tail": lambda link, m: self._front.tail.add(tail_from_wire(m[1:])),
            "feed_answer": lambda link, m: self._front.commands.feed_answer(
                feed_answer_from_wire(m[1])
            ),
            "feed_changes": lambda link, m: self._front.commands.feed_changes(
                m[1], [change_from_wire(c) for c in m[2]]
            ),
            "feed_ended": lambda link, m: self._front.commands.feed_ended(m[1], m[2]),
            "fetched": self._on_fetched,
            "failed": self._on_failed,
            "result": self._on_result,
            "reached": lambda link, m: self._settle(m[1], True, None),
            "call": self._on_call,
            "fetch": self._on_fetch_call,
        }

    @property
    def _front(self) -> Front:
        assert self.front is not None
        return self.front

    # -- HostPort -------------------------------------------------------------------------

    def object_id(self, binding: str, name: str) -> ObjectId:
        """The id of ``name`` in ``binding`` (bindings as the workers reported them)."""
        self._known(binding)
        return id_from_name(binding, name)

    def parse_id(self, binding: str, hex_id: str) -> ObjectId:
        """The id ``hex_id`` of ``binding`` (bindings as the workers reported them)."""
        self._known(binding)
        return parse_id(binding, hex_id)

    def _known(self, binding: str) -> None:
        if binding not in self.handlers:
            known = ", ".join(sorted(self.handlers)) or "none"
            raise UnknownBindingError(f"unknown binding {binding!r}, expected one of: {known}")

    def handles(self, binding: str, handler: str) -> bool:
        """True if the workers said the class of ``binding`` defines ``handler``."""
        return handler in self.handlers.get(binding, ())

    def submit(self, object_id: ObjectId, event: Event) -> None:
        """Send ``event`` to the object's worker (held while it has none)."""
        if isinstance(event, SocketMessage):  # first: by far the most frequent
            route = self._routes.get(event.socket_id)
            if route is None:
                route = self._route(object_id, event.socket_id)
            index, head = route
            message = message_to_wire(head, event)
            # ``_send``, inline for the most frequent message of all; held when the
            # partition has no owner (or it is retiring).
            workers = self.partitions[index]
            link = workers.owner
            if link is not None and not workers.retiring:
                link.send(message)
            else:
                link = self._send(index, message)
            if event.message_id is not None:
                self._unacked[(event.socket_id, event.message_id)] = (index, message, link)
            return
        partition = partition_of(object_id.hex, len(self.partitions))
        wire_object = object_to_wire(object_id)
        if isinstance(event, FetchCall):
            respond = event.respond
            call_id = self._expect(
                partition, lambda ok, value: respond(response_from_wire(ok, value))
            )
            try:
                wire_request = request_to_wire(event.request)
                chain = list(event.chain)
                self._send(partition, ("fetch", call_id, wire_object, wire_request, chain))
            except HubError:
                del self._pending[call_id]
                raise
            return
        link = self._send(partition, ("event", wire_object, event_to_wire(event)))
        if isinstance(event, SocketAuth):
            self._unanswered[(event.socket_id, event.call_id)] = (partition, link)

    def _route(self, object_id: ObjectId, socket_id: int) -> tuple[int, tuple[Any, ...]]:
        """The partition of a socket's object and the head of its ``msg`` messages, kept
        until the socket is gone: a socket's object never changes, and working them out
        again for every message (parsing the id's hex digits) would cost more."""
        if len(self._routes) >= _ROUTES_KEPT:  # a bound, should a socket not say it left
            self._routes.clear()
        route = (partition_of(object_id.hex, len(self.partitions)), message_head(object_id))
        self._routes[socket_id] = route
        return route

    def call_wire(
        self,
        object_id: ObjectId,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
        chain: tuple[str, ...] = (),
        *,
        form: bool = False,
    ) -> asyncio.Future[Any]:
        """Call a method of the object in its worker."""
        partition = partition_of(object_id.hex, len(self.partitions))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        call_id = self._expect(partition, _into(future))
        wire_object = object_to_wire(object_id)
        message = ("call", call_id, wire_object, method, args, kwargs, list(chain), form)
        try:
            self._send(partition, message)
        except HubError:
            self._pending.pop(call_id, None)
            raise
        return future

    def after_queued(self, object_id: ObjectId, reached: Callable[[], None]) -> None:
        """``reached()`` once the worker handled what was sent for the object so far."""
        index = partition_of(object_id.hex, len(self.partitions))
        partition = self.partitions[index]
        if partition.owner is None and not partition.held:
            reached()
            return
        barrier_id = self._expect(index, lambda ok, value: reached())
        self._send(index, ("barrier", barrier_id, object_to_wire(object_id)), bounded=False)

    async def hibernate(self, object_id: ObjectId) -> bool:
        """Ask the object's worker to evict it."""
        index = partition_of(object_id.hex, len(self.partitions))
        value = await self._ask(index, ("hibernate", object_to_wire(object_id)))
        return bool(value)

    async def inspect(self, object_id: ObjectId) -> ObjectFacts:
        """Ask the object's worker what it knows of the object (never wakes it)."""
        index = partition_of(object_id.hex, len(self.partitions))
        return facts_from_wire(await self._ask(index, ("inspect", object_to_wire(object_id))))

    async def report(self) -> HubStats:
        """Every worker's counts and latency histograms, added up (a worker that
        restarted starts its part from zero)."""
        reports = [
            await self._ask(p.index, ("report",)) for p in self.partitions if p.owner is not None
        ]
        objects = [ObjectStats(*row) for report in reports for row in report["objects"]]
        active = sum(report["active"] for report in reports)
        known = max((report["evicted"] + report["active"] for report in reports), default=0)
        return HubStats(
            active=active,
            evicted=max(0, known - active),
            activations=sum(report["activations"] for report in reports),
            evictions=sum(report["evictions"] for report in reports),
            alarms_scheduled=sum(report["alarms_scheduled"] for report in reports),
            objects=objects,
            latencies=merge(report["latencies"] for report in reports),
            backup_lag_seconds=_worst_lag(report.get("backup_lag_seconds") for report in reports),
        )

    async def list_objects(self) -> list[tuple[str, str, str | None]]:
        """Every worker's objects with a file."""
        found: list[tuple[str, str, str | None]] = []
        for partition in self.partitions:
            if partition.owner is not None:
                rows = await self._ask(partition.index, ("list",))
                found += [(b, i, n) for b, i, n in rows]
        return sorted(found)

    def socket_gone(self, object_id: ObjectId, socket_id: int) -> None:
        """The front dropped a socket: the worker's mirror forgets it."""
        if self._unacked:  # most often empty: no scan then
            for key in [key for key in self._unacked if key[0] == socket_id]:
                del self._unacked[key]  # the client resends them after it reconnects
        if self._unanswered:
            for key in [key for key in self._unanswered if key[0] == socket_id]:
                del self._unanswered[key]  # the client fails them with connection_lost
        self._routes.pop(socket_id, None)
        partition = partition_of(object_id.hex, len(self.partitions))
        self._send(partition, ("gone", socket_id), bounded=False)

    def auto_responded(self, object_id: ObjectId, socket_id: int, at: float) -> None:
        """The front auto-responded on a socket at ``at``: the mirror keeps the time."""
        partition = partition_of(object_id.hex, len(self.partitions))
        self._send(partition, ("auto_at", socket_id, at), bounded=False)

    # -- sending --------------------------------------------------------------------------

    def _send(self, index: int, message: Message, *, bounded: bool = True) -> Link | None:
        """To the partition's owner; held while it has none. The link it went to."""
        partition = self.partitions[index]
        owner = partition.owner
        if owner is not None and not partition.retiring:
            owner.send(message)
            return owner
        if bounded and len(partition.held) >= self.hold_limit:
            raise OverloadedError(
                f"{len(partition.held)} events are waiting for worker {index},"
                f" expected at most {self.hold_limit}"
            )
        partition.held.append(message)
        return None

    def _expect(self, index: int, answer: Callable[[bool, Any], None]) -> int:
        call_id = next(self._ids)
        partition = self.partitions[index]
        link = partition.owner if not partition.retiring else None
        self._pending[call_id] = Pending(answer, link)
        return call_id

    async def _ask(self, index: int, message: Message) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        call_id = self._expect(index, _into(future))
        self._send(index, (message[0], call_id, *message[1:]), bounded=False)
        return await future

    def _settle(self, call_id: int, ok: bool, value: Any) -> None:
        pending = self._pending.pop(call_id, None)
        if pending is not None:
            pending.answer(ok, value)

    # -- links from workers -----------------------------------------------------------------

    def on_message(self, link: Link, message: Message) -> None:
        """One message from a worker."""
        try:
            if message[0] == "send":  # by far the most frequent: no table, no lambda
                front = self.front
                assert front is not None
                front.commands.send(message[1], message[2])
            else:
                self._commands[message[0]](link, message)
        except (HubError, KeyError, ValueError) as exc:
            log.warning("worker command %s refused: %s", message[0], exc)

    def on_lost(self, link: Link) -> None:
        """A worker link closed: after ``retired``, or a crash."""
        for partition in self.partitions:
            if partition.standby is link:
                partition.standby = None
            if partition.owner is not link:
                continue
            log.warning("worker %d went away without retiring", partition.index)
            partition.owner = None
            partition.retiring = False
            self._fail_pending(link)
            replay = [
                message
                for (index, message, sent_to) in self._unacked.values()
                if index == partition.index and sent_to is link
            ]
            partition.held[:0] = replay
            if partition.standby is not None:
                self._promote(partition, partition.standby)

    def _on_hello(self, link: Link, message: Message) -> None:
        version = message[1] if len(message) == 6 else None
        if version != WIRE_VERSION:
            log.error(
                "a worker speaks cluster wire version %s, this gateway %d: a worker of"
                " another Roost version cannot join (upgrading Roost needs a full restart,"
                " not a reload); turned away",
                version,
                WIRE_VERSION,
            )
            link.abort()
            return
        _kind, _version, index, count, generation, handlers = message
        if count != len(self.partitions) or not 0 <= index < count:
            log.error(
                "worker %d of %d does not fit %d partitions", index, count, len(self.partitions)
            )
            link.abort()
            return
        link.peer = (index, generation)
        self.handlers.update({b: frozenset(names) for b, names in handlers.items()})
        partition = self.partitions[index]
        if partition.owner is None:
            self._promote(partition, link)
            return
        if partition.standby is not None:
            partition.standby.abort()  # a newer generation replaces an older standby
        partition.standby = link
        if not partition.retiring:
            partition.retiring = True
            partition.owner.send(("retire",))

    def _on_retired(self, link: Link, message: Message) -> None:
        for partition in self.partitions:
            if partition.owner is link:
                partition.owner = None
                partition.retiring = False
                self._fail_pending(link)  # answered already, unless its deadline passed
                if partition.standby is not None:
                    self._promote(partition, partition.standby)

    def _promote(self, partition: Partition, link: Link) -> None:
        """Make ``link`` the partition's owner: its sockets, then the held events."""
        partition.owner, partition.standby, partition.retiring = link, None, False
        records, presence = self._sockets_of(partition.index)
        link.send(("sync", records, presence))
        held, partition.held = partition.held, []
        for message in held:
            if message[0] in _ANSWERED:
                self._pending[message[1]].link = link
            if message[0] == "msg" and message[7] is not None:
                key = (message[4], message[7])
                if key in self._unacked:
                    self._unacked[key] = (partition.index, message, link)
            if message[0] == "event" and message[2][0] == "auth":
                key = (message[2][1], message[2][2])
                if key in self._unanswered:
                    self._unanswered[key] = (partition.index, link)
            link.send(message)
        log.info("worker %s runs partition %d", link.peer, partition.index)
        if all(p.owner is not None for p in self.partitions):
            self.ready.set()

    def _sockets_of(self, index: int) -> tuple[list[Any], list[Any]]:
        front = self._front
        count = len(self.partitions)
        records: list[Any] = []
        presence: list[Any] = []
        for key in front.table.objects():
            if partition_of(key, count) != index:
                continue
            for record in front.table.records(key):
                object_id = front.object_of(record.socket_id)
                if object_id is None:
                    continue  # accepted, upgrade not complete: the worker has it already
                records.append(
                    (
                        record.socket_id,
                        object_id.binding,
                        key,
                        object_id.name,
                        list(record.tags),
                        record.attachment,
                        record.state is SocketState.CLOSING,
                        record.auto_response_at,
                    )
                )
            presence += [(key, sid, state) for sid, state in front.presence.members(key)]
        return records, presence

    def _fail_pending(self, link: Link) -> None:
        gone = HubStoppingError("the worker stopped before answering")
        for call_id, pending in list(self._pending.items()):
            if pending.link is link:
                self._settle(call_id, False, error_to_wire(gone))
        for key, (_index, sent_to) in list(self._unanswered.items()):
            if sent_to is link:
                del self._unanswered[key]
                self._front.commands.answer(key[0], key[1], None, gone)

    # -- commands ---------------------------------------------------------------------------

    def _on_accept(self, link: Link, message: Message) -> None:
        _kind, socket_id, key, tags = message
        try:
            self._front.commands.accept(socket_id, key, tags)
        except (HubError, ValueError) as exc:
            # The client left before its object accepted it: the worker forgets it too.
            log.info("accept of socket %d refused: %s", socket_id, exc)
            link.send(("gone", socket_id))

    def _on_broadcast(self, link: Link, message: Message) -> None:
        _kind, key, data, tag, exclude = message
        self._front.commands.broadcast(key, data, tag, set(exclude))

    def _on_ack(self, link: Link, message: Message) -> None:
        _kind, socket_id, message_id, error = message
        self._unacked.pop((socket_id, message_id), None)
        failure = None if error is None else error_from_wire(error, HubError)
        self._front.commands.acknowledge(socket_id, message_id, failure)

    def _on_answer(self, link: Link, message: Message) -> None:
        _kind, socket_id, call_id, result, error = message
        self._unanswered.pop((socket_id, call_id), None)
        failure = None if error is None else error_from_wire(error, HubError)
        self._front.commands.answer(socket_id, call_id, result, failure)

    def _on_presence(self, link: Link, message: Message) -> None:
        _kind, key, socket_id, state = message
        front = self._front
        if front.table.find(socket_id) is not None:
            front.commands.set_presence(socket_id, state)
        elif socket_id % self.gateways != self.gateway:
            front.presence.set(key, socket_id, state)  # a member held by another gateway

    def _on_fetched(self, link: Link, message: Message) -> None:
        _kind, call_id, status, headers, body = message
        self._settle(call_id, True, (status, headers, body))

    def _on_failed(self, link: Link, message: Message) -> None:
        self._settle(message[1], False, message[2])

    def _on_result(self, link: Link, message: Message) -> None:
        _kind, call_id, ok, value = message
        self._settle(call_id, ok, value)

    def _on_call(self, link: Link, message: Message) -> None:
        """A worker calls an object of another worker: route it, send the result back."""
        _kind, call_id, wire_object, method, args, kwargs, chain = message
        try:
            reply = self.call_wire(
                object_from_wire(wire_object), method, args, kwargs, tuple(chain)
            )
        except HubError as error:
            link.send(("result", call_id, False, error_to_wire(error)))
            return

        def answer(done: asyncio.Future[Any]) -> None:
            error = done.exception()
            if error is None:
                link.send(("result", call_id, True, done.result()))
            else:
                assert isinstance(error, HubError)
                link.send(("result", call_id, False, error_to_wire(error)))

        reply.add_done_callback(answer)

    def _on_fetch_call(self, link: Link, message: Message) -> None:
        """A worker's ``stub.fetch`` to an object of another worker: route it, send the
        answer back."""
        _kind, call_id, wire_object, wire_request, chain = message

        def respond(result: Response | RpcError) -> None:
            if isinstance(result, RpcError):
                link.send(("failed", call_id, error_to_wire(result)))
            else:
                headers = result.headers.raw_items()
                link.send(("fetched", call_id, result.status, headers, result.body))

        request = request_from_wire(wire_request)
        try:
            self.submit(object_from_wire(wire_object), FetchCall(request, respond, tuple(chain)))
        except HubError as error:
            link.send(("failed", call_id, error_to_wire(error)))


def _into(future: asyncio.Future[Any]) -> Callable[[bool, Any], None]:
    def answer(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(error_from_wire(value))

    return answer


def _worst_lag(lags: Iterable[float | None]) -> float | None:
    """The largest backup lag of the workers (None when none backs up)."""
    known = [lag for lag in lags if lag is not None]
    return max(known) if known else None
