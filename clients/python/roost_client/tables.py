"""The chainable table client: ``db.table("users").where(...).order_by(...).all()``.

Rules:

1. A ``Table`` is immutable: ``where``, ``order_by``, ``limit``, ``offset`` and
   ``select`` return a new one, so a base query can be shared and refined.
2. ``where`` adds conditions that must all hold, in the change feeds' language (SPEC
   §9.4, docs/databases.md), translated by ``roost_client.where``: ``where(id="u1")``
   is ``eq``, ``where(n={"gte": 1, "lt": 5})`` one condition per op, ``where(id=["a",
   "b"])`` is ``in``, ``where(**{"or": [{"id": "a"}, {"n": 2}]})`` alternatives, and
   positional ``[column, op, value]`` / ``{"or": [...]}`` conditions pass as they are.
3. Rows are dicts, or instances of the row type given to ``db.table(name, RowType)``
   (a ``msgspec.Struct``, a dataclass or a TypedDict), converted by msgspec.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import msgspec

from roost_client.where import conditions_of

__all__ = ["Table"]

T = TypeVar("T")
Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class _Query:
    where: tuple[Any, ...] = ()
    order_by: tuple[tuple[str, str], ...] = ()
    limit: int | None = None
    offset: int = 0
    columns: tuple[str, ...] | None = None


class Table(Generic[T]):
    """One table of a database, with the conditions chained so far."""

    __slots__ = ("_call", "_query", "name", "row_type")

    def __init__(
        self, call: Call, name: str, row_type: type[T] | None = None, query: _Query | None = None
    ) -> None:
        self._call = call
        self.name = name
        self.row_type = row_type
        self._query = query or _Query()

    def __repr__(self) -> str:
        return f"<Table {self.name!r} {self._query}>"

    def _with(self, **changes: Any) -> Table[T]:
        return Table(self._call, self.name, self.row_type, replace(self._query, **changes))

    # -- chaining ------------------------------------------------------------------------

    def where(self, *conditions: Any, **columns: Any) -> Table[T]:
        """Only rows for which these conditions (and the earlier ones) hold."""
        return self._with(where=(*self._query.where, *conditions_of(*conditions, **columns)))

    def order_by(self, column: str, *, desc: bool = False) -> Table[T]:
        """Sort by ``column`` (after the earlier sort columns)."""
        way = "desc" if desc else "asc"
        return self._with(order_by=(*self._query.order_by, (column, way)))

    def limit(self, count: int) -> Table[T]:
        """At most ``count`` rows."""
        return self._with(limit=count)

    def offset(self, count: int) -> Table[T]:
        """Skip the first ``count`` rows."""
        return self._with(offset=count)

    def select(self, *columns: str) -> Table[T]:
        """Only these columns in the rows (all when none is given)."""
        return self._with(columns=columns or None)

    # -- reading -------------------------------------------------------------------------

    def _row(self, row: dict[str, Any]) -> T:
        if self.row_type is None:
            return row  # type: ignore[return-value]  # T is dict[str, Any] then
        return msgspec.convert(row, self.row_type)

    async def all(self) -> list[T]:
        """Every matching row."""
        query = self._query
        kwargs: dict[str, Any] = {
            "table": self.name,
            "where": list(query.where),
            "order_by": [list(pair) for pair in query.order_by],
            "offset": query.offset,
        }
        if query.limit is not None:
            kwargs["limit"] = query.limit
        if query.columns is not None:
            kwargs["columns"] = list(query.columns)
        result = await self._call("select", kwargs)
        return [self._row(row) for row in result["rows"]]

    async def first(self) -> T | None:
        """The first matching row, or None."""
        rows = await self.limit(1).all()
        return rows[0] if rows else None

    async def count(self) -> int:
        """How many rows match."""
        result = await self._call("count", {"table": self.name, "where": list(self._query.where)})
        return int(result["count"])

    # -- writing -------------------------------------------------------------------------

    async def insert(self, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]] | Any) -> int:
        """Insert one row or several (dicts, or instances of the row type); the rowid of
        the last one inserted."""
        many = rows if isinstance(rows, list | tuple) else [rows]
        plain = [dict(r) if isinstance(r, Mapping) else msgspec.to_builtins(r) for r in many]
        result = await self._call("insert", {"table": self.name, "rows": plain})
        return int(result.get("last_insert_rowid") or 0)

    async def update(self, values: Mapping[str, Any]) -> int:
        """Set these columns on every matching row; how many rows changed."""
        kwargs = {"table": self.name, "where": list(self._query.where), "set": dict(values)}
        return int((await self._call("update", kwargs))["rows_written"])

    async def delete(self) -> int:
        """Delete every matching row; how many were deleted."""
        kwargs = {"table": self.name, "where": list(self._query.where)}
        return int((await self._call("delete", kwargs))["rows_written"])
