"""The network front: connections report here; it owns every piece of the front's state.

Rules:

1. One owner: ``Front`` holds the socket table (``sockets.py``), the connection of each
   socket, pending upgrades (``upgrades.py``), feed subscriptions (``feeds.py``),
   presence (``presence.py``), the counters, the event tail (``tail.py``) and the
   requests in flight. The connection map and the requests in flight change only in
   this module. ``dispatch.py`` (HTTP requests) and ``commands.py`` (the
   ``SocketPort``, ``Front.commands``) hold no state: they go through the methods below
   and the owners of the other pieces.
2. Objects reach sockets only through ``commands``; the front reaches objects only by
   submitting events to the host (``HostPort``). Neither holds the other's state, so
   the front can later move into a gateway process of its own.
3. A message matching the object's auto-response is answered here, without an event.
4. A socket leaves the front through ``forget``, with its subscriptions and presence;
   only an acceptance that never became a socket is undone elsewhere
   (``Commands.abandon``).
5. Stopping has three steps, driven by the server: ``begin_drain`` (from then on a new
   request is answered 503 ``hub_stopping`` and every answer closes its connection),
   ``drain`` (wait for the requests in flight, up to a deadline, then cancel them), and
   ``close_connections`` (Close 1001 / 1012 to every socket, end the rest).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from websockets.frames import Opcode

from hub.errors import HubStoppingError, OverloadedError, RpcError, WebSocketError
from hub.http import Request, Response
from hub.logs import extra
from hub.net import dispatch, roost_v1
from hub.net.commands import Commands
from hub.net.connection import Connection
from hub.net.fanout import Fanout
from hub.net.feeds import Subscriptions
from hub.net.http1 import ParsedRequest
from hub.net.metrics import Counters
from hub.net.presence import PresenceTable
from hub.net.sockets import SocketTable
from hub.net.tail import EventTail
from hub.net.upgrades import PendingUpgrades
from hub.runtime.events import FetchCall, SocketClosed, SocketErrored, SocketMessage

if TYPE_CHECKING:
    from hub.clock import Clock
    from hub.databases.gate import DatabaseGate
    from hub.ids import ObjectId
    from hub.limits import Limits
    from hub.net.forwarded import Network
    from hub.runtime.ports import HostPort

__all__ = ["Front", "Router"]

log = logging.getLogger("roost.net")

#: Answered even while the hub drains (``hub.net.admin`` rule 3).
HEALTH_PATH = "/_roost/health"

#: ``router(request)`` may answer (a ``Response``), route to ``(binding, name)``, or
#: return None for the default routes. It may be a coroutine function.
Router = Callable[[Request], "Response | tuple[str, str] | Awaitable[Any] | None"]


class Front:
    """The network front of one hub; ``commands`` is its ``SocketPort``."""

    def __init__(
        self,
        host: HostPort,
        *,
        limits: Limits,
        clock: Clock,
        router: Router | None = None,
        admin_key: str | None = None,
        health_requires_key: bool = False,
        compression: bool = False,
        table: SocketTable | None = None,
        databases: DatabaseGate | None = None,
        trusted_proxies: Sequence[Network] = (),
    ) -> None:
        self.host = host
        #: The database routes (``/db/``, ``/_roost/databases``), None when they are off.
        self.databases = databases
        #: Peers whose ``X-Forwarded-For`` names the client (``hub.net.forwarded``).
        self.trusted_proxies = tuple(trusted_proxies)
        self.limits = limits
        self.clock = clock
        self.router = router
        self.admin_key = admin_key
        #: ``/_roost/health`` needs the admin key too (default: open, for probes).
        self.health_requires_key = health_requires_key
        self.compression = compression
        self.table = table if table is not None else SocketTable(limits)
        self.upgrades = PendingUpgrades()
        self.subscriptions = Subscriptions(limits.subscriptions_per_socket, self._write_v1)
        self.presence = PresenceTable(self._write_v1)
        self.counters = Counters()
        #: The newest events of the log, for the inspector (attached by the server).
        self.tail = EventTail()
        self.connections: set[Connection] = set()
        self._sockets: dict[int, Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Fetches (and upgrades) submitted to an object and not answered yet.
        self._fetches = 0
        #: True from ``begin_drain`` on; ``Connection.respond`` then closes after answering.
        self.stopping = False
        self._requests_done = asyncio.Event()
        self._drained = asyncio.Event()
        self._dirty: list[Connection] = []
        self._flush_scheduled = False
        #: This loop turn's broadcasts, written at its end with the dirty connections.
        self.fanout = Fanout(self._flush_soon)
        #: The commands objects send (attached to the host by the server).
        self.commands = Commands(self)

    @property
    def sockets(self) -> Mapping[int, Connection]:
        """The connection of each accepted socket whose upgrade completed, by socket id."""
        return self._sockets

    def object_of(self, socket_id: int) -> ObjectId | None:
        """The object of an open socket (None until its upgrade completed)."""
        conn = self._sockets.get(socket_id)
        return None if conn is None else conn.object_id

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
        self.upgrades.connection_lost(conn)
        if conn.socket_id is not None and conn.socket_id in self._sockets:
            self.forget(conn.socket_id)

    # -- HTTP requests (routed and answered by hub.net.dispatch) -------------------------

    def handle_request(self, conn: Connection, parsed: ParsedRequest) -> None:
        """Serve one parsed HTTP request (``dispatch.serve``: what may wait runs in a
        task the front owns)."""
        self.counters.http_requests += 1
        # Nothing of it runs: a retry elsewhere applies it once. A health probe is
        # answered: 503 "stopping" (readiness), by the admin API.
        if self.stopping and parsed.target.partition("?")[0] != HEALTH_PATH:
            dispatch.answer_error(conn, parsed, HubStoppingError("the hub is stopping"))
            return
        dispatch.serve(self, conn, parsed)

    def run_task(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in a task the front owns (a stop waits for it)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._check_requests_done()

    def submit_fetch(
        self,
        object_id: ObjectId,
        request: Request,
        answered: Callable[[Response | RpcError], None],
    ) -> None:
        """Submit ``request`` to the object's ``fetch``; it is in flight until the object's
        answer has been passed to ``answered``."""

        def respond(result: Response | RpcError) -> None:
            self._fetches -= 1
            answered(result)
            self._check_requests_done()

        self._fetches += 1
        try:
            self.host.submit(object_id, FetchCall(request, respond))
        except BaseException:
            self._fetches -= 1
            raise

    def open_socket(self, conn: Connection, socket_id: int, object_id: ObjectId) -> None:
        """An accepted upgrade completes: ``conn`` is socket ``socket_id`` of the object."""
        self.fanout.flush_object(object_id.hex)  # broadcasts from now on reach it too
        self._sockets[socket_id] = conn
        conn.complete_upgrade(socket_id, object_id)
        self.counters.sockets_accepted += 1
        if log.isEnabledFor(logging.INFO):  # the record's fields cost even when dropped
            log.info(
                "accept socket=%d binding=%s id=%s name=%r",
                socket_id,
                object_id.binding,
                object_id.hex[:16],
                object_id.name,
                extra=extra("accept", object_id, socket=socket_id),
            )

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
        now = self.clock.now()
        answer = self.table.match_auto_response(conn.socket_id, data, now)
        if answer is None:
            return False
        assert conn.object_id is not None
        self.host.auto_responded(conn.object_id, conn.socket_id, now)
        self.counters.auto_responses += 1
        self.commands.send(conn.socket_id, answer)
        return True

    def deliver(self, conn: Connection, event: SocketMessage) -> None:
        """Hand a message to its object; a full queue closes the socket with 1013."""
        assert conn.socket_id is not None and conn.object_id is not None
        try:
            self.host.submit(conn.object_id, event)
        except OverloadedError:
            self.commands.close(conn.socket_id, 1013, "object overloaded")
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
        tags, attachment = self.forget(socket_id)
        self._to_object(
            object_id, SocketClosed(socket_id, code, reason, was_clean, tags, attachment)
        )

    def socket_errored(self, conn: Connection, error: WebSocketError) -> None:
        """The client broke the protocol; the connection already sent its Close frame."""
        socket_id, object_id = conn.socket_id, conn.object_id
        if socket_id is None or object_id is None:
            return
        tags, attachment = self.forget(socket_id)
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

    def forget(self, socket_id: int) -> tuple[tuple[str, ...], bytes | None]:
        """Drop a socket from the front (table, connection map, subscriptions, presence);
        its last tags and attachment."""
        conn = self._sockets.pop(socket_id, None)
        self.subscriptions.drop_socket(socket_id)
        self.presence.drop_socket(socket_id)
        if self.table.find(socket_id) is None:
            return (), None
        record = self.table.remove(socket_id)
        object_id = conn.object_id if conn is not None else None
        if object_id is not None:
            self.host.socket_gone(object_id, socket_id)
        code = conn.close_code if conn is not None else 1006
        binding = object_id.binding if object_id is not None else ""
        self.counters.closed(binding, code)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "close socket=%d binding=%s id=%s code=%d",
                socket_id,
                binding or "-",
                record.object_key[:16],
                code,
                extra=extra(
                    "close", object_id, socket=socket_id, code=code, object=record.object_key
                ),
            )
        return record.tags, record.attachment

    # -- frames out --------------------------------------------------------------------

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
            self._flush_soon()
        self._dirty.append(conn)

    def _flush_soon(self) -> None:
        """Call ``_flush_dirty`` at the end of this loop turn (once)."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_dirty)

    def _flush_dirty(self) -> None:
        self._flush_scheduled = False
        self.fanout.flush()
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
