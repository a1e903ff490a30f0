"""One live instance of one object, and the one task that owns it.

Rules:

1. The activation's task owns the instance, its ``ObjectDatabase`` and its ``Storage``:
   handlers run in that task (or in blockers it waits for), never elsewhere.
2. Input gate: events are taken one at a time. The next event starts only once the
   previous one's transaction is committed or rolled back and every
   ``block_concurrency_while`` it started has finished.
3. Output gate: everything an event sends (its reply, ``ws.send``, ``broadcast``,
   ``ws.close``) is queued in its outbox and leaves only after its transaction
   committed, reply first. When the handler raises, the writes roll back, the outbox
   is dropped, and sockets it accepted are abandoned.
4. Closing: the host takes the activation out of its table and queues ``_CLOSE``; events
   queued before it are still handled. A successor activation for the same id waits for
   ``closed`` before it opens the file, so an object is never live twice.
5. The alarm in the object's file commits with the event; the hub-wide index is moved
   earlier *before* the commit and to the exact time *after* it (see
   ``hub.storage.registry``), through the scheduler.
6. Each kind of event is run and refused as its entry in ``_KINDS`` says, and only
   there: an object that failed to activate refuses every event with that failure; an
   activation that stops refuses the events still queued with ``HubStoppingError``. A
   ``Barrier`` is not an event and has no entry: it is reached whether the activation
   runs or stops.
7. ``ctx.wait_until`` work is owned here (``_background``) and holds the object in
   memory until it ends; its exception is logged. It runs outside any event's call
   chain. At shutdown of a stopping hub it is awaited (within the drain time); a forced
   eviction or an abort cancels it.
8. ``ctx.abort()`` (``abort``): the running event fails with ``ObjectAbortedError`` and
   rolls back even if the handler caught the error; the events queued behind it move,
   in order, to a successor activation that opens the file only once this one closed
   (rule 4), so they run on a fresh instance. Sockets belong to the front and stay open.
9. ``ctx.storage.sync()`` (``checkpoint``) commits the running event's writes so far
   and sends the output queued so far; the event goes on in a new transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from inspect import isawaitable
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, get_args

from hub.clock import TimerHandle
from hub.errors import (
    ActivationError,
    HubStoppingError,
    InternalError,
    LimitExceededError,
    ObjectAbortedError,
    OverloadedError,
    RemoteError,
    RpcError,
    StorageError,
)
from hub.hibernation import IdleTracker
from hub.http import Request
from hub.logs import extra
from hub.runtime.alarm_events import refuse_alarm, run_alarm
from hub.runtime.auth_events import handle_auth, refuse_auth
from hub.runtime.background import BackgroundWork
from hub.runtime.call_events import handle_call, handle_fetch, refuse_call, refuse_fetch
from hub.runtime.context import DurableObjectState
from hub.runtime.events import (
    AlarmFire,
    Barrier,
    Event,
    FeedSubscribe,
    FetchCall,
    RpcCall,
    SocketAuth,
    SocketClosed,
    SocketErrored,
    SocketMessage,
)
from hub.runtime.feed_events import FeedPublisher, Publication, handle_subscribe, refuse_subscribe
from hub.runtime.socket_events import handle_message, handle_socket
from hub.runtime.websocket import ClosedSocket, WebSocket
from hub.storage.database import ObjectBusyError, ObjectDatabase
from hub.storage.feeds import FeedRetention
from hub.storage.storage import Storage

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.object import DurableObject
    from hub.runtime.host import ObjectHost
    from hub.runtime.ports import SocketPort
    from hub.runtime.rpc import ClassSpec

__all__ = ["Activation", "call_chain"]

T = TypeVar("T")
E = TypeVar("E")
log = logging.getLogger("roost.runtime")

#: Hex ids of the objects whose events are waiting on the current call (strict gate:
#: a call back into one of them could never be delivered).
call_chain: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "roost_call_chain", default=()
)

_CLOSE = object()
#: The feed retention of a class that sets none.
_NO_RETENTION = FeedRetention()


class Activation:
    """The live instance of one object: its queue, task, database and idle timer."""

    def __init__(
        self,
        host: ObjectHost,
        spec: ClassSpec,
        object_id: ObjectId,
        predecessor: Activation | None,
    ) -> None:
        self.host = host
        self.spec = spec
        self.id = object_id
        self.tracker = IdleTracker(host.clock.now())
        self.closing = False
        self.closed = asyncio.Event()
        self.event_timeout_ms: int | None = None
        #: When this activation last forgot idle roost.v1 sessions (hub/storage/sessions.py).
        self.sessions_swept_at = -math.inf
        #: Events, barriers and ``_CLOSE`` waiting for the task, in order.
        self._queue: deque[Event | Barrier | object] = deque()
        #: Set while the task is parked with nothing to do (``_park``).
        self._waiter: asyncio.Future[None] | None = None
        self._blockers: set[asyncio.Task[Any]] = set()
        #: ``ctx.wait_until`` work still running (rule 7).
        self._background = BackgroundWork(
            f"{spec.cls.__name__} {object_id!r}", self._background_done
        )
        #: Set by ``abort``: the error the running event (and this activation) ends with.
        self.aborted: ObjectAbortedError | None = None
        #: ``db.total_changes`` when the running event's transaction began.
        self._written = 0
        self._idle_timer: TimerHandle | None = None
        self._db: ObjectDatabase | None = None
        self._storage: Storage | None = None
        self._publisher: FeedPublisher | None = None
        self.instance: DurableObject | None = None
        self.committed_alarm: int | None = None
        self._outbox: list[Callable[[], None]] | None = None
        self._accepted: list[int] = []
        #: Kept, not looked up per event (hub.histograms rule 1).
        self._handler_latency = host.latencies.histogram("handler", spec.binding)
        #: The RPC latency histogram of this binding (``hub.runtime.call_events`` observes).
        self.rpc_latency = host.latencies.histogram("rpc", spec.binding)
        #: The call chain of an event nobody waits on: this object alone.
        self.own_chain = (object_id.hex,)
        #: The attachment is the presence state (read once: a handle is made per event).
        self._presence = bool(getattr(spec.cls, "presence_from_attachment", False))
        #: Each message handled is a debug line (decided once per activation).
        self._log_messages = log.isEnabledFor(logging.DEBUG)
        self._loop = asyncio.get_running_loop()
        self.task = self._loop.create_task(
            self._run(predecessor), name=f"roost:{spec.binding}:{object_id.hex[:12]}"
        )

    # -- used by the host and by ctx ---------------------------------------------------

    @property
    def storage(self) -> Storage:
        """The object's storage (only while the activation is open)."""
        if self._storage is None:
            raise RuntimeError(f"storage of {self.id!r} is not open")
        return self._storage

    @property
    def open_storage(self) -> Storage | None:
        """The object's storage, or None once the activation closed."""
        return self._storage

    @property
    def port(self) -> SocketPort:
        """The network front (or a detached stand-in while the hub is not served)."""
        return self.host.port

    @property
    def queued(self) -> int:
        """Events waiting behind the one running."""
        return len(self._queue)

    def submit(self, event: Event) -> None:
        """Queue ``event``; ``OverloadedError`` when the queue is full."""
        queue = self._queue
        limit = self.host.limits.max_queued_events
        if len(queue) >= limit:
            raise OverloadedError(
                f"object {self.spec.binding} {self.id.hex[:12]} has {len(queue)}"
                f" events queued, expected at most {limit}"
            )
        self.tracker.hold("events_queued")
        self._put(event)

    def add_barrier(self, barrier: Barrier) -> None:
        """Queue ``barrier`` behind every event queued so far (even behind ``_CLOSE``: the
        queue is drained at shutdown)."""
        self._put(barrier)

    def _put(self, item: Event | Barrier | object) -> None:
        self._queue.append(item)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def request_close(self) -> None:
        """Close after the events already queued (the host has dropped this activation)."""
        if self.closing:
            return
        self.closing = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._put(_CLOSE)

    def block_concurrency_while(self, fn: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """See ``DurableObjectState.block_concurrency_while``."""
        task: asyncio.Task[T] = asyncio.ensure_future(fn())
        self._blockers.add(task)
        self.tracker.hold("blocked")

        def done(finished: asyncio.Task[T]) -> None:
            self._blockers.discard(finished)
            self.tracker.release("blocked", self.host.clock.now())
            self._arm_idle_timer()

        task.add_done_callback(done)
        return task

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """See ``DurableObjectState.wait_until`` (rule 7)."""
        if self.aborted is not None:
            raise ObjectAbortedError(str(self.aborted))
        # Outside the event's call chain: the work may call this object through a stub.
        context = contextvars.copy_context()
        context.run(call_chain.set, ())
        self.tracker.hold("wait_until")
        self._background.start(awaitable, context)

    def _background_done(self) -> None:
        self.tracker.release("wait_until", self.host.clock.now())
        self._arm_idle_timer()

    def abort(self, reason: str | None) -> ObjectAbortedError:
        """Reset the object (rule 8); the error the running event fails with."""
        if self.aborted is None:
            text = "the object was reset by ctx.abort()"
            self.aborted = ObjectAbortedError(text if reason is None else f"{text}: {reason}")
            log.warning("%s %r aborted: %s", self.spec.cls.__name__, self.id, reason)
            self._background.cancel()
            moved: list[Event | Barrier] = []
            while self._queue:
                item = self._queue.popleft()
                if item is _CLOSE:
                    continue
                if not isinstance(item, Barrier):
                    self.tracker.release("events_queued", self.host.clock.now())
                moved.append(item)  # type: ignore[arg-type]
            if not any(not isinstance(item, Barrier) for item in moved):
                # Barriers alone never wake the object: they are reached right here.
                self._queue.extend(moved)
                moved = []
            self.host.replace(self, moved)
            self.closing = True
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            self._put(_CLOSE)
        return ObjectAbortedError(str(self.aborted))

    def adopt(self, items: list[Event | Barrier]) -> None:
        """Queue the events and barriers of an aborted predecessor ahead of this
        activation's own (which arrived after them; it has not started on them yet)."""
        for item in items:
            if not isinstance(item, Barrier):
                self.tracker.hold("events_queued")
        self._queue.extendleft(reversed(items))
        self._wake()

    async def checkpoint(self) -> None:
        """Commit the running event's writes so far and send its output (rule 9)."""
        if self._outbox is None:
            return  # outside an event every statement commits on its own
        db = self.database
        if db.in_savepoint:
            raise StorageError(
                "sync() cannot run inside ctx.storage.transaction() or transaction_sync():"
                " call it after the block"
            )
        if self.aborted is not None:
            raise ObjectAbortedError(str(self.aborted))
        publication = await self._commit_event(sync_alarm=False)
        outbox, self._outbox = self._outbox, []
        self._send(publication, outbox)
        db.begin()
        self._written = db.total_changes

    def output(self, command: Callable[[], None]) -> None:
        """Send through the output gate: after the running event commits, else now."""
        if self._outbox is not None:
            self._outbox.append(command)
        else:
            command()

    def websocket(self, socket_id: int, closed: ClosedSocket | None = None) -> WebSocket:
        """A handle on one of this object's sockets (``closed``: what is left of it)."""
        return WebSocket(
            self.host.port,
            socket_id,
            self.output,
            self.host.limits,
            closed,
            presence=self._presence,
        )

    def accept_websocket(self, request: Request, tags: list[str]) -> WebSocket:
        """Register the upgrade as a socket of this object (see ``ctx.accept_websocket``)."""
        assert request.upgrade_id is not None
        socket_id = self.port.accept(request.upgrade_id, self.id.hex, tags)
        self._accepted.append(socket_id)
        return self.websocket(socket_id)

    def broadcast(self, message: str | bytes, tag: str | None, exclude: set[int]) -> None:
        """Queue one message for every OPEN socket (see ``ctx.broadcast``)."""
        if not isinstance(message, str | bytes):
            raise TypeError(f"message must be str or bytes, got {type(message).__name__}")
        size = len(message.encode("utf-8")) if isinstance(message, str) else len(message)
        limit = self.host.limits.message_bytes
        if size > limit:
            raise LimitExceededError(f"message too large: {size} bytes, expected at most {limit}")
        port, key = self.port, self.id.hex

        def send() -> None:
            port.broadcast(key, message, tag, exclude)

        self.output(send)

    # -- the task ---------------------------------------------------------------------

    async def _run(self, predecessor: Activation | None) -> None:
        clock = time.monotonic
        try:
            started = clock()
            if predecessor is not None:
                await predecessor.closed.wait()
            failure = await self._activate()
            if failure is not None and self.aborted is None:
                self.host.evict(self, reason="activation_failed")
            else:
                wake = self.host.latencies.histogram("wake", self.spec.binding)
                wake.observe(clock() - started)
            self._arm_idle_timer()
            queue = self._queue
            while True:
                if not queue:
                    await self._park()
                    continue
                item = queue.popleft()
                if item is _CLOSE:
                    break
                if isinstance(item, Barrier):
                    item.reached()  # the events before it have sent their output
                    continue
                event = cast("Event", item)
                kind = _KINDS[type(event)]
                self.tracker.release("events_queued", self.host.clock.now())
                if failure is not None:
                    await self._refuse(kind, event, failure)
                else:
                    await self._handle(kind, event)
            if self._background and self.aborted is None and not self.host.running:
                # A stopping hub drains wait_until work (within its drain time).
                await self._background.drain()
        finally:
            self._shutdown()

    async def _park(self) -> None:
        """Wait for work (an event, a barrier, ``_CLOSE``)."""
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    async def _handle(self, kind: _Kind[Any], item: Event) -> None:
        """Run one event, timed, holding the object awake."""
        self.tracker.hold("event_running")
        try:
            started = time.monotonic()
            await kind.handle(self, item)
            took = time.monotonic() - started
            self._handler_latency.observe(took)
            if self._log_messages and isinstance(item, SocketMessage):
                self._log_message(item.socket_id, took)
        except ObjectAbortedError:
            pass  # the event already answered with it; _CLOSE is queued
        finally:
            self.tracker.release("event_running", self.host.clock.now())
            self._arm_idle_timer()

    async def _refuse(self, kind: _Kind[Any], item: Event, failure: RpcError) -> None:
        """Answer one event of an activation that failed to open with ``failure``."""
        self.tracker.hold("event_running")
        try:
            later = kind.refuse(self, item, failure)
            if later is not None:
                await later
        except ObjectAbortedError:
            pass
        finally:
            self.tracker.release("event_running", self.host.clock.now())
            self._arm_idle_timer()

    def _log_message(self, socket_id: int, seconds: float) -> None:
        duration_ms = round(seconds * 1000, 3)
        log.debug(
            "message socket=%d binding=%s id=%s %.3fms",
            socket_id,
            self.spec.binding,
            self.id.hex[:16],
            duration_ms,
            extra=extra("message", self.id, socket=socket_id, duration_ms=duration_ms),
        )

    async def _activate(self) -> RpcError | None:
        host = self.host
        try:
            db = await self._open_database()
            meta = db.meta
        except (sqlite3.Error, OSError):
            log.exception("cannot open the database of %r", self.id)
            return InternalError("cannot open the object's database")
        self._db = db
        stored_name = meta.get("name")
        if self.id.name is None and isinstance(stored_name, str):
            self.id = self.id.with_name(stored_name)
        alarm = meta.get("alarm")
        self.committed_alarm = None if alarm is None else int(alarm)
        if db.shipper is not None and db.shipper.restored_from is not None:
            # A restore: the hub-wide alarm index follows the file's alarm.
            await host.scheduler.committed(self.id, self.committed_alarm)
        if db.created:
            await host.note_created(self.id)
        self._storage = Storage(
            db,
            host.limits,
            has_alarm_handler=self.spec.has_alarm,
            sync=self.checkpoint,
            now=host.clock.now,
        )
        retention: FeedRetention = getattr(self.spec.cls, "feed_retention", _NO_RETENTION)
        self._publisher = FeedPublisher(db.opened_seq, retention)

        async def construct() -> None:
            if self.id.name is not None and stored_name is None:
                db.write_meta("name", self.id.name)
            if db.shipper is not None and db.shipper.restored_from is not None:
                self.storage.feeds.restored(db.replaced_seq)  # subscribers reset
            self.instance = self.spec.cls(DurableObjectState(self), host.env)
            await self._await_blockers()  # migrations create the feed tables
            for table in self.instance.feeds:
                self.storage.feeds.enable(table)

        try:
            await self.transact(construct, (self.id.hex,))
        except Exception as exc:
            self.instance = None
            log.warning("constructor of %s raised", self.spec.cls.__name__, exc_info=True)
            return ActivationError(type(exc).__name__, str(exc))
        host.emit("activate", self.id)
        return None

    async def _open_database(self) -> ObjectDatabase:
        """Open the object's file, waiting while another process still has it (a worker
        handing its objects over finishes first; ``host.lock_timeout`` at most)."""
        host = self.host
        deadline = asyncio.get_running_loop().time() + host.lock_timeout
        path = host.path_for(self.id)
        backups = host.backups
        while True:
            shipper = None
            if backups is not None:
                shipper = backups.shipper(self.id.hex, path, self.id.binding, self.id.name)
            try:
                return ObjectDatabase(path, host.durability, shipper)
            except ObjectBusyError:
                if asyncio.get_running_loop().time() >= deadline:
                    raise
                await asyncio.sleep(0.01)

    async def transact(
        self,
        body: Callable[..., Awaitable[T]],
        chain: tuple[str, ...],
        *,
        args: tuple[Any, ...] = (),
        reply: Callable[[T], None] | None = None,
        timeout_ms: int | None = None,
        sync_alarm: bool = False,
    ) -> T:
        """Run one event's handler, ``body(*args)`` (awaited if it returns an
        awaitable), in its transaction, behind both gates.

        On success: commit, then ``reply(result)``, then the outbox, in that order. On
        any exception: roll back, drop the outbox, abandon accepted sockets, re-raise.
        """
        if self.aborted is not None:
            raise ObjectAbortedError(str(self.aborted))
        token = call_chain.set(chain)
        db = self.database
        db.begin()
        self._written = db.total_changes
        self._outbox, self._accepted = [], []
        try:
            # A body may also be a plain function (a synchronous handler): its result
            # is then the value itself.
            result: Any
            if timeout_ms is None:
                result = body(*args)
                if type(result) is CoroutineType or isawaitable(result):
                    result = await result
            else:
                async with asyncio.timeout(timeout_ms / 1000):
                    result = body(*args)
                    if isawaitable(result):
                        result = await result
            if self._blockers:
                await self._await_blockers()
            if self.aborted is not None:  # even if the handler caught the error
                raise ObjectAbortedError(str(self.aborted))
            if sync_alarm or self._commit_waits():
                publication = await self._commit_event(sync_alarm=sync_alarm)
            else:  # nothing to await: most events (see ``_commit``)
                publication = self._collect()
                db.commit()
        except BaseException:
            self._outbox = None
            await self._abort()
            raise
        finally:
            call_chain.reset(token)
        outbox, self._outbox, self._accepted = self._outbox, None, []
        if reply is not None:
            reply(result)
        self._send(publication, outbox)
        return cast(T, result)

    async def _commit_event(self, *, sync_alarm: bool) -> Publication | None:
        """Collect the feed changes of the running transaction, then commit it."""
        publication = self._collect()
        await self._commit(sync_alarm=sync_alarm)
        return publication

    def _collect(self) -> Publication | None:
        """The feed changes of the running transaction, if it wrote anything."""
        if self.database.total_changes != self._written and self._publisher is not None:
            return self._publisher.collect(self.storage, self.host.clock.now())
        return None

    def _commit_waits(self) -> bool:
        """True when committing the running event awaits something: the alarm index
        (the alarm was touched) or the replica (gated backups). Else ``_commit`` is
        ``db.commit()`` and nothing more."""
        if self.storage.alarm_touched:
            return True
        backups = self.host.backups
        return backups is not None and backups.settings.gated

    def _send(self, publication: Publication | None, outbox: list[Callable[[], None]]) -> None:
        """What a committed transaction releases: its feed changes, then its output."""
        if publication is not None and self._publisher is not None:
            self._publisher.publish(self.port, self.id.hex, publication)
        for command in outbox:
            try:
                command()
            except Exception:
                log.exception("output of %r failed", self.id)

    # -- transactions -------------------------------------------------------------------

    @property
    def database(self) -> ObjectDatabase:
        assert self._db is not None
        return self._db

    async def _commit(self, *, sync_alarm: bool = False) -> None:
        db, storage = self.database, self.storage
        old = new = self.committed_alarm
        if storage.alarm_touched:
            storage.alarm_touched = False
            new = storage.read_alarm()
            if new is not None and (old is None or new < old):
                await self.host.scheduler.move_earlier(self.id, new)
        db.commit()
        backups = self.host.backups
        if backups is not None and backups.settings.gated:
            await backups.replicated(self.id.hex)  # gated: answers wait for the replica
        if new != old or sync_alarm:
            self.committed_alarm = new
            await self.host.scheduler.committed(self.id, new)

    async def _abort(self) -> None:
        """Stop the event's blockers, roll its writes back, abandon its accepted sockets."""
        for task in self._blockers:
            task.cancel()
        if self._blockers:
            await asyncio.gather(*self._blockers, return_exceptions=True)
        if self._storage is not None:
            self._storage.alarm_touched = False
            self._storage.feeds.ended = []
        if self._db is not None:
            self._db.rollback()
        accepted, self._accepted = self._accepted, []
        for socket_id in accepted:
            self.port.abandon(socket_id)

    async def _await_blockers(self) -> None:
        while self._blockers:
            await asyncio.gather(*tuple(self._blockers))

    def as_rpc_error(self, exc: Exception, method: str, *, logged: bool = False) -> RpcError:
        """The error a caller gets for ``exc``; logged once here unless ``logged``."""
        if isinstance(exc, RpcError):
            return exc  # a nested call's error passes through unchanged
        if not logged:
            log.warning(
                "%s.%s raised",
                self.spec.cls.__name__,
                method,
                exc_info=exc,
                extra=extra("error", self.id, handler=method),
            )
        return RemoteError(type(exc).__name__, str(exc))

    # -- idleness ---------------------------------------------------------------------

    def _arm_idle_timer(self) -> None:
        if self.closing or self._idle_timer is not None or self.tracker.held:
            return
        deadline = self.tracker.deadline(self.host.idle_timeout)
        self._idle_timer = self.host.clock.call_at(deadline, self._on_idle_timer)

    def _on_idle_timer(self) -> None:
        self._idle_timer = None
        if self.closing:
            return
        if self.tracker.evictable(self.host.clock.now(), self.host.idle_timeout):
            self.host.evict(self, reason="idle")
        else:
            self._arm_idle_timer()

    def _shutdown(self) -> None:
        self.closing = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        stopping = HubStoppingError("the hub is stopping")
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, Barrier):
                item.reached()
            elif item is not _CLOSE:
                # Refusing with HubStoppingError leaves nothing to await (see _Kind).
                _KINDS[type(item)].refuse(self, item, stopping)
        for task in self._blockers:
            task.cancel()
        self._background.cancel()  # a forced eviction (a stopping hub drained it in _run)
        try:
            if self._db is not None:
                db, self._db = self._db, None
                db.close()
        except (sqlite3.Error, OSError):
            # The file is closed and unlocked all the same (``ObjectDatabase.close``);
            # what failed is logged, and a successor must not wait forever (rule 4).
            log.exception("closing the database of %r failed", self.id)
        finally:
            self._storage = None
            self.instance = None
            self.host.closed(self)
            self.closed.set()


