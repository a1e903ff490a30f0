"""``hub.db``: the hub-wide list of objects and the alarm index.

Rules:

1. Only aiosqlite touches ``hub.db`` (its one thread per connection); the event loop
   never blocks on it.
2. The alarm index is a *hint* that never runs late: whenever an object's own file
   holds an alarm at time T, the index holds an entry for that object at a time <= T
   (the runtime writes the earlier time before the object commits and the exact time
   after). A hint that fires early is harmless: the object checks its own alarm and
   the index is corrected. So the scheduler never opens every object's file at start.
3. The objects table lists every object that ever had a file, so evicted objects can be
   counted and listed without a directory walk.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from hub.storage.database import Durability

__all__ = ["IndexedAlarm", "Registry"]

IndexedAlarm = tuple[str, str, float]
"""(binding, object hex id, epoch seconds)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id TEXT PRIMARY KEY,
    binding TEXT NOT NULL,
    name TEXT,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,
    binding TEXT NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
"""


class Registry:
    """Async access to ``hub.db``."""

    def __init__(self, path: Path, durability: Durability = "normal") -> None:
        self.path = path
        self._durability = durability
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        """Open (creating if needed) ``hub.db``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        sync = "FULL" if self._durability == "full" else "NORMAL"
        await conn.execute(f"PRAGMA synchronous={sync}")
        await conn.executescript(_SCHEMA)
        self._conn = conn

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def _db(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("registry is not open")
        return self._conn

    async def record_object(
        self, binding: str, object_id: str, name: str | None, now: float
    ) -> None:
        """Remember that an object has a file (no-op if already known)."""
        await self._db.execute(
            "INSERT INTO objects (id, binding, name, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET name = coalesce(objects.name, excluded.name)",
            (object_id, binding, name, now),
        )

    async def count_objects(self) -> int:
        """How many objects have a file."""
        async with self._db.execute("SELECT count(*) FROM objects") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def list_objects(self) -> list[tuple[str, str, str | None]]:
        """``(binding, id, name)`` of every object with a file."""
        async with self._db.execute(
            "SELECT binding, id, name FROM objects ORDER BY binding, id"
        ) as cursor:
            rows = await cursor.fetchall()
        return [(str(b), str(i), None if n is None else str(n)) for b, i, n in rows]

    async def set_alarm(self, binding: str, object_id: str, at: float) -> None:
        """Index an alarm time for an object (replacing its entry)."""
        await self._db.execute(
            "INSERT INTO alarms (id, binding, at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            (object_id, binding, at),
        )

    async def delete_alarm(self, object_id: str) -> None:
        """Drop an object's alarm entry."""
        await self._db.execute("DELETE FROM alarms WHERE id = ?", (object_id,))

    async def load_alarms(self) -> list[IndexedAlarm]:
        """Every indexed alarm, earliest first."""
        async with self._db.execute("SELECT binding, id, at FROM alarms ORDER BY at") as cursor:
            rows = await cursor.fetchall()
        return [(str(b), str(i), float(at)) for b, i, at in rows]
