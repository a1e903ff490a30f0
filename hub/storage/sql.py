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

from collections.abc import Sequence
from typing import Protocol

from hub.errors import SqlError
from hub.storage.cursor import Row, SqlCursor
from hub.storage.database import ObjectDatabase
from hub.storage.statements import PreparedStatement, Result

__all__ = ["Exec", "Row", "SqlCursor", "SqlStorage"]


class Exec(Protocol):
    """The signature of ``sql.exec``."""

    def __call__(self, query: str, *params: object) -> SqlCursor: ...


class SqlStorage:
    """Synchronous SQL on the object's own database."""

    __slots__ = ("_db", "exec")

    def __init__(self, db: ObjectDatabase) -> None:
        self._db = db
        self.exec = db.exec

    exec: Exec
    """``exec(query, *params)``: run ``query`` with ``?`` parameters and return its rows.

    Raises ``SqlError`` (with the sqlite3 error chained) when SQLite rejects the
    statement or the hub's rules refuse it (transaction control, ATTACH, most
    pragmas, ``_roost_*`` names). It is the database's ``exec`` itself (bound in
    ``__init__``): the hot path of an object's storage runs in one Python frame.
    """

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

    @property
    def database_size(self) -> int:
        """The database's size in bytes."""
        return self._db.size
