"""The table verbs' arguments and the SQL they become (docs/databases.md, "Verbs").

Rules:

1. Arguments are checked by msgspec structs (unknown keys refused) and every column a
   verb names must be a column of the table (``PRAGMA table_info``), then quoted; values
   are always parameters, never text in the SQL.
2. A bad argument is ``InvalidArgumentsError`` (400 ``invalid_arguments``), with a
   lowercase message naming what was expected.
3. ``where`` has the change feeds' meaning (``where_sql``).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import msgspec

from hub.databases.where_sql import quote, where_sql
from hub.errors import InvalidArgumentsError
from protocol.where import WhereError

__all__ = [
    "MAX_ROWS_PER_CALL",
    "BatchArgs",
    "CountArgs",
    "DeleteArgs",
    "InsertArgs",
    "MigrateArgs",
    "Migration",
    "QueryArgs",
    "SelectArgs",
    "Statement",
    "UpdateArgs",
    "check_args",
    "count_sql",
    "delete_sql",
    "insert_sql",
    "select_sql",
    "update_sql",
]

#: Statements in one ``batch``, rows in one ``insert``.
MAX_ROWS_PER_CALL = 1000

Scalar = str | int | float | bool | None
Built = tuple[str, list[Any]]
A = TypeVar("A", bound=msgspec.Struct)


class QueryArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``query``: one statement and its ``?`` parameters."""

    sql: str
    params: list[Scalar] = []


class Statement(msgspec.Struct, forbid_unknown_fields=True):
    """One statement of a ``batch``."""

    sql: str
    params: list[Scalar] = []


class BatchArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``batch``: statements run in one transaction."""

    statements: list[Statement]


class InsertArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``insert``: rows as objects of column to value."""

    table: str
    rows: list[dict[str, Scalar]]


class SelectArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``select``: rows of a table, filtered, ordered and paged."""

    table: str
    where: Any = []
    columns: list[str] | None = None
    order_by: list[tuple[str, Literal["asc", "desc"]]] = []
    limit: int | None = None
    offset: int = 0


class UpdateArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``update``: set columns of the rows ``where`` holds for."""

    table: str
    set: dict[str, Scalar]
    where: Any = []


class DeleteArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``delete``: remove the rows ``where`` holds for."""

    table: str
    where: Any = []


class CountArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``count``: how many rows ``where`` holds for."""

    table: str
    where: Any = []


class Migration(msgspec.Struct, forbid_unknown_fields=True):
    """One migration: a name recorded once applied, and its SQL (several statements)."""

    name: str
    sql: str


class MigrateArgs(msgspec.Struct, forbid_unknown_fields=True):
    """``migrate``: migrations to apply in order, each at most once."""

    migrations: list[Migration]


def check_args(verb: str, kwargs: object, kind: type[A]) -> A:
    """``kwargs`` converted to ``kind``; ``InvalidArgumentsError`` when they do not fit."""
    try:
        return msgspec.convert(kwargs, kind)
    except msgspec.ValidationError as exc:
        raise InvalidArgumentsError(f"invalid arguments for {verb}: {exc}") from None


def _known(table: str, names: Sequence[str], columns: Sequence[str]) -> None:
    unknown = [name for name in names if name not in columns]
    if unknown:
        raise InvalidArgumentsError(
            f"unknown columns {unknown!r} in table {table!r} (it has {list(columns)!r})"
        )


def _where(table: str, where: Any, columns: Sequence[str]) -> Built:
    try:
        return where_sql(where, columns)
    except WhereError as exc:
        raise InvalidArgumentsError(f"invalid where for table {table!r}: {exc}") from None


def insert_sql(args: InsertArgs, columns: Sequence[str]) -> list[Built]:
    """One ``INSERT`` per row (rows may name different columns)."""
    if not args.rows or len(args.rows) > MAX_ROWS_PER_CALL:
        raise InvalidArgumentsError(
            f"insert takes 1 to {MAX_ROWS_PER_CALL} rows, got {len(args.rows)}"
        )
    built: list[Built] = []
    for row in args.rows:
        _known(args.table, list(row), columns)
        if not row:
            built.append((f"INSERT INTO {quote(args.table)} DEFAULT VALUES", []))
            continue
        names = ", ".join(quote(name) for name in row)
        marks = ", ".join("?" for _ in row)
        values = [_scalar(v) for v in row.values()]
        built.append((f"INSERT INTO {quote(args.table)} ({names}) VALUES ({marks})", values))
    return built


def select_sql(args: SelectArgs, columns: Sequence[str]) -> Built:
    """The ``SELECT`` of a ``select`` call."""
    if args.columns is not None:
        if not args.columns:
            raise InvalidArgumentsError("columns must name at least one column (or be null)")
        _known(args.table, args.columns, columns)
    _known(args.table, [name for name, _ in args.order_by], columns)
    if args.limit is not None and args.limit < 0:
        raise InvalidArgumentsError(f"limit must be >= 0, got {args.limit}")
    if args.offset < 0:
        raise InvalidArgumentsError(f"offset must be >= 0, got {args.offset}")
    shown = "*" if args.columns is None else ", ".join(quote(c) for c in args.columns)
    condition, params = _where(args.table, args.where, columns)
    sql = f"SELECT {shown} FROM {quote(args.table)} WHERE {condition}"
    if args.order_by:
        order = ", ".join(f"{quote(name)} {way.upper()}" for name, way in args.order_by)
        sql += f" ORDER BY {order}"
    if args.limit is not None or args.offset:
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if args.limit is None else args.limit, args.offset]
    return sql, params


def update_sql(args: UpdateArgs, columns: Sequence[str]) -> Built:
    """The ``UPDATE`` of an ``update`` call."""
    if not args.set:
        raise InvalidArgumentsError("update needs at least one column in set")
    _known(args.table, list(args.set), columns)
    assignments = ", ".join(f"{quote(name)} = ?" for name in args.set)
    values = [_scalar(v) for v in args.set.values()]
    condition, params = _where(args.table, args.where, columns)
    return f"UPDATE {quote(args.table)} SET {assignments} WHERE {condition}", values + params


def delete_sql(args: DeleteArgs, columns: Sequence[str]) -> Built:
    """The ``DELETE`` of a ``delete`` call."""
    condition, params = _where(args.table, args.where, columns)
    return f"DELETE FROM {quote(args.table)} WHERE {condition}", params


def count_sql(args: CountArgs, columns: Sequence[str]) -> Built:
    """The ``SELECT count(*)`` of a ``count`` call."""
    condition, params = _where(args.table, args.where, columns)
    return f"SELECT count(*) FROM {quote(args.table)} WHERE {condition}", params


def _scalar(value: Scalar) -> Scalar:
    return 1 if value is True else 0 if value is False else value
