"""The ``where`` filters of feed subscriptions (protocol/SPEC.md §9.4), compiled.

Rules:

1. ``compile_where`` checks a ``where`` against the spec (shapes, ops, value kinds,
   limits, and known columns when it is given them) and raises only ``WhereError``
   (code ``bad_subscription``); what it returns is a plain predicate over a row.
2. The predicate follows §9.4 exactly and never raises, whatever the row holds: numbers
   compare with numbers, strings with strings, ``null`` equals only ``null``, and a
   missing column is ``null``.
3. The same predicate filters snapshots, replays and live changes, so a subscriber sees
   one meaning of its filter everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from protocol.errors import ProtocolError

__all__ = [
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_IN",
    "OPS",
    "Predicate",
    "WhereError",
    "compile_where",
]

#: Conditions in one ``where``, ``or`` conditions and nested ones included (§9.4).
MAX_CONDITIONS = 32
#: How deep ``or`` may nest (§9.4).
MAX_DEPTH = 4
#: Values in one ``in`` array (§9.4).
MAX_IN = 100

OPS = frozenset({"eq", "neq", "lt", "lte", "gt", "gte", "in", "like"})

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]


class WhereError(ProtocolError, ValueError):
    """A ``where`` (or ``columns``) that breaks SPEC §9.4-§9.5."""

    code = "bad_subscription"


def _show(text: str) -> str:
    """``text`` quoted for an error message, cut short: the message goes on the wire."""
    return repr(text) if len(text) <= 64 else f"{text[:64]!r}..."


def _always(row: Row) -> bool:
    return True


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float))


def _norm(value: Any) -> Any:
    """``true``/``false`` are 1/0 (SQLite has no booleans)."""
    if value is True:
        return 1
    if value is False:
        return 0
    return value


def _equal(value: Any, wanted: Any) -> bool:
    value = _norm(value)
    if wanted is None or value is None:
        return value is wanted
    if isinstance(wanted, str):
        return isinstance(value, str) and value == wanted
    return isinstance(value, (int, float)) and value == wanted


def _ordered(op: str, wanted: Any) -> Predicate:
    """``lt``/``lte``/``gt``/``gte`` against a number or a string."""
    kind: type | tuple[type, ...] = str if isinstance(wanted, str) else (int, float)

    def compare(value: Any) -> bool | None:
        value = _norm(value)
        if not isinstance(value, kind):
            return None
        if op == "lt":
            return bool(value < wanted)
        if op == "lte":
            return bool(value <= wanted)
        if op == "gt":
            return bool(value > wanted)
        return bool(value >= wanted)

    return lambda v: compare(v) is True


def _segment(text: str) -> re.Pattern[str]:
    """A piece of a ``like`` pattern without ``%``: literal characters and ``_``."""
    regex = "".join("." if char == "_" else re.escape(char) for char in text)
    return re.compile(regex, re.ASCII | re.IGNORECASE | re.DOTALL)


def _like(pattern: str) -> Callable[[Any], bool]:
    """The test of a ``like`` pattern, in time linear in the value per piece.

    Not one regex: ``%a%a%a%b`` as ``.*a.*a.*a.*b`` backtracks polynomially on a long
    value, and the predicate runs on every change. Each piece between ``%`` matches a
    fixed number of characters (``_`` one, any other character itself), so the first
    piece anchors at the start, the last at the end, and the others may each take
    their leftmost match in order.
    """
    first, *middle = [_segment(piece) for piece in pattern.split("%")]
    if not middle:
        return lambda v: isinstance(v, str) and first.fullmatch(v) is not None
    *middle, last = middle
    tail = len(pattern.rsplit("%", 1)[1])

    def test(value: str) -> bool:
        start = first.match(value)
        end = len(value) - tail
        if start is None or end < start.end() or last.fullmatch(value, end) is None:
            return False
        position = start.end()
        for piece in middle:
            found = piece.search(value, position, end)
            if found is None:
                return False
            position = found.end()
        return True

    return lambda v: isinstance(v, str) and test(v)


class _Compiler:
    def __init__(self, columns: Collection[str] | None) -> None:
        self.columns = columns
        self.count = 0

    def conditions(self, where: Any, depth: int) -> list[Predicate]:
        if not isinstance(where, list):
            raise WhereError("where must be an array of conditions")
        return [self.condition(item, depth) for item in where]

    def condition(self, item: Any, depth: int) -> Predicate:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise WhereError(f"where has more than {MAX_CONDITIONS} conditions")
        if isinstance(item, dict):
            return self.alternatives(item, depth)
        if not isinstance(item, list) or len(item) != 3:
            raise WhereError('a condition is [column, op, value] or {"or": [...]}')
        column, op, value = item
        if not isinstance(column, str):
            raise WhereError("a condition's column must be a string")
        if self.columns is not None and column not in self.columns:
            raise WhereError(f"unknown column {_show(column)}")
        test = self.operator(op, value)
        return lambda row: test(row.get(column))

    def alternatives(self, item: dict[str, Any], depth: int) -> Predicate:
        if set(item) != {"or"}:
            raise WhereError('a condition object must be {"or": [where, ...]}')
        if depth >= MAX_DEPTH:
            raise WhereError(f"or nests more than {MAX_DEPTH} deep")
        branches = item["or"]
        if not isinstance(branches, list) or not branches:
            raise WhereError('"or" takes a non-empty array of arrays of conditions')
        compiled = [_all(self.conditions(branch, depth + 1)) for branch in branches]
        return lambda row: any(branch(row) for branch in compiled)

    def operator(self, op: Any, value: Any) -> Callable[[Any], bool]:
        if not isinstance(op, str) or op not in OPS:
            # Not ``op in OPS`` alone: a list is unhashable, and its repr may recurse.
            shown = _show(op) if isinstance(op, str) else f"of type {type(op).__name__}"
            raise WhereError(f"unknown op {shown} (one of {', '.join(sorted(OPS))})")
        if op == "in":
            if not isinstance(value, list) or len(value) > MAX_IN:
                raise WhereError(f"in takes an array of at most {MAX_IN} scalars")
            if not all(_is_scalar(v) for v in value):
                raise WhereError("in takes scalars only")
            wanted = [_norm(v) for v in value]
            return lambda v: any(_equal(v, w) for w in wanted)
        if op == "like":
            if not isinstance(value, str):
                raise WhereError("like takes a string pattern")
            return _like(value)
        if op in ("eq", "neq"):
            if not _is_scalar(value):
                raise WhereError(f"{op} takes a scalar")
            wanted = _norm(value)
            if op == "eq":
                return lambda v: _equal(v, wanted)
            return lambda v: not _equal(v, wanted)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise WhereError(f"{op} takes a number or a string")
        return _ordered(op, value)


def _all(tests: list[Predicate]) -> Predicate:
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    return lambda row: all(test(row) for test in tests)


def compile_where(where: Any, columns: Collection[str] | None = None) -> Predicate:
    """The predicate of ``where`` (SPEC §9.4); ``WhereError`` if it is invalid or names
    a column not in ``columns`` (when given)."""
    return _all(_Compiler(columns).conditions(where, 0))
