"""``SqlCursor``: the rows of one ``sql.exec``, read before ``exec`` returned.

A one-pass iterator over those rows, as in the anchor: rows taken by iteration,
``to_array()`` or ``raw()`` are not returned again.

``sql.exec`` is the hot path of an object's storage, so a cursor is cheap to make: it
keeps the statement's ``description`` as sqlite3 gave it and reads the column names
out of it only when they are asked for (a one-column ``one()``, the common lookup, never
builds them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from hub.errors import SqlError

if TYPE_CHECKING:
    from hub.storage.database import SqlValue

__all__ = ["Description", "Row", "SqlCursor"]

Row = dict[str, "SqlValue"]
#: A statement's ``cursor.description``: one 7-tuple a column, its name first.
Description = tuple[tuple[object, ...], ...]


class SqlCursor:
    """The result of one ``sql.exec``: rows as dicts (iteration) or tuples (``raw()``)."""

    __slots__ = ("_description", "_names", "_pos", "_rows", "rows_written")

    _description: Description
    _names: list[str]
    _rows: list[tuple[SqlValue, ...]]
    _pos: int
    rows_written: int

    # ``ObjectDatabase.exec`` makes its cursors without calling ``__init__`` (a frame
    # fewer on the hot path): it sets these four slots; ``_names`` is set on first use.
    def __init__(
        self, description: Description, rows: list[tuple[SqlValue, ...]], rows_written: int
    ) -> None:
        self._description = description
        self._rows = rows
        self._pos = 0
        self.rows_written = rows_written

    @property
    def column_names(self) -> list[str]:
        """The result's column names, in order."""
        return list(self._column_names())

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
        return dict(zip(self._column_names(), row))  # noqa: B905

    def to_array(self) -> list[Row]:
        """Every remaining row as a dict."""
        names = self._column_names()
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
        rows = self._rows
        pos = self._pos
        if len(rows) != pos + 1:
            raise SqlError(f"expected exactly one row, got {len(rows) - pos}")
        self._pos = pos + 1
        description = self._description
        if len(description) == 1:
            # One column: a dict display costs a quarter of dict(zip(...))'s ~0.2 µs.
            return {description[0][0]: rows[pos][0]}  # type: ignore[dict-item]
        return dict(zip(self._column_names(), rows[pos]))  # noqa: B905

    def _column_names(self) -> list[str]:
        try:
            return self._names
        except AttributeError:  # not read yet: ``_names`` is set on first use
            names = self._names = [str(column[0]) for column in self._description]
            return names
