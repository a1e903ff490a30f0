"""Table change feeds: every insert, update and delete of a feed table, in order.

Rules:

1. A feed table's changes are written by SQLite triggers into ``_roost_changes`` in the
   same transaction as the write, so a change exists if and only if its write
   committed.
2. ``seq`` is an AUTOINCREMENT key: a committed change's seq is never reused, even
   after trimming, so "everything after ``seq``" is well defined across restarts (a
   rolled-back write gives its seq back, but no reader ever saw it).
3. An update that changes a row's primary key is recorded as a delete of the old key
   and an insert of the new one, so a subscriber keyed by primary key never keeps a
   stale row.
4. Rows are JSON objects of every column (``rowid`` too when the table declares no
   primary key, so a row always carries its key); BLOB values are upper-case hex. An
   update also keeps the row as it was (``old``), so a filtered reader can tell a row
   that left its filter.
5. Trimming (by count or age) records the highest ``seq`` it removed; a reader asking
   for changes after an older ``seq`` is told to reset instead of getting a silent
   partial replay.
6. ``enable`` is idempotent and cheap when nothing changed; when the table's columns
   changed (a migration added one), it re-creates the triggers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from hub.errors import StorageError
from hub.storage.database import ObjectDatabase
from hub.storage.layout import RESERVED_PREFIX

__all__ = ["Change", "FeedLog", "FeedReset", "FeedRetention"]

Op = Literal["insert", "update", "delete"]

#: Bumped when the triggers change, so ``enable`` re-creates older ones.
_TRIGGER_VERSION = 2

#: Milliseconds since the epoch, in SQL (``unixepoch('subsec')`` needs SQLite 3.42).
_NOW_MS = "((julianday('now') - 2440587.5) * 86400000.0)"


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change of a feed table."""

    seq: int
    table: str
    op: Op
    pk: dict[str, Any]
    row: dict[str, Any]
    at: float
    #: For an update, the row as it was; None otherwise.
    old: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class FeedRetention:
    """How much of the change log an object keeps (protocol/SPEC.md §9.8).

    A subscriber resuming from before what is kept is told to reset (and takes a
    snapshot); None keeps changes without that bound.
    """

    #: Keep at most the newest this many changes.
    max_changes: int | None = 100_000
    #: Drop changes older than this many seconds.
    max_age: float | None = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.max_changes is not None and (
            not isinstance(self.max_changes, int) or self.max_changes < 0
        ):
            raise ValueError(f"max_changes must be an int >= 0 or None, got {self.max_changes!r}")
        if self.max_age is not None and (
            not isinstance(self.max_age, int | float) or self.max_age < 0
        ):
            raise ValueError(f"max_age must be seconds >= 0 or None, got {self.max_age!r}")


class FeedReset(StorageError):
    """The changes asked for were trimmed: read a snapshot, then follow from its seq."""

    code = "storage_error"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_object(columns: list[str], prefix: str) -> str:
    parts = []
    for column in columns:
        value = f"{prefix}.{_ident(column)}"
        parts.append(
            f"{_literal(column)}, CASE typeof({value}) WHEN 'blob' THEN hex({value})"
            f" ELSE {value} END"
        )
    return "json_object(" + ", ".join(parts) + ")"


def _row_columns(columns: list[str], keys: list[str]) -> list[str]:
    return ["rowid", *columns] if keys == ["rowid"] else columns


