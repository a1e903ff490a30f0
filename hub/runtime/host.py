"""The object host: which objects are live, and the only way events reach them.

Rules:

1. ``_activations`` maps a hex id to its one live ``Activation``; ``_closing`` holds
   activations that were taken out of it and are finishing their queue. Only
   ``submit`` and ``replace`` add to the first and only ``evict`` / ``replace`` /
   ``closed`` remove from either.
2. Every event for an object goes through ``submit``: from stubs, the alarm scheduler
   and the network front; a ``Barrier`` (no event, no wake) through ``after_queued``.
   Nothing else touches an activation's queue.
3. Lifecycle facts (activate, evict, alarm retries) go out through ``emit``: one
   structured log line each (``hub.logs``: ``record.roost``) and a call to every
   listener.
4. Latencies (handler, RPC, wake) are observed into ``latencies``, per binding; an RPC
   from being queued here to its result.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.alarms import RetryPolicy
from hub.backup.service import Backups, BackupSettings
from hub.clock import Clock
from hub.errors import (
    CallCycleError,
    ConfigurationError,
    HubStoppingError,
    InvalidArgumentsError,
    RpcError,
    UnknownBindingError,
)
from hub.histograms import Latencies
from hub.http import Request, Response
from hub.ids import ObjectId, parse_id
from hub.limits import Limits
from hub.logs import extra
from hub.runtime import inspection
from hub.runtime.activation import Activation, call_chain
from hub.runtime.events import Barrier, Event, FetchCall, RpcCall
from hub.runtime.ports import DetachedPort, HubStats, ObjectFacts, ObjectStats, SocketPort
from hub.runtime.rpc import ClassSpec, describe_class, to_wire
from hub.runtime.scheduler import AlarmScheduler
from hub.runtime.stub import DurableObjectNamespace, Env, RpcPromise
from hub.storage.database import Durability
from hub.storage.layout import object_path
from hub.storage.registry import Registry

__all__ = [
    "Forward",
    "ForwardFetch",
    "HubStats",
    "LifecycleEvent",
    "ObjectHost",
    "ObjectStats",
    "object_path",
    "partition_of",
]

log = logging.getLogger("roost.runtime")
#: Object file paths ``path_for`` keeps at most.
PATHS_KEPT = 4096

BINDING_RE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")


#: ``forward(object_id, method, args, kwargs, chain)``: a call to an object that another
#: worker runs; the future gets the builtins result or an ``RpcError``.
Forward = Callable[
    [ObjectId, str, list[Any], dict[str, Any], tuple[str, ...]], "asyncio.Future[Any]"
]

#: ``forward_fetch(object_id, request, chain)``: ``stub.fetch`` to an object another
#: worker runs; the future gets the ``Response`` or an ``RpcError``.
ForwardFetch = Callable[[ObjectId, Request, tuple[str, ...]], "asyncio.Future[Response]"]


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """Something that happened to an object: ``activate``, ``evict``, ``alarm``, ...

    ``detail`` holds plain values (for ``evict``: ``reason`` is ``idle``, ``forced``,
    ``stopped`` or ``activation_failed``).
    """

    kind: str
    object_id: ObjectId
    detail: dict[str, str | int | float] = field(default_factory=dict)


class ObjectHost:
    """Owns the live activations, the alarm scheduler and the registry.

    Implements ``hub.runtime.ports.HostPort`` for a network front in the same process.
    """

    def __init__(
        self,
        *,
        classes: Mapping[str, type],
        base: type,
        data_dir: Path,
        clock: Clock,
        idle_timeout: float,
        durability: Durability,
        retry_policy: RetryPolicy,
        limits: Limits,
        vars: Mapping[str, object],
        backup: BackupSettings | None = None,
    ) -> None:
        if idle_timeout <= 0:
            raise ConfigurationError(f"idle_timeout must be > 0 seconds, got {idle_timeout!r}")
        if durability not in ("normal", "full"):
            raise ConfigurationError(f"durability must be 'normal' or 'full', got {durability!r}")
        self._specs = {binding: _describe(binding, cls, base) for binding, cls in classes.items()}
        clash = set(vars) & set(self._specs)
        if clash:
            raise ConfigurationError(f"vars and bindings share names: {sorted(clash)}")
        self.data_dir = data_dir
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.durability: Durability = durability
        self.retry_policy = retry_policy
        self.limits = limits
        self.registry = Registry(data_dir / "hub.db", durability)
        #: Continuous backup of every object (None: off).
        self.backups = None if backup is None else Backups(backup, data_dir, clock.now)
        self._pusher: asyncio.Task[None] | None = None
        self.scheduler = AlarmScheduler(self)
        namespaces = {name: DurableObjectNamespace(self, name) for name in self._specs}
        self.env = Env({**vars, **namespaces})
        self.namespaces = namespaces
        self._activations: dict[str, Activation] = {}
        self._closing: dict[str, Activation] = {}
        self._close_reasons: dict[Activation, str] = {}
        self._listeners: list[Callable[[LifecycleEvent], None]] = []
        #: Object files by hex id (``path_for``).
        self._paths: dict[str, Path] = {}
        #: The network front while the hub is served (``attach``), else a stand-in with
        #: no sockets.
        self.port: SocketPort = DetachedPort()
        #: This host runs the objects of partition ``index`` of ``count`` (a worker of
        #: ``roost serve --workers``); calls to other objects go to ``forward``.
        self.partition: tuple[int, int] = (0, 1)
        self.forward: Forward | None = None
        self.forward_fetch: ForwardFetch | None = None
        #: How long an activation waits for an object file another process has open.
        self.lock_timeout = 10.0
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._known = 0
        self._activation_count = 0
        self._eviction_count = 0
        #: Handler, RPC and wake latency by binding (``/_roost/metrics``).
        self.latencies = Latencies()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, *, alarms: bool = True) -> None:
        """Open ``hub.db`` and start firing alarms (a worker that is taking objects over
        from another passes ``alarms=False`` and starts ``scheduler`` once it has them)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Kept, not looked up per call: on Python 3.11 the lookup costs a getpid() syscall.
        self._loop = asyncio.get_running_loop()
        await self.registry.open()
        self._known = await self.registry.count_objects()
        self._running = True
        if self.backups is not None and self.backups.mirror is not None:
            self._pusher = asyncio.create_task(self.backups.run(), name="roost-backup-push")
        if alarms:
            await self.scheduler.start()

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Refuse new events, let queued ones finish (up to ``drain_timeout``), close."""
        if not self._running:
            return
        self._running = False
        self.scheduler.stop()
        live = [*self._activations.values(), *self._closing.values()]
        for activation in live:
            self.evict(activation, reason="stopped")
        if live:
            tasks = [activation.task for activation in live]
            _done, pending = await asyncio.wait(tasks, timeout=drain_timeout)
            if pending:
                log.warning(
                    "stop timeout (%.1f s) passed: cancelling %d objects' events",
                    drain_timeout,
                    len(pending),
                )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._pusher is not None:
            self._pusher.cancel()  # pushes once more, then ends
            await asyncio.gather(self._pusher, return_exceptions=True)
            self._pusher = None
        await self.registry.close()

    def attach(self, port: SocketPort) -> dict[str, tuple[str, str]]:
        """Send socket commands to ``port`` (a front) from now on; the auto-responses set
        while no front was attached, for the front to take over."""
        detached = self.port
        self.port = port
        return detached.auto_responses if isinstance(detached, DetachedPort) else {}

    def detach(self) -> None:
        """No front from now on: sockets are gone, new auto-responses are kept."""
        self.port = DetachedPort()

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._running

    # -- events -------------------------------------------------------------------------

    def spec(self, binding: str) -> ClassSpec:
        """The class bound to ``binding``, or ``UnknownBindingError``."""
        try:
            return self._specs[binding]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise UnknownBindingError(
                f"unknown binding {binding!r}, expected one of: {known}"
            ) from None

    def handles(self, binding: str, handler: str) -> bool:
        """True if the class bound to ``binding`` defines ``handler``."""
        return callable(getattr(self.spec(binding).cls, handler, None))

    def object_id(self, binding: str, name: str) -> ObjectId:
        """The id of ``name`` in ``binding``."""
        return self.namespace(binding).id_from_name(name)

    def socket_gone(self, object_id: ObjectId, socket_id: int) -> None:
        """Nothing to do: in one process the front's table is the only copy."""

    def auto_responded(self, object_id: ObjectId, socket_id: int, at: float) -> None:
        """Nothing to do: in one process the front's table is the only copy."""

    def parse_id(self, binding: str, hex_id: str) -> ObjectId:
        """Parse a hex id of a known binding."""
        self.spec(binding)
        return parse_id(binding, hex_id)

    def submit(self, object_id: ObjectId, event: Event) -> None:
        """Queue ``event`` for ``object_id``, activating the object if it is evicted."""
        if not self._running:
            raise HubStoppingError("the hub is not running")
        activation = self._activations.get(object_id.hex)
        if activation is None:
            spec = self.spec(object_id.binding)
            predecessor = self._closing.get(object_id.hex)
            activation = Activation(self, spec, object_id, predecessor)
            self._activations[object_id.hex] = activation
            self._activation_count += 1
        activation.submit(event)

    def after_queued(self, object_id: ObjectId, reached: Callable[[], None]) -> None:
        """Call ``reached`` once the events queued for ``object_id`` so far are handled
        and their output sent: at once when it has no live activation. Never activates
        the object, so a hibernated object stays asleep."""
        key = object_id.hex
        activation = self._activations.get(key) or self._closing.get(key)
        if activation is None:
            reached()
        else:
            activation.add_barrier(Barrier(reached))

    def owns(self, hex_id: str) -> bool:
        """True if the object runs here (always, unless this host is one worker of many)."""
        index, count = self.partition
        return count == 1 or partition_of(hex_id, count) == index

    def namespace(self, binding: str) -> DurableObjectNamespace:
        """The namespace of ``binding``, or ``UnknownBindingError``."""
        namespace = self.namespaces.get(binding)
        if namespace is None:
            self.spec(binding)  # raises UnknownBindingError with the known bindings
            raise AssertionError("unreachable")
        return namespace

    def call(self, object_id: ObjectId, method: str, *args: Any, **kwargs: Any) -> RpcPromise:
        """Queue a call of ``method`` now; await the promise for its result."""
        spec = self.spec(object_id.binding).method(method)
        try:
            wire_args = to_wire(list(args), f"an argument of {method}()")
            wire_kwargs = to_wire(kwargs, f"a keyword argument of {method}()")
        except TypeError as exc:
            raise InvalidArgumentsError(str(exc)) from None
        return RpcPromise(self.call_wire(object_id, method, wire_args, wire_kwargs), spec)

    def call_wire(
        self,
        object_id: ObjectId,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
        *,
        form: bool = False,
    ) -> asyncio.Future[Any]:
        """Queue a call whose arguments are already JSON builtins (from a stub or the wire).

        With ``form``, ``kwargs`` are HTML form fields (``hub.runtime.forms``). The
        future gets the result as builtins, or an ``RpcError``.
        """
        self.spec(object_id.binding).method(method)
        chain = call_chain.get()
        if object_id.hex in chain:
            raise CallCycleError(
                f"call to {object_id.binding}.{method}() would deadlock: that object is "
                "waiting for this call to finish (events of one object never interleave)"
            )
        if self.forward is not None and not self.owns(object_id.hex):
            return self.forward(object_id, method, args, kwargs, chain)
        if self._loop is None:
            raise HubStoppingError("the hub is not running")
        reply: asyncio.Future[Any] = self._loop.create_future()
        call = RpcCall(method, args, kwargs, reply, chain, queued_at=time.monotonic(), form=form)
        self.submit(object_id, call)
        return reply

    def fetch(self, object_id: ObjectId, request: Request) -> asyncio.Future[Response]:
        """Queue ``fetch(request)`` for the object (``stub.fetch``); the future gets its
        ``Response``, or the ``RpcError`` it failed with."""
        chain = call_chain.get()
        if object_id.hex in chain:
            raise CallCycleError(
                f"fetch to {object_id.binding} would deadlock: that object is waiting for"
                " this request to finish (events of one object never interleave)"
            )
        if self.forward_fetch is not None and not self.owns(object_id.hex):
            return self.forward_fetch(object_id, request, chain)
        if self._loop is None:
            raise HubStoppingError("the hub is not running")
        future: asyncio.Future[Response] = self._loop.create_future()

        def respond(result: Response | RpcError) -> None:
            if future.done():
                return
            if isinstance(result, RpcError):
                future.set_exception(result)
            else:
                future.set_result(result)

        self.submit(object_id, FetchCall(request, respond, chain))
        return future

    # -- eviction -----------------------------------------------------------------------

    def evict(self, activation: Activation, *, reason: str) -> None:
        """Take ``activation`` out of service; it closes after its queued events."""
        key = activation.id.hex
        if self._activations.get(key) is activation:
            del self._activations[key]
        if activation.closing:
            return
        self._closing[key] = activation
        self._close_reasons[activation] = reason
        activation.request_close()

    def replace(self, activation: Activation, moved: list[Event | Barrier]) -> None:
        """``activation`` was aborted: it closes after its running event, and ``moved``
        (its queued events and barriers, in order) go to a successor that opens the
        object once it closed: a fresh instance."""
        key = activation.id.hex
        if self._activations.get(key) is activation:
            del self._activations[key]
        self._closing[key] = activation
        self._close_reasons[activation] = "aborted"
        if not moved:
            return
        successor = self._activations.get(key)  # one may wait already, behind ``_closing``
        if successor is None:
            spec = self.spec(activation.id.binding)
            successor = Activation(self, spec, activation.id, activation)
            self._activations[key] = successor
            self._activation_count += 1
        successor.adopt(moved)

    def closed(self, activation: Activation) -> None:
        """Called by an activation once its database is closed."""
        key = activation.id.hex
        if self._closing.get(key) is activation:
            del self._closing[key]
        if self._activations.get(key) is activation:
            del self._activations[key]
        reason = self._close_reasons.pop(activation, "stopped")
        self._eviction_count += 1
        self.emit("evict", activation.id, reason=reason)

    async def hibernate(self, object_id: ObjectId) -> bool:
        """Evict ``object_id`` once its queued events are done; False if it was not live."""
        activation = self._activations.get(object_id.hex)
        if activation is None:
            pending = self._closing.get(object_id.hex)
            if pending is not None:
                await pending.closed.wait()
            return False
        self.evict(activation, reason="forced")
        await activation.closed.wait()
        return True

    async def reset(self, object_id: ObjectId, reason: str | None = None) -> bool:
        """``ctx.abort(reason)`` from outside the object: drop its instance (an event
        running now fails with ``object_aborted`` and rolls back; queued events run on a
        fresh instance) and wait until its file is closed. False if it was not live."""
        activation = self._activations.get(object_id.hex)
        if activation is None:
            pending = self._closing.get(object_id.hex)
            if pending is not None:
                await pending.closed.wait()
            return False
        activation.abort(reason)
        await activation.closed.wait()
        return True

    def is_active(self, object_id: ObjectId) -> bool:
        """True while ``object_id`` has a live instance."""
        return object_id.hex in self._activations

    # -- facts ----------------------------------------------------------------------------

    async def note_created(self, object_id: ObjectId) -> None:
        """Record a newly created object file in the registry."""
        await self.registry.record_object(
            object_id.binding, object_id.hex, object_id.name, self.clock.now()
        )
        self._known += 1

    def path_for(self, object_id: ObjectId) -> Path:
        """The object's SQLite file: named by its hex id only, never by its name.

        Kept for the objects woken last (a ``Path`` costs ~6 µs to parse, on every wake);
        the bound keeps the cache small with many objects."""
        paths = self._paths
        path = paths.get(object_id.hex)
        if path is None:
            if len(paths) >= PATHS_KEPT:
                paths.clear()
            path = paths[object_id.hex] = object_path(self.data_dir, object_id.hex)
        return path

    def stats(self) -> HubStats:
        """Active and evicted counts, and why each live object is not evicted."""
        now = self.clock.now()
        objects = [
            ObjectStats(
                binding=activation.spec.binding,
                id=activation.id.hex,
                name=activation.id.name,
                queued=activation.queued,
                idle_seconds=0.0
                if activation.tracker.held
                else round(now - activation.tracker.last_activity, 3),
                not_evictable=activation.tracker.why_not_evictable(now, self.idle_timeout),
            )
            for activation in self._activations.values()
        ]
        active = len(self._activations)
        return HubStats(
            active=active,
            evicted=max(0, self._known - active),
            activations=self._activation_count,
            evictions=self._eviction_count,
            alarms_scheduled=len(self.scheduler),
            objects=objects,
            latencies=self.latencies.to_wire(),
            backup_lag_seconds=None if self.backups is None else self.backups.lag_seconds(),
        )

    async def report(self) -> HubStats:
        """``HostPort.report``: ``stats()``."""
        return self.stats()

    async def list_objects(self) -> list[tuple[str, str, str | None]]:
        """``(binding, id, name)`` of every object with a file."""
        return await self.registry.list_objects()

    async def inspect(self, object_id: ObjectId) -> ObjectFacts:
        """``HostPort.inspect``: liveness, feeds and alarm, without waking the object."""
        return inspection.inspect(self, object_id)

    def add_listener(self, listener: Callable[[LifecycleEvent], None]) -> Callable[[], None]:
        """Call ``listener`` for every lifecycle event; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, kind: str, object_id: ObjectId, **detail: str | int | float) -> None:
        """Log one lifecycle event and hand it to the listeners (every wake and eviction
        emits one: nothing is built for a log line that is off or for no listener)."""
        if log.isEnabledFor(logging.INFO):
            fields = " ".join(f"{key}={value}" for key, value in detail.items())
            log.info(
                "%s binding=%s id=%s name=%r %s",
                kind,
                object_id.binding,
                object_id.hex[:16],
                object_id.name,
                fields,
                extra=extra(kind, object_id, **detail),
            )
        if not self._listeners:
            return
        event = LifecycleEvent(kind, object_id, dict(detail))
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("lifecycle listener %r raised", listener)


def partition_of(hex_id: str, count: int) -> int:
    """Which of ``count`` workers runs the object ``hex_id`` (stable across restarts)."""
    return int(hex_id[:8], 16) % count


def _describe(binding: str, cls: type, base: type) -> ClassSpec:
    if not isinstance(binding, str) or not BINDING_RE.fullmatch(binding):
        raise ConfigurationError(
            f"binding names are UPPER_SNAKE_CASE (like 'CHAT_ROOM'), got {binding!r}"
        )
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise ConfigurationError(
            f"binding {binding!r} must be a subclass of hub.DurableObject, got {cls!r}"
        )
    return describe_class(binding, cls, base)
