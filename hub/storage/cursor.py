"""``SqlCursor``: the rows of one ``sql.exec``, read before ``exec`` returned.

A one-pass iterator over those rows, as in the anchor: rows taken by iteration,
``to_array()`` or ``raw()`` are not returned again.

``sql.exec`` is the hot path of an object's storage, so a cursor is cheap to make: its
column names are a tuple ``exec`` keeps per query text (``ObjectDatabase._plans``), not
read again for every statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from hub.errors import SqlError

if TYPE_CHECKING:
    from hub.storage.database import SqlValue

__all__ = ["Names", "Row", "SqlCursor"]

Row = dict[str, "SqlValue"]
#: A statement's column names, in order.
Names = tuple[str, ...]


class SqlCursor:
    """The result of one ``sql.exec``: rows as dicts (iteration) or tuples (``raw()``)."""

    __slots__ = ("_names", "_pos", "_rows", "rows_written")

    _names: Names
    _rows: list[tuple[SqlValue, ...]]
    _pos: int
    rows_written: int

    # Only ``ObjectDatabase.exec`` makes cursors: ``SqlCursor()``, then it sets these four
    # slots (no ``__init__``: a Python frame per statement).

    @property
    def column_names(self) -> list[str]:
        """The result's column names, in order."""
        return list(self._names)

    @property
    def rows_read(self) -> int:
        """Rows the statement returned."""
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        if self._pos >= len(self._rows):
            raise StopIteration
        row = self._rows[self._pos]
        self._pos += 1
        # No strict=: both come from one statement, and the check costs ~0.2 µs a row.
        return dict(zip(self._names, row))  # noqa: B905

    def to_array(self) -> list[Row]:
        """Every remaining row as a dict."""
        names = self._names
        rows = [dict(zip(names, row)) for row in self._rows[self._pos :]]  # noqa: B905
        self._pos = len(self._rows)
        return rows

    def raw(self) -> Iterator[tuple[SqlValue, ...]]:
        """The remaining rows as tuples, in ``column_names`` order."""
        while self._pos < len(self._rows):
            self._pos += 1
            yield self._rows[self._pos - 1]

    def one(self) -> Row:
        """The only row; ``SqlError`` unless exactly one row remains."""
        if self._pos:  # rows were taken already: the one left, if one is
            rows = self._rows
            left = len(rows) - self._pos
            if left != 1:
                raise SqlError(f"expected exactly one row, got {left}")
            self._pos = len(rows)
            row = rows[-1]
        else:
            try:
                # ``exec(...).one()``, the common lookup: one unpacking checks the count.
                (row,) = self._rows
            except ValueError:
                raise SqlError(f"expected exactly one row, got {len(self._rows)}") from None
            self._pos = 1
        names = self._names
        if len(names) == 1:
            # One column: a dict display costs a quarter of dict(zip(...))'s ~0.2 µs.
            return {names[0]: row[0]}
        return dict(zip(names, row))  # noqa: B905
