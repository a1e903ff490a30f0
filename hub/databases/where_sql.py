"""The change feeds' ``where`` (protocol/SPEC.md §9.4) compiled to SQL, same meaning.

Rules:

1. ``where_sql`` first checks ``where`` with ``protocol.where.compile_where`` (the feeds'
   own checker, so both refuse the same filters), then builds SQL. Values are always
   parameters; column names are checked against the table's columns and quoted.
2. Every condition is a definite 0 or 1, never NULL, so ``NOT``, ``AND`` and ``OR``
   combine them as the predicate's booleans do.
3. Types as in §9.4, not SQLite's: a ``typeof`` test keeps strings with strings and
   numbers with numbers, whatever the column's affinity. ``eq``, ``neq`` and ``in``
   compare with ``=`` first (an index can serve it; a stored value that passes ``=``
   only by affinity is then dropped by the ``typeof`` test). The ordering ops compare
   ``+column`` (no affinity, so no conversion of the parameter) with ``BINARY``
   collation (code point order, as Python compares strings).
4. ``like`` is SQLite's ``LIKE`` on text values: ``%``, ``_``, ASCII letters
   case-insensitive, no escape: the predicate's definition.
5. A BLOB value is never a string nor a number here (feeds show it as hex text); it
   matches ``neq`` and nothing else.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

# One normalisation of booleans for both meanings of ``where``.
from protocol.where import _norm, compile_where

__all__ = ["quote", "where_sql"]

_NUMBER = "typeof({c}) IN ('integer', 'real')"
_TEXT = "typeof({c}) = 'text'"
_SQL_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _eq(column: str, value: Any, params: list[Any]) -> str:
    value = _norm(value)
    if value is None:
        return f"({column} IS NULL)"
    params.append(value)
    kind = _TEXT if isinstance(value, str) else _NUMBER
    return f"({column} COLLATE BINARY = ? AND {kind.format(c=column)})"


def _in(column: str, values: list[Any], params: list[Any]) -> str:
    values = [_norm(v) for v in values]
    parts = []
    texts = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, int | float)]
    for group, kind in ((texts, _TEXT), (numbers, _NUMBER)):
        if group:
            params.extend(group)
            marks = ", ".join("?" for _ in group)
            parts.append(f"({column} COLLATE BINARY IN ({marks}) AND {kind.format(c=column)})")
    if any(v is None for v in values):
        parts.append(f"({column} IS NULL)")
    return "(" + " OR ".join(parts) + ")" if parts else "0"


def _condition(item: Any, params: list[Any]) -> str:
    if isinstance(item, dict):
        branches = [_all(branch, params) for branch in item["or"]]
        return "(" + " OR ".join(branches) + ")"
    name, op, value = item
    column = quote(name)
    if op == "eq":
        return _eq(column, value, params)
    if op == "neq":
        return f"(NOT {_eq(column, value, params)})"
    if op == "in":
        return _in(column, value, params)
    if op == "like":
        params.append(value)
        return f"({column} LIKE ? AND {_TEXT.format(c=column)})"
    params.append(value)
    kind = _TEXT if isinstance(value, str) else _NUMBER
    return f"(+{column} COLLATE BINARY {_SQL_OPS[op]} ? AND {kind.format(c=column)})"


def _all(where: list[Any], params: list[Any]) -> str:
    if not where:
        return "1"
    return "(" + " AND ".join(_condition(item, params) for item in where) + ")"


def where_sql(where: Any, columns: Collection[str]) -> tuple[str, list[Any]]:
    """``(sql, params)`` of ``where`` over a table with ``columns``; ``WhereError`` when
    the feeds would refuse it (shape, ops, values, limits, unknown columns)."""
    compile_where(where, columns)
    params: list[Any] = []
    return _all(where or [], params), params
