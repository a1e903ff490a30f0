"""One live instance of one object, and the one task that owns it.

``Activation`` takes the object's events from its queue, one at a time, to the
transaction and output gates of its base class (``hub.runtime.gates``, rules 1 to 4
there), each as its entry in ``hub.runtime.kinds`` says.

Rules:

1. The activation's task owns the instance, its ``ObjectDatabase`` and its ``Storage``:
   handlers run in that task (or in blockers it waits for), never elsewhere.
2. Closing: the host takes the activation out of its table and queues ``_CLOSE``; events
   queued before it are still handled. A successor activation for the same id waits for
   ``closed`` before it opens the file, so an object is never live twice.
3. Each kind of event is run and refused as its entry in ``hub.runtime.kinds.KINDS``
   says, and only there: an object that failed to activate refuses every event with
   that failure; an activation that stops refuses the events still queued with
   ``HubStoppingError``. A ``Barrier`` is not an event and has no entry: it is reached
   whether the activation runs or stops.
4. ``ctx.wait_until`` work is owned here (``_background``) and holds the object in
   memory until it ends; its exception is logged. It runs outside any event's call
   chain. At shutdown of a stopping hub it is awaited (within the drain time); a forced
   eviction or an abort cancels it.
5. ``ctx.abort()`` (``abort``): the running event fails with ``ObjectAbortedError`` and
   rolls back even if the handler caught the error; the events queued behind it move,
   in order, to a successor activation that opens the file only once this one closed
   (rule 2), so they run on a fresh instance. Sockets belong to the front and stay open.
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
from typing import TYPE_CHECKING, Any, TypeVar, cast

from hub.clock import TimerHandle
from hub.errors import HubStoppingError, ObjectAbortedError, OverloadedError, RpcError
from hub.hibernation import IdleTracker
from hub.logs import extra
from hub.runtime.background import BackgroundWork
from hub.runtime.events import Barrier, Event, SocketMessage
from hub.runtime.gates import EventGates, call_chain
from hub.runtime.kinds import KINDS, Kind
from hub.runtime.opening import activate

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.object import DurableObject
    from hub.runtime.host import ObjectHost
    from hub.runtime.rpc import ClassSpec

__all__ = ["Activation", "call_chain"]

T = TypeVar("T")
log = logging.getLogger("roost.runtime")

_CLOSE = object()


class Activation(EventGates):
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
        #: Set by ``abort``: the error the running event (and this activation) ends with.
        self.aborted: ObjectAbortedError | None = None
        super().__init__()
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
        #: ``ctx.wait_until`` work still running (rule 4).
        self._background = BackgroundWork(
            f"{spec.cls.__name__} {object_id!r}", self._background_done
        )
        self._idle_timer: TimerHandle | None = None
        self.instance: DurableObject | None = None
        #: Kept, not looked up per event (hub.histograms rule 1).
        self._handler_latency = host.latencies.histogram("handler", spec.binding)
        #: The RPC latency histogram of this binding (``hub.runtime.call_events`` observes).
        self.rpc_latency = host.latencies.histogram("rpc", spec.binding)
        #: The call chain of an event nobody waits on: this object alone.
        self.own_chain = (object_id.hex,)
        #: Each message handled is a debug line (decided once per activation).
        self._log_messages = log.isEnabledFor(logging.DEBUG)
        self._loop = asyncio.get_running_loop()
        self.task = self._loop.create_task(
            self._run(predecessor), name=f"roost:{spec.binding}:{object_id.hex[:12]}"
        )

    # -- used by the host and by ctx ---------------------------------------------------

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
        """See ``DurableObjectState.wait_until`` (rule 4)."""
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
        """Reset the object (rule 5); the error the running event fails with."""
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

    # -- the task ---------------------------------------------------------------------

    async def _run(self, predecessor: Activation | None) -> None:
        clock = time.monotonic
        try:
            started = clock()
            if predecessor is not None:
                await predecessor.closed.wait()
            failure = await activate(self)
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
                kind = KINDS[type(event)]
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

    async def _handle(self, kind: Kind[Any], item: Event) -> None:
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

    async def _refuse(self, kind: Kind[Any], item: Event, failure: RpcError) -> None:
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
                # Refusing with HubStoppingError leaves nothing to await (kinds rule 2).
                KINDS[type(item)].refuse(self, item, stopping)
        self._background.cancel()  # a forced eviction (a stopping hub drained it in _run)
        try:
            self.detach()
        except (sqlite3.Error, OSError):
            # The file is closed and unlocked all the same (``ObjectDatabase.close``);
            # what failed is logged, and a successor must not wait forever (rule 2).
            log.exception("closing the database of %r failed", self.id)
        finally:
            self.instance = None
            self.host.closed(self)
            self.closed.set()