# -- the kinds of event -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Kind(Generic[E]):
    """How an activation runs one kind of event, and how it refuses one."""

    #: Run the event, in the activation's task.
    handle: Callable[[Activation, E], Awaitable[None]]
    #: Answer whoever waits on the event with ``error`` instead of running it, at once.
    #: What must still happen (a refused alarm is retried) is returned, to be awaited;
    #: never when ``error`` is ``HubStoppingError``: an activation that stops awaits
    #: nothing.
    refuse: Callable[[Activation, E, RpcError], Awaitable[None] | None]


def _refuse_socket_event(
    act: Activation, event: SocketMessage | SocketClosed | SocketErrored, error: RpcError
) -> None:
    """Nobody waits on a socket event: it is dropped."""


_socket_events: _Kind[SocketMessage | SocketClosed | SocketErrored] = _Kind(
    handle_socket, _refuse_socket_event
)

#: Every kind of ``Event``, by its exact type: adding a kind is adding its entry here.
_KINDS: dict[type[Any], _Kind[Any]] = {
    RpcCall: _Kind(handle_call, refuse_call),
    AlarmFire: _Kind(run_alarm, refuse_alarm),
    FetchCall: _Kind(handle_fetch, refuse_fetch),
    FeedSubscribe: _Kind(handle_subscribe, refuse_subscribe),
    SocketMessage: _Kind(handle_message, _refuse_socket_event),
    SocketAuth: _Kind(handle_auth, refuse_auth),
    SocketClosed: _socket_events,
    SocketErrored: _socket_events,
}
assert set(_KINDS) == set(get_args(Event)), "every kind of Event needs its entry in _KINDS"
