"""``ctx.storage``: an object's SQL, key-value data, nested transactions and alarm.

Every write made while one event is handled belongs to that event's transaction, which
the runtime commits when the handler returns and rolls back when it raises. The calls
here never commit on their own; ``transaction_sync`` and ``transaction`` nest inside
the event's transaction as SAVEPOINTs.

The alarm time lives in the object's own file (so it commits or rolls back with the
event); the runtime mirrors it into the hub-wide alarm index after the event.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar, overload

from hub.backup.points import PointInTime
from hub.errors import StorageError
from hub.limits import Limits
from hub.storage.database import ObjectDatabase
from hub.storage.feeds import FeedLog
from hub.storage.kv import KvStorage
from hub.storage.sql import SqlStorage

__all__ = ["Storage", "Transaction", "to_epoch_ms"]

T = TypeVar("T")

_ALARM_KEY = "alarm"


class Transaction:
    """Handle of ``async with storage.transaction() as txn``; ``txn.rollback()`` undoes it."""

    __slots__ = ("rolled_back",)

    def __init__(self) -> None:
        self.rolled_back = False

    def rollback(self) -> None:
        """Undo this transaction's writes when the ``async with`` block ends."""
        self.rolled_back = True


class Storage:
    """The storage of one object, as seen from its code (``ctx.storage``)."""

    def __init__(
        self,
        db: ObjectDatabase,
        limits: Limits,
        *,
        has_alarm_handler: bool,
        sync: Callable[[], Awaitable[None]] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._sync = sync
        self._points = PointInTime(db.shipper)
        self._now = now
        self.sql = SqlStorage(db)
        """Synchronous SQL: ``ctx.storage.sql.exec(query, *params)``."""
        self.kv = KvStorage(db, limits)
        """Synchronous key-value calls, the same as the coroutines on this object."""
        self.feeds = FeedLog(db)
        """Table change feeds: ``enable(table)``, ``disable``, ``tables()``, ``since(seq)``."""
        self._has_alarm_handler = has_alarm_handler
        self.alarm_touched = False

    @property
    def database(self) -> ObjectDatabase:
        """The connection itself, for the hub's built-in classes (database objects,
        ``hub.migrate``): internal statements and bounded user statements."""
        return self._db

    # -- key-value, as coroutines (the anchor's shape) ------------------------------------

    @overload
    async def get(self, key: str) -> Any: ...
    @overload
    async def get(self, key: Sequence[str]) -> dict[str, Any]: ...
    async def get(self, key: str | Sequence[str]) -> Any:
        """The value of ``key`` (None when absent), or a dict of the keys found."""
        return self.kv.get(key)

    @overload
    async def put(self, key: str, value: Any) -> None: ...
    @overload
    async def put(self, key: Mapping[str, Any]) -> None: ...
    async def put(self, key: str | Mapping[str, Any], value: Any = None) -> None:
        """Store ``value`` under ``key``, or every entry of a mapping."""
        self.kv.put(key, value)  # type: ignore[arg-type]

    @overload
    async def delete(self, key: str) -> bool: ...
    @overload
    async def delete(self, key: Sequence[str]) -> int: ...
    async def delete(self, key: str | Sequence[str]) -> bool | int:
        """Delete ``key`` (True if it existed) or several keys (how many existed)."""
        return self.kv.delete(key)

    async def list(
        self,
        *,
        start: str | None = None,
        start_after: str | None = None,
        end: str | None = None,
        prefix: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Entries in key order; see ``KvStorage.list``."""
        return self.kv.list(
            start=start,
            start_after=start_after,
            end=end,
            prefix=prefix,
            reverse=reverse,
            limit=limit,
        )

    # -- transactions ------------------------------------------------------------------

    def transaction_sync(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a nested transaction: its writes are undone if it raises."""
        with self._db.savepoint():
            return fn()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A nested transaction around an ``async with`` block.

        Its writes are undone when the block raises or calls ``txn.rollback()``.
        """
        txn = Transaction()
        name = self._db.open_savepoint()
        try:
            yield txn
        except BaseException:
            self._db.close_savepoint(name, rollback=True)
            raise
        self._db.close_savepoint(name, rollback=txn.rolled_back)

    async def sync(self) -> None:
        """Make the running event's writes so far durable now (the anchor's ``sync()``).

        Roost commits every event's writes together when its handler returns; ``sync``
        commits the ones made so far at once, as durable as the hub's ``durability``
        setting makes any commit (a process crash with ``"normal"``, power loss too with
        ``"full"``), and sends the messages queued so far (the output gate holds them
        only until their writes are committed). The event goes on in a new
        transaction: if the handler raises afterwards, only the writes made after
        ``sync`` roll back. The reply of the event (an RPC result, an HTTP response)
        still leaves when the handler returns.

        Outside an event (``ctx.wait_until`` work) every write commits on its own, so
        there is nothing to wait for. Inside ``transaction()`` / ``transaction_sync()``
        it raises ``StorageError``: a nested transaction cannot be committed alone.
        """
        if self._sync is not None:
            await self._sync()

    async def delete_all(self) -> None:
        """Delete every table, view, trigger and key of the object, its change log and
        its alarm."""
        db = self._db
        objects = db.internal(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger')"
            " AND name NOT LIKE '\\_roost\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%'"
            " ESCAPE '\\' -- roost"
        ).fetchall()
        # Foreign keys are checked at commit, once every table is gone.
        db.internal("PRAGMA defer_foreign_keys = ON")
        order = {"trigger": 0, "view": 1, "table": 2}
        for kind, name in sorted(objects, key=lambda row: order[row[0]]):
            quoted = '"' + str(name).replace('"', '""') + '"'
            db.internal(f"DROP {kind.upper()} IF EXISTS {quoted} -- roost")
        self.kv.delete_everything()
        self.feeds.clear()
        await self.delete_alarm()

    # -- the alarm ---------------------------------------------------------------------

    async def get_alarm(self) -> int | None:
        """The pending alarm time in epoch milliseconds, or None."""
        return self.read_alarm()

    async def set_alarm(self, when: datetime | float) -> None:
        """Run ``alarm()`` at ``when`` (aware datetime or epoch ms); replaces any alarm.

        A time in the past fires at once.
        """
        if not self._has_alarm_handler:
            raise StorageError("set_alarm needs an alarm(self, info) method on the object")
        self._db.write_meta(_ALARM_KEY, to_epoch_ms(when))
        self.alarm_touched = True

    async def delete_alarm(self) -> None:
        """Cancel the pending alarm, if any."""
        self._db.write_meta(_ALARM_KEY, None)
        self.alarm_touched = True

    # -- point-in-time recovery (hub.backup.points) -----------------------------------

    async def get_current_bookmark(self) -> str:
        """A bookmark of the object's state as of its last commit (opaque; bookmarks sort
        in time order as strings)."""
        return self._points.current()

    async def get_bookmark_for_time(self, when: datetime | float) -> str:
        """The bookmark of the last state at or before ``when`` (aware datetime or epoch
        ms), within the backup retention (30 days by default)."""
        return self._points.for_time(to_epoch_ms(when, "bookmark time"), self._now_ms())

    async def on_next_session_restore_bookmark(self, bookmark: str) -> str:
        """Restore ``bookmark`` when the object next starts (call ``ctx.abort()`` now to
        make that happen at once); returns a bookmark that undoes the restore."""
        return self._points.restore_next(bookmark)

    def _now_ms(self) -> int:
        return round(self._now() * 1000)

    def read_alarm(self) -> int | None:
        """The alarm as this transaction sees it (for the runtime)."""
        row = self._db.internal(
            "SELECT value FROM _roost_meta WHERE key = ? -- roost", (_ALARM_KEY,)
        ).fetchone()
        return None if row is None else int(row[0])


def to_epoch_ms(when: datetime | float, what: str = "alarm time") -> int:
    """Epoch milliseconds from an aware datetime or a number of milliseconds."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise StorageError(
                f"{what} must be timezone-aware (datetime.now(timezone.utc)), "
                f"got naive {when.isoformat()!r}"
            )
        return round(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
        raise StorageError(f"{what} must be a datetime or epoch milliseconds, got {when!r}")
    return round(when)
