"""Feed filters (SPEC §9.4): what each op matches, and what makes a ``where`` invalid."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.where import MAX_CONDITIONS, MAX_DEPTH, MAX_IN, WhereError, compile_where

ROWS: list[dict[str, Any]] = [
    {"id": 1, "room": "lobby", "n": 5, "score": 2.5, "name": "Ada", "note": None},
    {"id": 2, "room": "lobby", "n": 10, "score": 7.0, "name": "bob", "note": "x"},
    {"id": 3, "room": "kitchen", "n": 0, "score": -1.0, "name": "Émile", "note": None},
    {"id": 4, "room": "5", "n": 1, "score": 0.0, "name": "a_b%c", "note": "y"},
]


def ids(where: Any) -> list[int]:
    test = compile_where(where)
    return [row["id"] for row in ROWS if test(row)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ([], [1, 2, 3, 4]),
        ([["room", "eq", "lobby"]], [1, 2]),
        ([["room", "neq", "lobby"]], [3, 4]),
        ([["n", "lt", 5]], [3, 4]),
        ([["n", "lte", 5]], [1, 3, 4]),
        ([["n", "gt", 5]], [2]),
        ([["n", "gte", 5]], [1, 2]),
        ([["score", "gt", 2]], [1, 2]),
        ([["name", "lt", "b"]], [1, 4]),
        ([["room", "in", ["kitchen", "5"]]], [3, 4]),
        ([["room", "eq", "lobby"], ["n", "gt", 5]], [2]),
        ([{"or": [[["n", "eq", 0]], [["room", "eq", "lobby"], ["n", "lt", 10]]]}], [1, 3]),
    ],
)
def test_ops_and_combinations(where: Any, expected: list[int]) -> None:
    assert ids(where) == expected


def test_numbers_and_strings_never_meet() -> None:
    assert ids([["room", "eq", 5]]) == []
    assert ids([["n", "eq", "5"]]) == []
    assert ids([["room", "gt", 0]]) == []
    assert ids([["n", "in", ["1", "0"]]]) == []


def test_null_equals_only_null_and_orders_with_nothing() -> None:
    assert ids([["note", "eq", None]]) == [1, 3]
    assert ids([["note", "neq", None]]) == [2, 4]
    assert ids([["note", "lt", "z"]]) == [2, 4]
    assert ids([["note", "neq", "x"]]) == [1, 3, 4]
    assert ids([["note", "in", [None, "y"]]]) == [1, 3, 4]


def test_booleans_are_one_and_zero() -> None:
    assert ids([["n", "eq", True]]) == [4]
    assert ids([["n", "eq", False]]) == [3]
    assert ids([["n", "in", [True, False]]]) == [3, 4]


def test_a_missing_column_is_null() -> None:
    assert compile_where([["gone", "eq", None]])({"id": 1})
    assert not compile_where([["gone", "eq", 1]])({"id": 1})


def test_like_patterns() -> None:
    assert ids([["name", "like", "a%"]]) == [1, 4]  # ASCII case-insensitive
    assert ids([["name", "like", "_ob"]]) == [2]
    assert ids([["name", "like", "émile"]]) == []  # only ASCII letters fold
    assert ids([["name", "like", "Émile"]]) == [3]
    assert ids([["name", "like", "a_b%c"]]) == [4]  # no escape: _ and % are wildcards
    assert ids([["name", "like", "a.b%"]]) == []  # regex characters are literal
    assert ids([["n", "like", "5"]]) == []  # numbers never match a pattern
    assert compile_where([["t", "like", "a%b"]])({"t": "a\nb"})


@pytest.mark.parametrize(
    "where",
    [
        {"room": "lobby"},
        [["room", "eq"]],
        [["room", "equals", "x"]],
        [[1, "eq", "x"]],
        [["room", "eq", ["x"]]],
        [["room", "eq", {"a": 1}]],
        [["n", "lt", None]],
        [["n", "lt", True]],
        [["n", "in", "abc"]],
        [["n", "in", [[1]]]],
        [["n", "in", list(range(MAX_IN + 1))]],
        [["name", "like", 5]],
        [{"or": []}],
        [{"or": [["n", "eq", 1]]}],
        [{"and": [[["n", "eq", 1]]]}],
        [{"or": [[["n", "eq", 1]]], "extra": 1}],
        [["n", "eq", 1]] * (MAX_CONDITIONS + 1),
    ],
)
def test_invalid_where_is_a_bad_subscription(where: Any) -> None:
    with pytest.raises(WhereError) as caught:
        compile_where(where)
    assert caught.value.code == "bad_subscription"


def test_or_nesting_limit() -> None:
    def nest(depth: int) -> list[Any]:
        where: list[Any] = [["n", "eq", 1]]
        for _ in range(depth):
            where = [{"or": [where]}]
        return where

    assert compile_where(nest(MAX_DEPTH))({"n": 1})
    with pytest.raises(WhereError):
        compile_where(nest(MAX_DEPTH + 1))


def test_conditions_count_nested_ones() -> None:
    inner = [["n", "eq", 1]] * (MAX_CONDITIONS - 1)
    compile_where([{"or": [inner]}])  # 31 + the or itself = 32
    with pytest.raises(WhereError):
        compile_where([{"or": [[*inner, ["n", "eq", 2]]]}])


def test_known_columns_are_checked_when_given() -> None:
    compile_where([["room", "eq", "x"]], columns={"room", "n"})
    with pytest.raises(WhereError, match="unknown column 'rooom'"):
        compile_where([["rooom", "eq", "x"]], columns={"room", "n"})
    with pytest.raises(WhereError):
        compile_where([{"or": [[["zz", "eq", 1]]]}], columns={"room"})


@pytest.mark.parametrize(
    "op",
    [["eq"], {"op": "eq"}, [], None, 1, 1.5, True, ["in", ["x"]], "EQ", "eq" * 10_000],
)
def test_an_op_of_any_other_value_is_a_bad_subscription(op: Any) -> None:
    with pytest.raises(WhereError, match="unknown op"):
        compile_where([["room", op, "x"]])


def test_a_deeply_nested_op_or_value_is_a_bad_subscription() -> None:
    deep: Any = "eq"
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(WhereError):
        compile_where([["room", deep, "x"]])
    for op in ("eq", "lt", "in", "like"):
        with pytest.raises(WhereError):
            compile_where([["room", op, deep]])
    with pytest.raises(WhereError):
        compile_where([["room", "in", [deep]]])


def test_error_messages_are_short_whatever_the_names() -> None:
    with pytest.raises(WhereError) as caught:
        compile_where([["x" * 100_000, "eq", 1]], columns={"room"})
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("%", "", True),
        ("%%", "abc", True),
        ("a%", "a", True),
        ("%a", "ba", True),
        ("%a", "ab", False),
        ("a%a", "a", False),  # the two a's cannot be the same character
        ("a%a", "aa", True),
        ("%ab%ab%", "xabab", True),
        ("%ab%ab%", "xaba", False),
        ("_%_", "a", False),
        ("_%_", "ab", True),
        ("%A_C%", "xxabcxx", True),
        ("a%b%c", "abc", True),
        ("a%b%c", "acb", False),
        ("%.%", "a.b", True),
        ("%.%", "ab", False),
        ("%\n%", "a\nb", True),
    ],
)
def test_like_wildcards_match_as_sql_does(pattern: str, value: str, matches: bool) -> None:
    assert compile_where([["t", "like", pattern]])({"t": value}) is matches


def test_like_with_many_wildcards_on_a_long_value_answers() -> None:
    # As one regex (.*a.*a.*a...b) this backtracks for hours on a 10,000-character
    # value; the predicate runs on every change a subscriber might get.
    test = compile_where([["t", "like", "%a" * 30 + "%b"]])
    assert test({"t": "a" * 10_000}) is False
    assert test({"t": "a" * 10_000 + "b"}) is True