class FeedLog:
    """The change log of one object, and the triggers that fill it."""

    __slots__ = ("_db", "ended")

    def __init__(self, db: ObjectDatabase) -> None:
        self._db = db
        #: Feeds ended by the open transaction: a table (``disable``) or None (``clear``).
        #: The runtime reads and empties it when the transaction ends.
        self.ended: list[str | None] = []

    # -- which tables feed -----------------------------------------------------------------

    def enable(self, table: str) -> None:
        """Capture every change of ``table`` from now on (idempotent)."""
        columns, keys = self._columns(table)
        stored = self._db.internal(
            "SELECT columns FROM _roost_feeds WHERE tbl = ? -- roost", (table,)
        ).fetchone()
        signature = orjson.dumps([columns, keys, _TRIGGER_VERSION]).decode()
        if stored is not None and stored[0] == signature:
            return
        self._drop_triggers(table)
        self._create_triggers(table, columns, keys)
        self._db.internal(
            "INSERT INTO _roost_feeds (tbl, columns) VALUES (?, ?)"
            " ON CONFLICT (tbl) DO UPDATE SET columns = excluded.columns -- roost",
            (table, signature),
        )

    def drop_triggers(self, table: str) -> None:
        """Drop ``table``'s triggers for one statement that they would block (SQLite
        refuses ``ALTER TABLE ... DROP COLUMN`` of a column a trigger names); ``enable``
        re-creates them. ``table`` stays a feed table."""
        self._drop_triggers(table)
        self._db.internal("UPDATE _roost_feeds SET columns = '[]' WHERE tbl = ? -- roost", (table,))

    def disable(self, table: str) -> None:
        """Stop capturing ``table`` (its past changes stay in the log until trimmed)."""
        self._drop_triggers(table)
        self._db.internal("DELETE FROM _roost_feeds WHERE tbl = ? -- roost", (table,))
        self.ended.append(table)

    def tables(self) -> list[str]:
        """The feed tables, sorted."""
        rows = self._db.internal("SELECT tbl FROM _roost_feeds ORDER BY tbl -- roost")
        return [str(row[0]) for row in rows]

    def columns(self, table: str) -> list[str]:
        """The columns of a feed table's rows (``rowid`` first when it has no primary
        key); ``StorageError`` when ``table`` does not feed."""
        return self.shape(table)[0]

    def shape(self, table: str) -> tuple[list[str], list[str]]:
        """A feed table's row columns and its primary key columns (``["rowid"]`` when it
        declares none); ``StorageError`` when ``table`` does not feed."""
        stored = self._db.internal(
            "SELECT columns FROM _roost_feeds WHERE tbl = ? -- roost", (table,)
        ).fetchone()
        if stored is None:
            raise StorageError(f"{table!r} is not a feed table")
        columns, keys = orjson.loads(stored[0])[:2]
        return _row_columns(columns, keys), keys

    # -- reading -----------------------------------------------------------------------

    def snapshot(self, table: str) -> list[dict[str, Any]]:
        """Every row of the feed table ``table``, in primary key order, shaped like the
        rows of its changes."""
        columns, keys = self.shape(table)
        order = ", ".join(_ident(key) for key in keys)
        query = (
            f"SELECT {_json_object(columns, 't')}"
            f" FROM {_ident(table)} AS t ORDER BY {order} -- roost"
        )
        return [orjson.loads(row[0]) for row in self._db.internal(query)]

    def last_seq(self) -> int:
        """The seq of the newest change ever written (0 when none)."""
        row = self._db.internal(
            "SELECT seq FROM sqlite_sequence WHERE name = '_roost_changes' -- roost"
        ).fetchone()
        return 0 if row is None else int(row[0])

    def trimmed_through(self) -> int:
        """The highest seq removed by trimming (0 when nothing was)."""
        value = self._db.read_meta().get("feed_trimmed")
        return 0 if value is None else int(value)

    def since(
        self, seq: int, tables: list[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        """Changes after ``seq`` (of ``tables``), oldest first; ``FeedReset`` when some
        of them were trimmed."""
        if seq < self.trimmed_through():
            raise FeedReset(
                f"changes after seq {seq} were trimmed (kept from {self.trimmed_through() + 1})"
            )
        query = "SELECT seq, tbl, op, pk, row, at, old FROM _roost_changes WHERE seq > ?"
        params: list[Any] = [seq]
        if tables is not None:
            query += f" AND tbl IN ({', '.join('?' for _ in tables)})"
            params += tables
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        rows = self._db.internal(query + " -- roost", tuple(params)).fetchall()
        return [
            Change(
                int(s),
                str(t),
                o,
                orjson.loads(pk),
                orjson.loads(row),
                float(at),
                None if old is None else orjson.loads(old),
            )
            for s, t, o, pk, row, at, old in rows
        ]

    def clear(self) -> None:
        """Forget every change and feed table (``delete_all``); seq still only grows, and
        a reader of an older seq is told to reset."""
        last = self.last_seq()
        self._db.internal("DELETE FROM _roost_changes -- roost")
        self._db.internal("DELETE FROM _roost_feeds -- roost")
        if last:
            self._db.write_meta("feed_trimmed", last)
        self.ended.append(None)

    def restored(self, previous: int) -> None:
        """The file was restored to an earlier point (``hub.backup``): its changes may
        reuse seqs a subscriber saw before the restore, so none is reused (the next
        seq is above ``previous``, the newest before the restore) and every reader
        resets (live ones now, resuming ones at their ``since``)."""
        floor = max(previous, self.last_seq()) + 1
        self._db.internal("DELETE FROM _roost_changes -- roost")
        self._db.internal("DELETE FROM sqlite_sequence WHERE name = '_roost_changes' -- roost")
        self._db.internal(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('_roost_changes', ?) -- roost",
            (floor,),
        )
        self._db.write_meta("feed_trimmed", floor)
        self.ended.append(None)

    # -- retention ---------------------------------------------------------------------

    def trim(
        self, *, keep: int | None = None, max_age_ms: float | None = None, now_ms: float
    ) -> int:
        """Remove all but the newest ``keep`` changes and those older than ``max_age_ms``;
        how many were removed."""
        cutoff = 0
        if keep is not None:
            cutoff = max(cutoff, self.last_seq() - keep)
        if max_age_ms is not None:
            row = self._db.internal(
                "SELECT max(seq) FROM _roost_changes WHERE at < ? -- roost",
                (now_ms - max_age_ms,),
            ).fetchone()
            cutoff = max(cutoff, int(row[0] or 0))
        if cutoff <= self.trimmed_through():
            return 0
        removed = self._db.internal(
            "DELETE FROM _roost_changes WHERE seq <= ? -- roost", (cutoff,)
        ).rowcount
        self._db.write_meta("feed_trimmed", cutoff)
        return int(removed)

    # -- triggers ----------------------------------------------------------------------

    def _columns(self, table: str) -> tuple[list[str], list[str]]:
        reserved = (RESERVED_PREFIX, "sqlite_")
        if not isinstance(table, str) or not table or table.lower().startswith(reserved):
            raise StorageError(f"cannot make {table!r} a feed table")
        info = self._db.internal(f"PRAGMA table_info({_ident(table)}) -- roost").fetchall()
        if not info:
            raise StorageError(f"no table {table!r} to feed: create it first")
        columns = [str(row[1]) for row in info]
        keys = [str(row[1]) for row in sorted(info, key=lambda r: int(r[5])) if int(row[5]) > 0]
        return columns, keys or ["rowid"]

    def _trigger(self, table: str, suffix: str) -> str:
        return _ident(f"{RESERVED_PREFIX}feed_{table}_{suffix}")

    def _drop_triggers(self, table: str) -> None:
        for suffix in ("insert", "update", "rekey", "delete"):
            self._db.internal(f"DROP TRIGGER IF EXISTS {self._trigger(table, suffix)} -- roost")

    def _create_triggers(self, table: str, columns: list[str], keys: list[str]) -> None:
        name, literal = _ident(table), _literal(table)
        row_columns = _row_columns(columns, keys)

        def record(op: Op, prefix: str) -> str:
            old = _json_object(row_columns, "OLD") if op == "update" else "NULL"
            return (
                "INSERT INTO _roost_changes (tbl, op, pk, row, at, old) VALUES ("
                f"{literal}, '{op}', {_json_object(keys, prefix)},"
                f" {_json_object(row_columns, prefix)}, {_NOW_MS}, {old});"
            )

        same_key = " AND ".join(f"OLD.{_ident(k)} IS NEW.{_ident(k)}" for k in keys)
        statements = [
            f"CREATE TRIGGER {self._trigger(table, 'insert')} AFTER INSERT ON {name}"
            f" BEGIN {record('insert', 'NEW')} END",
            f"CREATE TRIGGER {self._trigger(table, 'update')} AFTER UPDATE ON {name}"
            f" WHEN {same_key} BEGIN {record('update', 'NEW')} END",
            f"CREATE TRIGGER {self._trigger(table, 'rekey')} AFTER UPDATE ON {name}"
            f" WHEN NOT ({same_key}) BEGIN {record('delete', 'OLD')} {record('insert', 'NEW')} END",
            f"CREATE TRIGGER {self._trigger(table, 'delete')} AFTER DELETE ON {name}"
            f" BEGIN {record('delete', 'OLD')} END",
        ]
        for statement in statements:
            self._db.internal(statement + " -- roost")
