"""D1-style prepared statements on ``ctx.storage.sql``: ``sql.prepare(q).bind(*p).all()``.

The shape of the anchor's D1 API (``prepare``, ``bind``, ``all``, ``first``, ``run``,
``raw``, ``batch``), in the synchronous style of ``sql.exec``: no ``await``, the rows
are read when the call returns, and every statement belongs to the running event's
transaction like any other write.

Rules:

1. A ``PreparedStatement`` is immutable: ``bind`` returns a new statement with the
   parameters and leaves the original as it was, so one prepared statement can be
   bound and run any number of times.
2. Parameters are checked when bound (``None``, ``int``, ``float``, ``str``, ``bytes``;
   ``bool`` is stored as 1 / 0 as in D1), so a bad value fails where it is written.
3. The SQL text is compiled once per connection: Python's ``sqlite3`` keeps the compiled
   statements of a connection in a cache keyed by their text (256 per object here), so
   running the same prepared statement again reuses the compiled statement. The
   statement runs with the same rules as ``sql.exec`` (one statement, the authorizer).

Differences from D1: ``meta.rows_read`` counts rows returned (not rows scanned), there
is no ``size_after`` (``sql.database_size`` has it) nor ``served_by``; ``duration`` is
in milliseconds as in D1.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.errors import SqlError
from hub.storage.database import SqlValue

if TYPE_CHECKING:
    from hub.storage.database import ObjectDatabase

__all__ = ["PreparedStatement", "Result", "ResultMeta"]

Row = dict[str, SqlValue]
_TYPES = (type(None), int, float, str, bytes)
#: Exact types that bind as they are (``bool`` is an ``int`` subclass: not here).
_PLAIN = frozenset(_TYPES)


@dataclass(frozen=True, slots=True)
class ResultMeta:
    """What running a statement did (D1's ``meta``)."""

    #: Milliseconds the statement took to run and read.
    duration: float
    #: Rows inserted, updated or deleted by the statement itself (0 for a query).
    changes: int
    #: The rowid of the last row inserted on this connection (0 if none).
    last_row_id: int
    #: True if the statement wrote anything (triggers included).
    changed_db: bool
    #: Rows the statement returned.
    rows_read: int
    #: Rows written, triggers and the change log of feed tables included.
    rows_written: int


@dataclass(frozen=True, slots=True)
class Result:
    """The rows of a statement as dicts (``results``), ``success`` and ``meta``."""

    results: list[Row]
    meta: ResultMeta
    success: bool = True
    columns: list[str] = field(default_factory=list)


class PreparedStatement:
    """One SQL statement and its bound parameters (``sql.prepare(query)``)."""

    __slots__ = ("_db", "params", "query")

    def __init__(self, db: ObjectDatabase, query: str, params: tuple[SqlValue, ...] = ()) -> None:
        if not isinstance(query, str):
            raise SqlError(f"query must be a str, got {type(query).__name__}")
        if not query.strip():
            raise SqlError("query is empty, expected one SQL statement")
        self._db = db
        self.query = query
        self.params = params

    def bind(self, *params: object) -> PreparedStatement:
        """A new statement with ``params`` for its ``?`` / ``?NNN`` placeholders."""
        bound = object.__new__(PreparedStatement)  # the query was checked already
        bound._db, bound.query, bound.params = self._db, self.query, _checked(params)
        return bound

    def all(self) -> Result:
        """Run the statement: every row as a dict, and ``meta``."""
        return self._run()

    def run(self) -> Result:
        """Run the statement (a write, usually); the same ``Result`` as ``all()``, as
        in current D1."""
        return self._run()

    def first(self, column: str | None = None) -> SqlValue | Row | None:
        """The first row as a dict (None when there is none); with ``column``, that
        column's value of the first row (``SqlError`` if the result has no such column)."""
        rows, names, _cursor = self._db.user_cursor(self.query, self.params)
        if column is not None and column not in names:
            raise SqlError(f"no column {column!r} in the result, expected one of {names!r}")
        if not rows:
            return None
        if column is not None:
            return rows[0][names.index(column)]
        return dict(zip(names, rows[0]))  # noqa: B905 - one statement's row and names

    def raw(self, columns: bool = False) -> list[tuple[SqlValue, ...]]:
        """The rows as tuples; with ``columns=True`` the first tuple is the column names
        (D1's ``raw({columnNames: true})``)."""
        rows, names, _cursor = self._db.user_cursor(self.query, self.params)
        return [tuple(names), *rows] if columns else rows

    def _run(self) -> Result:
        rows, names, meta = self._execute()
        # No strict=: both come from one statement.
        results = [dict(zip(names, row)) for row in rows]  # noqa: B905
        return Result(results, meta, columns=names)

    def _execute(self) -> tuple[list[tuple[SqlValue, ...]], list[str], ResultMeta]:
        db = self._db
        before = db.total_changes
        started = time.perf_counter()
        rows, names, cursor = db.user_cursor(self.query, self.params)
        written = db.total_changes - before
        meta = ResultMeta(
            duration=round((time.perf_counter() - started) * 1000, 3),
            changes=max(cursor.rowcount, 0),
            last_row_id=cursor.lastrowid or 0,
            changed_db=written > 0,
            rows_read=len(rows),
            rows_written=written,
        )
        return rows, names, meta

    def __repr__(self) -> str:
        return f"<PreparedStatement {self.query[:60]!r} params={len(self.params)}>"


def _checked(params: Sequence[object]) -> tuple[SqlValue, ...]:
    if all(type(value) in _PLAIN for value in params):
        return tuple(params)  # type: ignore[arg-type]  # the common case, checked
    values: list[SqlValue] = []
    for index, value in enumerate(params, start=1):
        if isinstance(value, bool):
            values.append(int(value))
        elif isinstance(value, bytearray | memoryview):
            values.append(bytes(value))
        elif isinstance(value, _TYPES):
            values.append(value)
        else:
            raise SqlError(
                f"cannot bind parameter {index}: expected None, int, float, str or bytes,"
                f" got {type(value).__name__}"
            )
    return tuple(values)
