"""The gates around an activation's events: each runs in its transaction, and what it
sends leaves only after that transaction committed.

``EventGates`` is the base class of ``hub.runtime.activation.Activation`` and owns the
state these rules are about (the database, the storage, the outbox, the blockers, the
committed alarm); the activation owns the queue and the task that take events to
``transact`` one at a time. A base class rather than an object of its own: ``transact``
and the commit run per event, and a method of the activation's own class costs no
extra attribute hop there.

Rules:

1. Input gate: events are taken one at a time (the activation's queue). The next event
   starts only once the previous one's transaction is committed or rolled back and
   every ``block_concurrency_while`` it started has finished.
2. Output gate: everything an event sends (its reply, ``ws.send``, ``broadcast``,
   ``ws.close``) is queued in its outbox and leaves only after its transaction
   committed, reply first. When the handler raises, the writes roll back, the outbox
   is dropped, and sockets it accepted are abandoned.
3. The alarm in the object's file commits with the event; the hub-wide index is moved
   earlier *before* the commit and to the exact time *after* it (see
   ``hub.storage.registry``), through the scheduler.
4. ``ctx.storage.sync()`` (``checkpoint``) commits the running event's writes so far
   and sends the output queued so far; the event goes on in a new transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from hub.errors import (
    LimitExceededError,
    ObjectAbortedError,
    RemoteError,
    RpcError,
    StorageError,
)
from hub.logs import extra
from hub.runtime.feed_events import FeedPublisher
from hub.runtime.websocket import ClosedSocket, WebSocket
from hub.storage.feeds import FeedRetention
from hub.storage.storage import Storage

if TYPE_CHECKING:
    from hub.http import Request
    from hub.ids import ObjectId
    from hub.runtime.feed_events import Publication
    from hub.runtime.host import ObjectHost
    from hub.runtime.ports import SocketPort
    from hub.runtime.rpc import ClassSpec
    from hub.storage.database import ObjectDatabase

__all__ = ["EventGates", "call_chain"]

T = TypeVar("T")
log = logging.getLogger("roost.runtime")

#: Hex ids of the objects whose events are waiting on the current call (strict gate:
#: a call back into one of them could never be delivered).
call_chain: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "roost_call_chain", default=()
)
#: The feed retention of a class that sets none.
_NO_RETENTION = FeedRetention()


class EventGates:
    """One activation's transactions and output gate (the base of ``Activation``)."""

    # Set by ``Activation``: who the object is, and whether ``ctx.abort()`` reset it.
    host: ObjectHost
    spec: ClassSpec
    id: ObjectId
    aborted: ObjectAbortedError | None

    def __init__(self) -> None:
        #: The alarm in the object's file as last committed (rule 3).
        self.committed_alarm: int | None = None
        self._db: ObjectDatabase | None = None
        self._storage: Storage | None = None
        self._publisher: FeedPublisher | None = None
        #: The running event's output (rule 2); None outside an event.
        self._outbox: list[Callable[[], None]] | None = None
        #: Sockets the running event accepted (abandoned if it rolls back).
        self._accepted: list[int] = []
        #: ``db.total_changes`` when the running event's transaction began.
        self._written = 0
        #: ``block_concurrency_while`` work the running event waits for (rule 1).
        self._blockers: set[asyncio.Task[Any]] = set()
        #: The attachment is the presence state (read once: a handle is made per event).
        self._presence = bool(getattr(self.spec.cls, "presence_from_attachment", False))

    def attach(self, db: ObjectDatabase) -> None:
        """Run the object's events on ``db``, just opened (``hub.runtime.opening``)."""
        self._db = db
        host = self.host
        self._storage = Storage(
            db,
            host.limits,
            has_alarm_handler=self.spec.has_alarm,
            sync=self.checkpoint,
            now=host.clock.now,
        )
        retention: FeedRetention = getattr(self.spec.cls, "feed_retention", _NO_RETENTION)
        self._publisher = FeedPublisher(db.opened_seq, retention)

    def detach(self) -> None:
        """Cancel the blockers and close the database: the activation closes."""
        for task in self._blockers:
            task.cancel()
        db, self._db, self._storage = self._db, None, None
        if db is not None:
            db.close()  # may raise (a full disk): closed and unlocked all the same

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
    def database(self) -> ObjectDatabase:
        """The object's database (only while the activation is open)."""
        assert self._db is not None
        return self._db

    @property
    def port(self) -> SocketPort:
        """The network front (or a detached stand-in while the hub is not served)."""
        return self.host.port

    # -- what an event sends ------------------------------------------------------------

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

    # -- transactions -------------------------------------------------------------------

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
                await self.await_blockers()
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

    async def checkpoint(self) -> None:
        """Commit the running event's writes so far and send its output (rule 4)."""
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

    async def await_blockers(self) -> None:
        """Wait for every ``block_concurrency_while`` work (rule 1), also those started
        while waiting."""
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
