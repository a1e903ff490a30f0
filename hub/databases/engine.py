"""The verbs of a database object run on its SQLite file (docs/databases.md, "Verbs").

Rules:

1. Client SQL runs as the object's own SQL (the authorizer refuses ``_roost_*`` names,
   ATTACH, transaction control and most pragmas: ``statement_not_allowed``); a read-only grant runs
   each statement under ``PRAGMA query_only``, so SQLite itself refuses any write
   (``read_only``). Nothing here parses SQL to decide what is allowed.
2. SQLite's refusals become stable codes in one place (``_translate``): ``read_only``,
   ``statement_not_allowed``, or ``query_error`` with SQLite's message.
3. Results are bounded: at most ``max_result_rows`` rows per statement and
   ``max_result_bytes`` (estimated JSON) per answer, else ``result_too_large``.
4. A verb that changed the schema makes every user table with a primary key a feed
   table (and stops feeds of dropped ones) in the same transaction.
5. Each call runs in the object's event transaction: a verb that raises (a ``batch``
   statement, a migration) leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hub.databases.migrations import apply_migrations
from hub.databases.settings import DatabaseSettings
from hub.databases.statements import run_statement
from hub.databases.tables import (
    MAX_ROWS_PER_CALL,
    BatchArgs,
    CountArgs,
    DeleteArgs,
    InsertArgs,
    MigrateArgs,
    QueryArgs,
    SelectArgs,
    UpdateArgs,
    check_args,
    count_sql,
    delete_sql,
    insert_sql,
    select_sql,
    update_sql,
)
from hub.databases.where_sql import quote
from hub.errors import (
    InvalidArgumentsError,
    MethodNotFoundError,
    QueryError,
    ReadOnlyError,
    ResultTooLargeError,
    RpcError,
    SqlError,
    StatementNotAllowedError,
)
from hub.storage.database import ObjectDatabase, SqlValue
from hub.storage.feeds import FeedLog

__all__ = ["VERBS", "Engine", "user_tables"]

Result = dict[str, Any]
Rows = list[tuple[SqlValue, ...]]

VERBS = frozenset(
    {
        "query",
        "batch",
        "insert",
        "select",
        "update",
        "delete",
        "count",
        "migrate",
        "stats",
        "restore",
        "health",
    }
)
_USER_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table'"
    " AND name NOT LIKE '\\_roost\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    " ORDER BY name -- roost"
)


def _translate(exc: SqlError) -> RpcError:
    name = getattr(exc.__cause__, "sqlite_errorname", None)
    if name == "SQLITE_READONLY":
        return ReadOnlyError("this token is read-only: the statement would write")
    if name == "SQLITE_AUTH":
        return StatementNotAllowedError(str(exc))
    return QueryError(str(exc))


def _value(value: SqlValue) -> SqlValue:
    return value.hex().upper() if isinstance(value, bytes) else value


def _size(value: SqlValue) -> int:
    if isinstance(value, str):
        return len(value) + 3
    if isinstance(value, bytes):
        return 2 * len(value) + 3
    return 8


def user_tables(db: ObjectDatabase) -> list[str]:
    """The names of the tables the clients made (not the hub's, not SQLite's)."""
    return [str(row[0]) for row in db.internal(_USER_TABLES)]


class Engine:
    """Runs the verbs of one database object with its limits."""

    def __init__(self, db: ObjectDatabase, feeds: FeedLog, settings: DatabaseSettings) -> None:
        self.db = db
        self.feeds = feeds
        self.settings = settings
        #: Rows returned and changed by client statements not yet added to the totals.
        self.rows_read = 0
        self.rows_written = 0
        #: True when the last ``run`` changed rows or the schema.
        self.wrote = False
        self._handlers: dict[str, Callable[[Any, bool], Result]] = {
            "query": self._query,
            "batch": self._batch,
            "insert": self._insert,
            "select": self._select,
            "update": self._update,
            "delete": self._delete,
            "count": self._count,
            "migrate": self._migrate,
        }

    def run(self, verb: str, kwargs: Any, *, read_only: bool) -> Result:
        """Run ``verb`` with its keyword arguments (stats and health are the object's)."""
        handler = self._handlers.get(verb)
        if handler is None:
            raise MethodNotFoundError(f"no verb {verb[:80]!r} (one of {', '.join(sorted(VERBS))})")
        if not isinstance(kwargs, dict):
            raise InvalidArgumentsError(f"{verb} takes an object of keyword arguments")
        written = self.rows_written
        # SQLite refuses a read-only token's writes, so its calls change no schema.
        schema = None if read_only else self._schema_version()
        result = handler(kwargs, read_only)
        self.wrote = self.rows_written != written
        if schema is not None and self._schema_version() != schema:
            self.sync_feeds()
            self.wrote = True
        return result

    # -- statements --------------------------------------------------------------------

    def _schema_version(self) -> int:
        return int(self.db.internal("PRAGMA schema_version").fetchone()[0])

    def _execute(
        self, sql: str, params: Sequence[object], read_only: bool, budget: list[int]
    ) -> tuple[Rows, list[str], int, int]:
        limit = self.settings.max_result_rows
        try:
            rows, names, changed, last = run_statement(
                self.db, sql, params, limit, read_only=read_only
            )
        except SqlError as exc:
            raise _translate(exc) from None
        if len(rows) > limit:
            raise ResultTooLargeError(f"the statement returns more than {limit} rows: add a LIMIT")
        budget[0] -= sum(_size(v) for row in rows for v in row) + 2 * len(rows)
        if budget[0] < 0:
            raise ResultTooLargeError(
                f"the answer is over {self.settings.max_result_bytes} bytes: add a LIMIT"
            )
        self.rows_read += len(rows)
        self.rows_written += changed
        return rows, names, changed, last

    def _statement(
        self, sql: str, params: Sequence[object], read_only: bool, budget: list[int]
    ) -> Result:
        rows, names, changed, last = self._execute(sql, params, read_only, budget)
        return {
            "columns": names,
            "rows": [[_value(v) for v in row] for row in rows],
            "rows_read": len(rows),
            "rows_written": changed,
            "last_insert_rowid": last or None,
        }

    def _budget(self) -> list[int]:
        return [self.settings.max_result_bytes]

    # -- verbs -------------------------------------------------------------------------

    def _query(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("query", kwargs, QueryArgs)
        return self._statement(args.sql, args.params, read_only, self._budget())

    def _batch(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("batch", kwargs, BatchArgs)
        if not args.statements or len(args.statements) > MAX_ROWS_PER_CALL:
            raise InvalidArgumentsError(
                f"batch takes 1 to {MAX_ROWS_PER_CALL} statements, got {len(args.statements)}"
            )
        budget, results = self._budget(), []
        for index, statement in enumerate(args.statements):
            try:
                results.append(self._statement(statement.sql, statement.params, read_only, budget))
            except RpcError as exc:
                raise type(exc)(f"statement {index}: {exc}") from None
        return {"results": results}

    def columns(self, table: str) -> list[str]:
        """The columns of a user table; ``InvalidArgumentsError`` for any other name."""
        if table not in user_tables(self.db):
            raise InvalidArgumentsError(f"no table {table[:80]!r}")
        info = self.db.internal(f"PRAGMA table_info({quote(table)}) -- roost").fetchall()
        return [str(row[1]) for row in info]

    def _insert(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("insert", kwargs, InsertArgs)
        budget, written, last = self._budget(), 0, 0
        for sql, params in insert_sql(args, self.columns(args.table)):
            _rows, _names, changed, last = self._execute(sql, params, read_only, budget)
            written += changed
        return {"rows_written": written, "last_insert_rowid": last or None}

    def _select(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("select", kwargs, SelectArgs)
        sql, params = select_sql(args, self.columns(args.table))
        rows, names, _changed, _last = self._execute(sql, params, read_only, self._budget())
        return {"rows": [{n: _value(v) for n, v in zip(names, row, strict=True)} for row in rows]}

    def _update(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("update", kwargs, UpdateArgs)
        sql, params = update_sql(args, self.columns(args.table))
        return {"rows_written": self._execute(sql, params, read_only, self._budget())[2]}

    def _delete(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("delete", kwargs, DeleteArgs)
        sql, params = delete_sql(args, self.columns(args.table))
        return {"rows_written": self._execute(sql, params, read_only, self._budget())[2]}

    def _count(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("count", kwargs, CountArgs)
        sql, params = count_sql(args, self.columns(args.table))
        rows = self._execute(sql, params, read_only, self._budget())[0]
        return {"count": int(rows[0][0] or 0)}

    def _migrate(self, kwargs: Any, read_only: bool) -> Result:
        args = check_args("migrate", kwargs, MigrateArgs)
        if read_only:
            raise ReadOnlyError("this token is read-only: migrate writes")
        applied, skipped = apply_migrations(self.db, [(m.name, m.sql) for m in args.migrations])
        return {"applied": applied, "skipped": skipped}

    # -- feeds and facts ------------------------------------------------------------------

    def sync_feeds(self) -> None:
        """Every user table with a declared primary key feeds; dropped tables stop."""
        keyed = []
        for table in user_tables(self.db):
            info = self.db.internal(f"PRAGMA table_info({quote(table)}) -- roost").fetchall()
            if any(int(row[5]) > 0 for row in info):
                keyed.append(table)
                self.feeds.enable(table)
        for table in self.feeds.tables():
            if table not in keyed:
                self.feeds.disable(table)

    def table_counts(self) -> list[dict[str, Any]]:
        """Every user table with its row count."""
        return [
            {
                "name": table,
                "rows": int(
                    self.db.internal(f"SELECT count(*) FROM {quote(table)} -- roost").fetchone()[0]
                ),
            }
            for table in user_tables(self.db)
        ]
