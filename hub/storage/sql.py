"""``ctx.storage.sql``: the object's own SQL, run synchronously like the anchor's.

``prepare`` gives D1-style prepared statements (``hub.storage.statements``).

``exec`` runs the statement at once and reads all its rows, so ``rows_written`` is
final when ``exec`` returns and a cursor never holds a statement open across an
``await``. The cursor is a one-pass iterator over those rows, as in the anchor: rows
taken by iteration, ``to_array()`` or ``raw()`` are not returned again.

Differences from the anchor, on purpose:

* ``rows_read`` counts the rows the statement returned, not the rows SQLite scanned
  (Python's sqlite3 does not expose the scan count).
* Several statements separated by ``;`` run in order when no parameters are given; the
  cursor is the last statement's.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from hub.errors import SqlError
from hub.storage.cursor import Row, SqlCursor
from hub.storage.database import ObjectDatabase
from hub.storage.statements import PreparedStatement, Result

__all__ = ["Row", "SqlCursor", "SqlStorage"]


class SqlStorage:
    """Synchronous SQL on the object's own database."""

    __slots__ = ("_db",)

    def __init__(self, db: ObjectDatabase) -> None:
        self._db = db

    def exec(self, query: str, *params: object) -> SqlCursor:
        """Run ``query`` with ``?`` parameters and return its rows.

        Raises ``SqlError`` (with the sqlite3 error chained) when SQLite rejects the
        statement or the hub's rules refuse it (transaction control, ATTACH, most
        pragmas, ``_roost_*`` names).
        """
        try:
            return self._db.run(query, params)
        except SqlError as exc:
            if not _is_multi_statement(exc):
                raise
            if params:
                raise SqlError(
                    "parameters are only allowed with a single statement, "
                    f"got {len(params)} parameters for several statements"
                ) from None
        return self._exec_script(query)

    def prepare(self, query: str) -> PreparedStatement:
        """A D1-style prepared statement: ``sql.prepare(q).bind(*params).all()``
        (also ``first``, ``run``, ``raw``); see ``hub.storage.statements``."""
        return PreparedStatement(self._db, query)

    def batch(self, statements: Sequence[PreparedStatement]) -> list[Result]:
        """Run bound statements in order, all or nothing (D1's ``batch``): if one
        fails, the writes of those before it are undone and ``SqlError`` is raised."""
        for statement in statements:
            if not isinstance(statement, PreparedStatement):
                raise SqlError(f"batch takes prepared statements, got {type(statement).__name__}")
        with self._db.savepoint():
            return [statement.all() for statement in statements]

    def _exec_script(self, script: str) -> SqlCursor:
        statements = _split_statements(script)
        if not statements:
            raise SqlError("no statement to run")
        db = self._db
        before = db.total_changes
        for statement in statements:
            cursor = db.run(statement, ())
        cursor.rows_written = db.total_changes - before
        return cursor

    @property
    def database_size(self) -> int:
        """The database's size in bytes."""
        return self._db.size


def _is_multi_statement(exc: SqlError) -> bool:
    # sqlite3 refuses a string with several statements: Warning before 3.12,
    # ProgrammingError since.
    cause = exc.__cause__
    return isinstance(cause, sqlite3.Warning | sqlite3.ProgrammingError) and (
        "one statement at a time" in str(cause)
    )


def _split_statements(script: str) -> list[str]:
    """Split at each ``;`` that ends a complete statement (not inside strings/comments)."""
    statements: list[str] = []
    start = 0
    index = script.find(";")
    while index != -1:
        candidate = script[start : index + 1]
        if sqlite3.complete_statement(candidate):
            if candidate.strip(" \t\r\n;"):
                statements.append(candidate)
            start = index + 1
        index = script.find(";", index + 1)
    tail = script[start:]
    if _COMMENT_RE.sub("", tail).strip():
        statements.append(tail)
    return statements


_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.DOTALL)
