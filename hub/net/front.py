"""The network front: requests in, object events out; object commands in, frames out.

Rules:

1. The front owns the socket table and the map from socket id to connection. Objects
   reach sockets only through the ``SocketPort`` methods below (commands); the front
   reaches objects only by submitting events to the host. Neither holds the other's
   state, so the front can later move into a gateway process of its own.
2. A broadcast builds its frame once and writes the same bytes to every recipient.
3. A message matching the object's auto-response is answered here, without an event.
4. Errors become HTTP statuses and stable codes in one place (``hub.net.answers``); text
   of unexpected exceptions never reaches a client.
5. A request is routed on its target alone; ``Host`` is validated and only names the
   URL an object sees (``routes.request_url``).
6. Stopping has three steps, driven by the server: ``begin_drain`` (from then on a new
   request is answered 503 ``hub_stopping`` and every answer closes its connection),
   ``drain`` (wait for the requests in flight, up to a deadline, then cancel them), and
   ``close_connections`` (Close 1001 / 1012 to every socket, end the rest).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from websockets.frames import Frame, Opcode

import protocol
from hub.errors import (
    HubError,
    HubStoppingError,
    InternalError,
    InvalidArgumentsError,
    NoSuchFeedError,
    OverloadedError,
    RpcError,
    WebSocketError,
)
from hub.http import Request, Response
from hub.net import admin, roost_v1, routes
from hub.net.answers import JSON, error_response
from hub.net.connection import Connection
from hub.net.feeds import Subscriptions
from hub.net.http1 import ParsedRequest
from hub.net.metrics import Counters
from hub.net.presence import PresenceTable
from hub.net.sockets import SocketState, SocketTable
from hub.runtime.events import FetchCall, SocketClosed, SocketErrored, SocketMessage
from hub.runtime.ports import FeedAnswer, FeedOpened, FeedResetNeeded

if TYPE_CHECKING:
    from hub.clock import Clock
    from hub.ids import ObjectId
    from hub.limits import Limits
    from hub.runtime.ports import HostPort
    from hub.storage.feeds import Change

__all__ = ["Front", "Router"]

log = logging.getLogger("roost.net")

#: ``router(request)`` may answer (a ``Response``), route to ``(binding, name)``, or
#: return None for the default routes. It may be a coroutine function.
Router = Callable[[Request], "Response | tuple[str, str] | Awaitable[Any] | None"]


class Front:
    """The network front of one hub (implements ``hub.runtime.ports.SocketPort``)."""

    def __init__(
        self,
        host: HostPort,
        *,
        limits: Limits,
        clock: Clock,
        router: Router | None = None,
        admin_key: str | None = None,
        compression: bool = False,
        table: SocketTable | None = None,
    ) -> None:
        self.host = host
        self.limits = limits
        self.clock = clock
        self.router = router
        self.admin_key = admin_key
        self.compression = compression
        self.table = table if table is not None else SocketTable(limits)
        self.subscriptions = Subscriptions(limits.subscriptions_per_socket, self._write_v1)
        self.presence = PresenceTable(self._write_v1)
        self.counters = Counters()
        self.connections: set[Connection] = set()
        self._sockets: dict[int, Connection] = {}
        #: Upgrades waiting for their object, by the socket id reserved for each.
        self._upgrades: dict[int, Connection] = {}
        #: Those of them an object accepted (its answer has not come yet).
        self._accepted: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Fetches (and upgrades) submitted to an object and not answered yet.
        self._fetches = 0
        #: True from ``begin_drain`` on; ``Connection.respond`` then closes after answering.
        self.stopping = False
        self._requests_done = asyncio.Event()
        self._drained = asyncio.Event()
        self._dirty: list[Connection] = []

    # -- connections -------------------------------------------------------------------

    def connection_made(self, conn: Connection) -> None:
        """A client connected."""
        self.connections.add(conn)
        self._drained.clear()

    def connection_lost(self, conn: Connection) -> None:
        """A client connection is gone (after any close was reported)."""
        self.connections.discard(conn)
        if not self.connections:
            self._drained.set()
        for upgrade_id, pending in list(self._upgrades.items()):
            if pending is conn:
                del self._upgrades[upgrade_id]
        if conn.socket_id is not None and conn.socket_id in self._sockets:
            self._forget(conn.socket_id)

    def handle_request(self, conn: Connection, parsed: ParsedRequest) -> None:
        """Serve one parsed HTTP request (in a task the front owns)."""
        self.counters.http_requests += 1
        if self.stopping:  # nothing of it runs: a retry elsewhere applies it once
            self._answer_error(conn, parsed, HubStoppingError("the hub is stopping"))
            return
        task = asyncio.create_task(self._serve(conn, parsed))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._check_requests_done()

    async def _serve(self, conn: Connection, parsed: ParsedRequest) -> None:
        try:
            hosts = [value for name, value in parsed.headers if name.lower() == "host"]
            url = routes.request_url(parsed.target, hosts, parsed.version)
            # An upgrade's socket id is chosen now, so an object accepts it without a reply.
            upgrade_id = self.table.reserve_id() if parsed.upgrade else None
            # Upgrades too get an http:// URL, as in the anchor.
            request = Request(
                parsed.method, url, parsed.headers, parsed.body, upgrade_id=upgrade_id
            )
            await self._dispatch(conn, parsed, request)
        except HubError as error:
            self._answer_error(conn, parsed, error)
        except Exception:
            log.exception("request %s %r failed", parsed.method, parsed.target[:200])
            self._answer_error(conn, parsed, InternalError("internal error"))

    async def _dispatch(self, conn: Connection, parsed: ParsedRequest, request: Request) -> None:
        route: routes.Route | None = None
        if self.router is not None:
            answer = self.router(request)
            if inspect.isawaitable(answer):
                answer = await answer
            if isinstance(answer, Response):
                self._answer(conn, parsed, answer)
                return
            if isinstance(answer, tuple):
                route = routes.ObjectRoute(*answer)
            elif answer is not None:
                raise TypeError(
                    f"router must return a Response, (binding, name) or None: {answer!r}"
                )
        if route is None:
            route = routes.match(parsed.method, request.path)
        if isinstance(route, routes.AdminRoute):
            status, headers, body = await admin.handle(self, route, request)
            conn.respond(status, headers, body, keep_alive=parsed.keep_alive)
        elif isinstance(route, routes.RpcRoute):
            await self._rpc(conn, parsed, route, request)
        elif isinstance(route, routes.PresenceRoute):
            self._presence_list(conn, parsed, route)
        else:
            self._fetch(conn, parsed, route, request)

    def _fetch(
        self, conn: Connection, parsed: ParsedRequest, route: routes.ObjectRoute, request: Request
    ) -> None:
        object_id = self.host.object_id(route.binding, route.name)
        upgrade_id = request.upgrade_id
        if upgrade_id is not None:
            if not conn.begin_upgrade(parsed):
                return
            self._upgrades[upgrade_id] = conn

        def respond(result: Response | RpcError) -> None:
            self._fetches -= 1
            self._fetched(conn, parsed, object_id, upgrade_id, result)
            self._check_requests_done()

        self._fetches += 1
        try:
            self.host.submit(object_id, FetchCall(request, respond))
        except BaseException:
            self._fetches -= 1
            raise

    def _fetched(
        self,
        conn: Connection,
        parsed: ParsedRequest,
        object_id: ObjectId,
        upgrade_id: int | None,
        result: Response | RpcError,
    ) -> None:
        if upgrade_id is None:
            if isinstance(result, Response) and result.status == 101:
                result = InternalError("fetch returned 101 for a plain HTTP request")
            if isinstance(result, RpcError):
                self._answer_error(conn, parsed, result)
            else:
                self._answer(conn, parsed, result)
            return
        self._upgrades.pop(upgrade_id, None)
        accepted = upgrade_id in self._accepted
        self._accepted.discard(upgrade_id)
        if accepted and isinstance(result, Response) and result.status == 101:
            socket_id = upgrade_id
            if conn.transport is not None and not conn.transport.is_closing():
                self._sockets[socket_id] = conn
                conn.complete_upgrade(socket_id, object_id)
                self.counters.sockets_accepted += 1
                log.info(
                    "accept socket=%d binding=%s id=%s name=%r",
                    socket_id,
                    object_id.binding,
                    object_id.hex[:16],
                    object_id.name,
                )
                return
            self._forget(socket_id)
            return
        if accepted:  # accepted, but the object answered something else
            self.abandon(upgrade_id)
        if isinstance(result, Response) and result.status != 101:
            conn.reject_upgrade(result.status, result.headers.raw_items(), result.body)
        else:
            error = result if isinstance(result, RpcError) else InternalError("bad upgrade")
            conn.reject_upgrade(*error_response(error))

    async def _rpc(
        self, conn: Connection, parsed: ParsedRequest, route: routes.RpcRoute, request: Request
    ) -> None:
        self.counters.rpc_calls += 1
        try:
            payload = orjson.loads(parsed.body) if parsed.body else {}
        except orjson.JSONDecodeError:
            raise InvalidArgumentsError("request body is not valid JSON") from None
        if not isinstance(payload, dict) or set(payload) - {"args", "kwargs"}:
            raise InvalidArgumentsError('expected a JSON object {"args": [...], "kwargs": {...}}')
        args, kwargs = payload.get("args", []), payload.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise InvalidArgumentsError('"args" must be a list and "kwargs" an object')
        object_id = self.host.object_id(route.binding, route.name)
        reply = self.host.call_wire(object_id, route.method, args, kwargs)
        result = await reply
        conn.respond(200, JSON, orjson.dumps({"result": result}), keep_alive=parsed.keep_alive)

    def _presence_list(
        self, conn: Connection, parsed: ParsedRequest, route: routes.PresenceRoute
    ) -> None:
        """``GET .../presence``: the members, from the socket table (no wake)."""
        object_id = self.host.object_id(route.binding, route.name)
        members = self.presence.members(object_id.hex)
        body = b'{"count":%d,"members":[%s]}' % (
            len(members),
            b",".join(b'{"socket":%d,"state":%s}' % member for member in members),
        )
        conn.respond(200, JSON, body, keep_alive=parsed.keep_alive)

    def _answer(self, conn: Connection, parsed: ParsedRequest, response: Response) -> None:
        if parsed.upgrade:
            if conn.ws is None and not conn.begin_upgrade(parsed):
                return  # a bad handshake was already answered by the protocol
            conn.reject_upgrade(response.status, response.headers.raw_items(), response.body)
        else:
            conn.respond(
                response.status,
                response.headers.raw_items(),
                response.body,
                keep_alive=parsed.keep_alive,
            )

    def _answer_error(self, conn: Connection, parsed: ParsedRequest, error: HubError) -> None:
        status, headers, body = error_response(error)
        if parsed.upgrade:
            if conn.ws is None:
                conn.begin_upgrade(parsed)  # may answer a bad handshake itself
            conn.reject_upgrade(status, headers, body)
        else:
            conn.respond(status, headers, body, keep_alive=parsed.keep_alive)

    # -- socket events from connections ---------------------------------------------------

    def socket_message(self, conn: Connection, data: str | bytes, size: int) -> None:
        """A complete message from a client."""
        socket_id = conn.socket_id
        assert socket_id is not None
        self.counters.messages_in += 1
        self.counters.bytes_in += size
        if conn.v1 and isinstance(data, str):
            roost_v1.handle_text(self, conn, data, size)
        elif not self.auto_respond(conn, data):
            self.deliver(conn, SocketMessage(socket_id, data))

    def auto_respond(self, conn: Connection, data: str | bytes) -> bool:
        """Answer ``data`` with the object's auto-response, if it matches; True if so."""
        assert conn.socket_id is not None
        answer = self.table.match_auto_response(conn.socket_id, data, self.clock.now())
        if answer is None:
            return False
        self.counters.auto_responses += 1
        self.send(conn.socket_id, answer)
        return True

    def deliver(self, conn: Connection, event: SocketMessage) -> None:
        """Hand a message to its object; a full queue closes the socket with 1013."""
        assert conn.socket_id is not None and conn.object_id is not None
        try:
            self.host.submit(conn.object_id, event)
        except OverloadedError:
            self.close(conn.socket_id, 1013, "object overloaded")
        except HubStoppingError:
            pass

    def socket_closed(
        self, conn: Connection, code: int, reason: str, *, was_clean: bool, slow: bool = False
    ) -> None:
        """The client closed (or dropped) the socket, or it was a slow consumer."""
        socket_id, object_id = conn.socket_id, conn.object_id
        assert socket_id is not None and object_id is not None
        if slow:
            self.counters.slow_consumers_closed += 1
        tags, attachment = self._forget(socket_id)
        self._to_object(
            object_id, SocketClosed(socket_id, code, reason, was_clean, tags, attachment)
        )

    def socket_errored(self, conn: Connection, error: WebSocketError) -> None:
        """The client broke the protocol; the connection already sent its Close frame."""
        socket_id, object_id = conn.socket_id, conn.object_id
        if socket_id is None or object_id is None:
            return
        tags, attachment = self._forget(socket_id)
        self._to_object(object_id, SocketErrored(socket_id, error, tags, attachment))

    def after_events(self, conn: Connection, reached: Callable[[], None]) -> None:
        """Call ``reached`` once the object handled the events ``conn`` submitted so far
        and their output left (at once if the object is not live: it is never woken)."""
        assert conn.object_id is not None
        self.host.after_queued(conn.object_id, reached)

    def _to_object(self, object_id: ObjectId, event: SocketClosed | SocketErrored) -> None:
        handler = "websocket_close" if isinstance(event, SocketClosed) else "websocket_error"
        if not self.host.handles(object_id.binding, handler):
            return  # nothing would run: a hibernated object stays asleep
        try:
            self.host.submit(object_id, event)
        except (OverloadedError, HubStoppingError) as exc:
            log.warning("socket event for %r dropped: %s", object_id, exc.code)

    def _forget(self, socket_id: int) -> tuple[tuple[str, ...], bytes | None]:
        """Drop a socket from the table; its last tags and attachment."""
        self._sockets.pop(socket_id, None)
        self.subscriptions.drop_socket(socket_id)
        self.presence.drop_socket(socket_id)
        if self.table.find(socket_id) is None:
            return (), None
        record = self.table.remove(socket_id)
        self.counters.sockets_closed += 1
        log.info("close socket=%d id=%s", socket_id, record.object_key[:16])
        return record.tags, record.attachment

    # -- SocketPort: commands from objects ----------------------------------------------

    def accept(self, upgrade_id: int, object_key: str, tags: Sequence[str]) -> int:
        """Register the pending upgrade ``upgrade_id`` as a socket of ``object_key``
        (the socket id is ``upgrade_id``)."""
        if upgrade_id not in self._upgrades:
            raise ValueError(f"upgrade {upgrade_id} is no longer pending")
        if upgrade_id in self._accepted:
            raise ValueError("this request was already accepted")
        self.table.add(object_key, tags, upgrade_id)
        self._accepted.add(upgrade_id)
        return upgrade_id

    def abandon(self, socket_id: int) -> None:
        """Forget a socket whose upgrade will not complete."""
        self._accepted.discard(socket_id)
        if self.table.find(socket_id) is not None:
            self.table.remove(socket_id)

    def socket_ids(self, object_key: str, tag: str | None) -> list[int]:
        """Ids of the OPEN sockets of ``object_key`` (with ``tag``)."""
        return [record.socket_id for record in self.table.open_sockets(object_key, tag)]

    def tags(self, socket_id: int) -> tuple[str, ...]:
        """The socket's tags (empty once it is gone)."""
        record = self.table.find(socket_id)
        return () if record is None else record.tags

    def set_tags(self, socket_id: int, tags: Sequence[str]) -> None:
        """Replace the socket's tags."""
        self.table.set_tags(socket_id, tags)

    def attachment(self, socket_id: int) -> bytes | None:
        """The socket's serialized attachment (None once it is gone)."""
        record = self.table.find(socket_id)
        return None if record is None else record.attachment

    def set_attachment(self, socket_id: int, data: bytes | None) -> None:
        """Replace the socket's serialized attachment."""
        self.table.set_attachment(socket_id, data)

    def ready_state(self, socket_id: int) -> int:
        """1 OPEN, 2 CLOSING, 3 CLOSED."""
        record = self.table.find(socket_id)
        return int(SocketState.CLOSED if record is None else record.state)

    def send(self, socket_id: int, data: str | bytes) -> None:
        """Send one message to one socket, if it is still open."""
        conn = self._sockets.get(socket_id)
        if conn is None or not conn.is_open:
            return
        if conn.v1 and isinstance(data, str):
            conn.send_text(roost_v1.message_frame(data))
        else:
            conn.send_message(data)
        self.counters.messages_out += 1
        self.counters.bytes_out += len(data)

    def broadcast(
        self, object_key: str, data: str | bytes, tag: str | None, exclude: Collection[int]
    ) -> int:
        """Frame ``data`` once and write it to every OPEN socket of the object."""
        records = self.table.open_sockets(object_key, tag)
        if not records:
            return 0
        opcode = Opcode.TEXT if isinstance(data, str) else Opcode.BINARY
        payload = data.encode("utf-8") if isinstance(data, str) else data
        frame = Frame(opcode, payload).serialize(mask=False)
        # roost.v1 sockets get text wrapped in a msg frame: built once too, if needed.
        v1: tuple[bytes, bytes] | None = None
        sent = 0
        for record in records:
            if record.socket_id in exclude:
                continue
            conn = self._sockets.get(record.socket_id)
            if conn is None or not conn.is_open:
                continue
            if conn.v1 and opcode is Opcode.TEXT:
                if v1 is None:
                    assert isinstance(data, str)
                    wrapped = roost_v1.message_frame(data)
                    v1 = (Frame(Opcode.TEXT, wrapped).serialize(mask=False), wrapped)
                conn.write_frame(v1[0], opcode, v1[1])
            else:
                conn.write_frame(frame, opcode, payload)
            sent += 1
        self.counters.messages_out += sent
        self.counters.bytes_out += sent * len(payload)
        return sent

    def close(self, socket_id: int, code: int, reason: str) -> None:
        """Start the closing handshake of a socket."""
        conn = self._sockets.get(socket_id)
        if self.table.find(socket_id) is not None:
            self.table.mark_closing(socket_id)
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

    def set_auto_response(self, object_key: str, request: str | None, response: str | None) -> None:
        """Set or clear the object's auto-response pair."""
        self.table.set_auto_response(object_key, request, response)

    def auto_response(self, object_key: str) -> tuple[str, str] | None:
        """The object's auto-response pair."""
        return self.table.auto_response(object_key)

    def auto_response_timestamp(self, socket_id: int) -> float | None:
        """When the socket was last auto-responded to."""
        if self.table.find(socket_id) is None:
            return None
        return self.table.auto_response_timestamp(socket_id)

    def feed_answer(self, answer: FeedAnswer) -> None:
        """Send a subscription's snapshot or replay and go live; or refuse it."""
        record = self.table.find(answer.socket_id)
        if record is None:
            self.subscriptions.remove(answer.socket_id, answer.sub_id)
        elif isinstance(answer, FeedOpened):
            self.subscriptions.open(record.object_key, answer)
        elif isinstance(answer, FeedResetNeeded):
            reset = protocol.encode(protocol.Reset(id=answer.sub_id))
            self.subscriptions.refuse(answer.socket_id, answer.sub_id, reset)
        else:
            error = roost_v1.error_frame(answer.sub_id, answer.error)
            self.subscriptions.refuse(answer.socket_id, answer.sub_id, error)

    def feed_changes(self, object_key: str, changes: Sequence[Change]) -> None:
        """Deliver one event's committed changes to the object's subscribers."""
        self.counters.feed_frames += self.subscriptions.publish(object_key, changes)

    def feed_ended(self, object_key: str, table: str | None) -> None:
        """End subscriptions: ``reset`` (storage deleted) or ``no_such_feed`` (disabled)."""
        if table is None:
            self.subscriptions.end(
                object_key, None, lambda sub_id: protocol.encode(protocol.Reset(id=sub_id))
            )
        else:
            gone = NoSuchFeedError(f"{table!r} stopped being a feed table")
            self.subscriptions.end(
                object_key, table, lambda sub_id: roost_v1.error_frame(sub_id, gone)
            )

    def set_presence(self, socket_id: int, state: bytes | None) -> None:
        """Set or clear a socket's presence state (ignored once the socket is gone)."""
        record = self.table.find(socket_id)
        if record is not None and record.state is SocketState.OPEN:
            self.presence.set(record.object_key, socket_id, state)

    def presence_members(self, object_key: str) -> list[tuple[int, bytes]]:
        """The object's members, in join order."""
        return self.presence.members(object_key)

    def _write_v1(self, socket_ids: Iterable[int], payload: bytes, framed: bytes) -> int:
        """Queue one ``roost.v1`` frame, built once, to each of ``socket_ids`` (feeds and
        presence); how many were open to get it."""
        sockets, sent = self._sockets, 0
        for socket_id in socket_ids:
            conn = sockets.get(socket_id)
            if conn is not None and conn.v1:
                conn.write_frame(framed, Opcode.TEXT, payload)  # skips closed ones
                sent += 1
        self.counters.messages_out += sent
        self.counters.bytes_out += sent * len(payload)
        return sent

    def flush_later(self, conn: Connection) -> None:
        """Have ``conn``'s queued frames written at the end of this loop turn."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._flush_dirty)
        self._dirty.append(conn)

    def _flush_dirty(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush_pending()

    # -- shutdown -----------------------------------------------------------------------

    def begin_drain(self) -> None:
        """Stop taking requests: new ones get 503 ``hub_stopping``, answers close.

        Idle keep-alive connections stay open until ``close_connections``: a request
        that still comes on one gets the 503 (retryable, nothing applied) rather than a
        connection closed under it.
        """
        self.stopping = True
        self._check_requests_done()

    def _check_requests_done(self) -> None:
        if self.stopping and not self._tasks and self._fetches == 0:
            self._requests_done.set()

    @property
    def requests_in_flight(self) -> int:
        """HTTP requests (and upgrades) read and not answered yet."""
        return len(self._tasks) + self._fetches

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until every request in flight is answered; False if ``timeout`` passed
        first (the rest are then cancelled and their connections dropped)."""
        self.begin_drain()
        try:
            await asyncio.wait_for(self._requests_done.wait(), timeout)
        except TimeoutError:
            pass
        else:
            return True
        log.warning(
            "shutdown timeout (%.1f s) passed: dropping %d requests in flight",
            timeout,
            self.requests_in_flight,
        )
        for conn in list(self.connections):
            if conn.ws is None or conn.socket_id is None:  # HTTP, or an upgrade not done
                conn.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        return False

    async def close_connections(self, code: int, timeout: float) -> None:  # noqa: ASYNC109
        """Close every socket with ``code``, end HTTP connections, wait, then abort."""
        self.stopping = True
        for conn in list(self.connections):
            if conn.is_open:
                conn.close_socket(code, "going away" if code == 1001 else "restarting")
            elif conn.transport is not None and conn.ws is None:
                conn.transport.close()
        if self.connections:
            try:
                await asyncio.wait_for(self._drained.wait(), timeout)
            except TimeoutError:
                log.warning("%d connections did not close in time", len(self.connections))
        for conn in list(self.connections):
            conn.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
