"""A worker process: runs the objects of one partition behind the gateways.

Rules:

1. Worker ``index`` of ``count`` runs exactly the objects whose id falls in its
   partition (``hub.runtime.host.partition_of``); a call to any other object goes through
   a gateway to the worker that runs it. The exclusive lock on each object file is the
   fence: a worker never opens a file another process still has open.
2. The worker dials every gateway (``gateway-J.sock`` in the run directory) and says
   ``hello``. A gateway that already has a worker for the partition asks that one to
   ``retire`` and holds the partition's events meanwhile; this worker gets the sockets
   (``sync``) and the held events once the old one is ``retired``.
3. Taking the partition over: events wait until every gateway sent its sockets
   (``sync``), so a broadcast reaches the sockets of every gateway (``SYNC_WAIT`` at
   most, for a gateway that is down). Alarms start then.
4. Retiring (every connected gateway said ``retire``, or SIGTERM): take no new event,
   finish the queued ones and commit them (within ``shutdown_timeout``), send what they
   output, say ``retired``, exit.
5. A gateway that goes away takes its sockets with it: each gets ``websocket_close``
   (1006) where the class handles it, and the worker dials the gateway again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.app import Hub
from hub.cluster.messages import (
    WIRE_VERSION,
    error_from_wire,
    error_to_wire,
    event_from_wire,
    facts_to_wire,
    object_to_wire,
    request_from_wire,
    request_to_wire,
    response_from_wire,
)
from hub.cluster.mirror import MirrorPort
from hub.cluster.paths import gateway_path, worker_ready_path
from hub.cluster.wire import Link, Message
from hub.errors import HubError, HubStoppingError, InternalError, OverloadedError, RpcError
from hub.http import Request, Response
from hub.ids import ObjectId
from hub.net.tail import Fields, LogTap
from hub.runtime.activation import call_chain
from hub.runtime.events import (
    Event,
    FeedSubscribe,
    FetchCall,
    SocketAuth,
    SocketClosed,
    SocketErrored,
    SocketMessage,
)
from hub.runtime.ports import FeedRefused, HubStats

__all__ = ["HANDLERS", "Worker"]

log = logging.getLogger("roost.cluster")

#: Messages that run object code or read the mirror: they wait for every gateway's sync.
_WAIT_FOR_SYNC = frozenset(
    {"msg", "event", "fetch", "call", "barrier", "hibernate", "report", "list", "inspect"}
)
#: Seconds a worker taking a partition over waits for the sockets of every gateway.
SYNC_WAIT = 5.0

#: The socket handlers a gateway needs to know of (it does not wake an object for a
#: close or an error it would not handle).
HANDLERS = ("websocket_message", "websocket_auth", "websocket_close", "websocket_error")


class Worker:
    """One worker process's runtime and its links to the gateways."""

    def __init__(
        self,
        app: Hub,
        *,
        index: int,
        count: int,
        gateways: int,
        generation: int,
        run_dir: Path,
        shutdown_timeout: float,
    ) -> None:
        self.app = app
        self.host = app.host
        self.index, self.count, self.generation = index, count, generation
        self.run_dir = run_dir
        self.shutdown_timeout = shutdown_timeout
        self.host.partition = (index, count)
        self.host.forward = self._forward
        self.host.forward_fetch = self._forward_fetch
        # A file the previous worker still has open: it has this long to let it go.
        self.host.lock_timeout = shutdown_timeout + 5.0
        self.mirror = MirrorPort(self.host.limits, gateways)
        self._retire_from: set[int] = set()
        self._stop = asyncio.Event()
        self._stopping = False
        #: Events wait here until every gateway sent its sockets (``sync``): handled
        #: earlier, a broadcast would miss the sockets of a gateway not heard yet.
        self._released = False
        self._synced: set[int] = set()
        self._waiting: list[tuple[Link, Message]] = []
        self._calls: dict[int, tuple[asyncio.Future[Any], Link]] = {}
        self._ids = itertools.count(1)
        #: hex -> (binding, name, id) of ``_object_of``'s last answer for the object; its
        #: id is always the one ``mirror.objects`` holds (only ``_object_of`` replaces it).
        self._named: dict[str, tuple[str, str | None, ObjectId]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tap = LogTap(self._tell_gateways, events_only=True)
        self._handlers: dict[str, Callable[[Link, Message], None]] = {
            "sync": self._on_sync,
            "gone": self._on_gone,
            "auto_at": self._on_auto_at,
            "event": self._on_event,
            "fetch": self._on_fetch,
            "call": self._on_call,
            "barrier": self._on_barrier,
            "hibernate": self._on_admin,
            "report": self._on_admin,
            "list": self._on_admin,
            "inspect": self._on_admin,
            "result": self._on_result,
            "fetched": self._on_fetched,
            "failed": lambda link, m: self._settle(m[1], False, m[2]),
            "retire": self._on_retire,
        }

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the objects, dial the gateways, serve until retired or told to stop."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, lambda: None)  # the supervisor decides
        self._tap.attach()  # the gateways' inspector tails get this worker's events
        try:
            await self.host.start(alarms=False)
            self.app.running = True
            self.host.attach(self.mirror)
            await asyncio.gather(*(self._dial(j) for j in range(len(self.mirror.links))))
            # The supervisor's cue: from now on the previous worker is retiring.
            worker_ready_path(self.run_dir, self.index, self.generation).touch()
            await self._stop.wait()
            await self._retire()
        finally:
            self._tap.detach()

    async def _retire(self) -> None:
        self._release()  # what waited for the sockets is handled before the drain
        self._stopping = True
        log.info("worker %d.%d retiring", self.index, self.generation)
        await self.app.stop(self.shutdown_timeout)
        self._tap.detach()
        links = [link for link in self.mirror.links if link is not None]
        for link in links:
            link.send(("retired",))
        for link in links:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.drain(), 5.0)
            link.close()
        for task in self._tasks:
            task.cancel()

    async def _dial(self, gateway: int) -> None:
        """Connect to gateway ``gateway`` (retrying while it starts) and say hello."""
        loop = asyncio.get_running_loop()
        path = gateway_path(self.run_dir, gateway)
        while not self._stopping:
            try:
                _transport, link = await loop.create_unix_connection(
                    lambda: Link(self._on_message, self._on_lost), str(path)
                )
            except OSError:
                await asyncio.sleep(0.05)
                continue
            link.peer = gateway
            self.mirror.links[gateway] = link
            handlers = {
                binding: [name for name in HANDLERS if self.host.handles(binding, name)]
                for binding in self.host.namespaces
            }
            hello = ("hello", WIRE_VERSION, self.index, self.count, self.generation, handlers)
            link.send(hello)
            return

    def _tell_gateways(self, fields: Fields) -> None:
        for link in self.mirror.links:
            if link is not None:
                link.send(("tail", *fields))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- links ------------------------------------------------------------------------------

    def _on_message(self, link: Link, message: Message) -> None:
        kind = message[0]
        if not self._released and kind in _WAIT_FOR_SYNC:
            self._waiting.append((link, message))
        elif kind == "msg":  # by far the most frequent message: handled here, no table
            # ``message_from_wire``, inline; ``_named`` holds what ``_object_of`` last
            # answered for the object, so the usual message compares two strings.
            _kind, binding, hex_id, name, socket_id, data, session, message_id = message
            event = SocketMessage(socket_id, data, session, message_id)
            named = self._named.get(hex_id)
            if named is not None and named[1] == name and named[0] == binding:
                object_id = named[2]
            else:
                object_id = self._object_of(binding, hex_id, name)
            try:  # ``_submit``, inline
                self.host.submit(object_id, event)
            except (OverloadedError, HubStoppingError) as error:
                self._refused(object_id, event, error)
        else:
            self._handlers[kind](link, message)

    def _on_lost(self, link: Link) -> None:
        gateway = link.peer
        if self.mirror.links[gateway] is link:
            self.mirror.links[gateway] = None
        self._retire_from.discard(gateway)
        lost = HubStoppingError("the gateway that carried this call went away")
        for call_id, (future, via) in list(self._calls.items()):
            if via is link:
                del self._calls[call_id]
                if not future.done():
                    future.set_exception(lost)
        if self._stopping:
            return
        for socket_id, key, tags, attachment in self.mirror.drop_gateway(gateway):
            object_id = self.mirror.objects.get(key)
            if object_id is None or not self.host.handles(object_id.binding, "websocket_close"):
                continue
            event = SocketClosed(socket_id, 1006, "", False, tags, attachment)
            self._submit(object_id, event)
        log.warning("gateway %d went away: dialling it again", gateway)
        self._spawn(self._dial(gateway))
        self._check_retired()

    def _on_retire(self, link: Link, message: Message) -> None:
        self._retire_from.add(link.peer)
        self._check_retired()

    def _check_retired(self) -> None:
        connected = {j for j, link in enumerate(self.mirror.links) if link is not None}
        if self._retire_from and connected <= self._retire_from:
            self._stop.set()

    # -- facts ------------------------------------------------------------------------------

    def _on_sync(self, link: Link, message: Message) -> None:
        _kind, records, presence = message
        self.mirror.sync(link.peer, records, presence)
        for key, socket_id, state in self.mirror.members_elsewhere(link.peer):
            link.send(("presence", key, socket_id, state))
        if self._released:
            return
        if not self._synced:  # a gateway that never syncs must not hold events for good
            asyncio.get_running_loop().call_later(SYNC_WAIT, self._release)
        self._synced.add(link.peer)
        if len(self._synced) == len(self.mirror.links):
            self._release()

    def _release(self) -> None:
        """Every gateway's sockets are here (or ``SYNC_WAIT`` passed): the partition is
        ours. Handle the events that waited, in order; start firing alarms."""
        if self._released:
            return
        self._released = True
        missing = set(range(len(self.mirror.links))) - self._synced
        if missing:
            log.warning("no sockets from gateways %s after %.0f s: going on", missing, SYNC_WAIT)
        waiting, self._waiting = self._waiting, []
        for link, message in waiting:
            if link.is_open:
                self._on_message(link, message)
        self._spawn(self.host.scheduler.start())

    def _on_gone(self, link: Link, message: Message) -> None:
        self.mirror.forget(message[1])

    def _on_auto_at(self, link: Link, message: Message) -> None:
        self.mirror.auto_at(message[1], message[2])

    # -- events -----------------------------------------------------------------------------

    def _object(self, value: Any) -> ObjectId:
        binding, hex_id, name = value
        return self._object_of(binding, hex_id, name)

    def _object_of(self, binding: str, hex_id: str, name: str | None) -> ObjectId:
        """The object's id, the one the mirror keeps while the binding and name stay the
        same (one ``ObjectId`` per object, not one per message)."""
        known = self.mirror.objects.get(hex_id)
        if known is None or known.name != name or known.binding != binding:
            known = self.mirror.objects[hex_id] = ObjectId(binding, hex_id, name)
        self._named[hex_id] = (binding, name, known)
        return known

    def _on_event(self, link: Link, message: Message) -> None:
        object_id = self._object(message[1])
        event = event_from_wire(message[2])
        if isinstance(event, SocketClosed | SocketErrored):
            self.mirror.forget(event.socket_id)
        self._submit(object_id, event)

    def _submit(self, object_id: ObjectId, event: Event) -> None:
        try:
            self.host.submit(object_id, event)
        except (OverloadedError, HubStoppingError) as error:
            self._refused(object_id, event, error)

    def _refused(
        self, object_id: ObjectId, event: Event, error: OverloadedError | HubStoppingError
    ) -> None:
        """The host refused a socket event: answer it as one process would."""
        if isinstance(event, SocketMessage):
            # As in one process: a full queue closes the socket (1013); the client
            # resends what was not acknowledged.
            if isinstance(error, OverloadedError):
                self.mirror.close(event.socket_id, 1013, "object overloaded")
        elif isinstance(event, FeedSubscribe):
            self.mirror.feed_answer(FeedRefused(event.socket_id, event.sub_id, error))
        elif isinstance(event, SocketAuth):
            self.mirror.answer(event.socket_id, event.call_id, None, error)
        else:
            log.warning("socket event for %r dropped: %s", object_id, error.code)

    def _on_fetch(self, link: Link, message: Message) -> None:
        _kind, call_id, wire_object, wire_request, chain = message
        object_id = self._object(wire_object)

        def respond(result: Response | RpcError) -> None:
            if isinstance(result, RpcError):
                link.send(("failed", call_id, error_to_wire(result)))
            else:
                headers = result.headers.raw_items()
                link.send(("fetched", call_id, result.status, headers, result.body))

        try:
            request = request_from_wire(wire_request)
            self.host.submit(object_id, FetchCall(request, respond, tuple(chain)))
        except HubError as error:
            link.send(("failed", call_id, error_to_wire(error)))

    def _on_call(self, link: Link, message: Message) -> None:
        _kind, call_id, wire_object, method, args, kwargs, chain, form = message
        object_id = self._object(wire_object)
        token = call_chain.set(tuple(chain))
        try:
            reply = self.host.call_wire(object_id, method, args, kwargs, form=form)
        except HubError as error:
            link.send(("result", call_id, False, error_to_wire(error)))
            return
        finally:
            call_chain.reset(token)
        reply.add_done_callback(lambda done: link.send(_result(call_id, done)))

    def _on_barrier(self, link: Link, message: Message) -> None:
        barrier_id = message[1]
        self.host.after_queued(self._object(message[2]), lambda: link.send(("reached", barrier_id)))

    def _on_admin(self, link: Link, message: Message) -> None:
        kind, call_id = message[0], message[1]

        async def answer() -> None:
            try:
                value: Any
                if kind == "hibernate":
                    value = await self.host.hibernate(self._object(message[2]))
                elif kind == "report":
                    value = _report_to_wire(self.host.stats())
                elif kind == "inspect":
                    value = facts_to_wire(await self.host.inspect(self._object(message[2])))
                else:
                    listed = await self.host.list_objects()
                    value = [entry for entry in listed if self.host.owns(entry[1])]
            except HubError as error:
                link.send(("result", call_id, False, error_to_wire(error)))
            else:
                link.send(("result", call_id, True, value))

        self._spawn(answer())

    # -- calls to other workers' objects ----------------------------------------------------

    def _forward_fetch(
        self, object_id: ObjectId, request: Request, chain: tuple[str, ...]
    ) -> asyncio.Future[Response]:
        """``stub.fetch`` to an object of another worker, through a gateway."""
        call_id, link, future = self._outgoing()
        wire = ("fetch", call_id, object_to_wire(object_id), request_to_wire(request), list(chain))
        link.send(wire)
        return future

    def _on_fetched(self, link: Link, message: Message) -> None:
        _kind, call_id, status, headers, body = message
        self._settle(call_id, True, (status, headers, body))

    def _settle(self, call_id: int, ok: bool, value: Any) -> None:
        entry = self._calls.pop(call_id, None)
        if entry is None or entry[0].done():
            return
        result = response_from_wire(ok, value)
        if isinstance(result, RpcError):
            entry[0].set_exception(result)
        else:
            entry[0].set_result(result)

    def _outgoing(self) -> tuple[int, Link, asyncio.Future[Any]]:
        """A new call id, the gateway link to send it on, and the future it settles."""
        link = next((link for link in self.mirror.links if link is not None), None)
        if link is None:
            raise HubStoppingError("no gateway is connected to reach that object")
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = (future, link)
        return call_id, link, future

    def _forward(
        self,
        object_id: ObjectId,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
        chain: tuple[str, ...],
    ) -> asyncio.Future[Any]:
        call_id, link, future = self._outgoing()
        message = ("call", call_id, object_to_wire(object_id), method, args, kwargs, list(chain))
        link.send(message)
        return future

    def _on_result(self, link: Link, message: Message) -> None:
        _kind, call_id, ok, value = message
        entry = self._calls.pop(call_id, None)
        if entry is None or entry[0].done():
            return
        if ok:
            entry[0].set_result(value)
        else:
            entry[0].set_exception(error_from_wire(value))


def _result(call_id: int, done: asyncio.Future[Any]) -> Message:
    if done.cancelled():
        return ("result", call_id, False, error_to_wire(HubStoppingError("call cancelled")))
    error = done.exception()
    if error is None:
        return ("result", call_id, True, done.result())
    if not isinstance(error, HubError):
        log.error("call failed", exc_info=error)
        error = InternalError("internal error")
    return ("result", call_id, False, error_to_wire(error))


def _report_to_wire(stats: HubStats) -> dict[str, Any]:
    return {
        "active": stats.active,
        "evicted": stats.evicted,
        "activations": stats.activations,
        "evictions": stats.evictions,
        "alarms_scheduled": stats.alarms_scheduled,
        "latencies": stats.latencies,
        "backup_lag_seconds": stats.backup_lag_seconds,
        "objects": [
            [o.binding, o.id, o.name, o.queued, o.idle_seconds, o.not_evictable]
            for o in stats.objects
        ],
    }
