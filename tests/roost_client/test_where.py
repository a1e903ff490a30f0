"""``roost_client.where``: one translation of ``where`` for feeds, databases and tables,
rule for rule the JS SDK's ``whereArray``."""

from __future__ import annotations

from typing import Any

import pytest
from roost_client.where import conditions_of, where_conditions


def test_none_is_every_row() -> None:
    assert where_conditions(None) == []


def test_the_wire_form_passes_with_tuples_made_lists() -> None:
    assert where_conditions(
        (("list", "in", ("home", "work")), {"or": ((("due", "lt", 17),), [["x", "eq", None]])})
    ) == [
        ["list", "in", ["home", "work"]],
        {"or": [[["due", "lt", 17]], [["x", "eq", None]]]},
    ]


def test_the_object_form_is_eq_in_and_operators_in_order() -> None:
    assert where_conditions(
        {"room": "lobby", "done": False, "gone": None, "id": ("a", "b"), "n": {"gte": 1, "lt": 5}}
    ) == [
        ["room", "eq", "lobby"],
        ["done", "eq", False],
        ["gone", "eq", None],
        ["id", "in", ["a", "b"]],
        ["n", "gte", 1],
        ["n", "lt", 5],
    ]


def test_or_in_the_object_form_holds_alternatives_not_a_column() -> None:
    assert where_conditions({"or": [{"role": "admin"}, [["id", "eq", "u1"]]], "n": 2}) == [
        {"or": [[["role", "eq", "admin"]], [["id", "eq", "u1"]]]},
        ["n", "eq", 2],
    ]
    # A column really named "or" is reached with the wire form.
    assert where_conditions([["or", "eq", 1]]) == [["or", "eq", 1]]


def test_table_where_takes_both_forms() -> None:
    assert conditions_of(["a", "gt", 1], b="x", **{"or": [{"c": 1}, {"c": 2}]}) == [
        ["a", "gt", 1],
        ["b", "eq", "x"],
        {"or": [[["c", "eq", 1]], [["c", "eq", 2]]]},
    ]


@pytest.mark.parametrize(
    ("where", "match"),
    [
        ("done = 0", "where must be a list of conditions or a mapping"),
        ([("done", "eq")], "a condition is"),
        (["done"], "a condition is"),
        ([{"and": []}], "a condition object must be"),
        ([{"or": "x"}], '"or" takes a list'),
        ([{"or": [("done", "eq", 1)]}], "a condition is"),
        ({"or": []}, "non-empty list of alternatives"),
        ({"or": {"a": 1}}, '"or" takes a list'),
        ({"n": {}}, "empty mapping"),
        ({"n": {"near": 1}}, "unknown operator 'near'"),
        ({"n": {"in": 1}}, r"\['in'\] must be a list"),
        ({"n": {"gt": [1]}}, r"\['gt'\] must be a scalar"),
        ({"n": [[1]]}, "every value must be a scalar"),
        ({"n": object()}, "must be a str, int"),
    ],
)
def test_what_cannot_be_translated_is_a_value_error(where: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        where_conditions(where)


def test_the_hub_judges_the_wire_form_the_client_does_not_check() -> None:
    # Unknown ops and columns pass through: the hub answers bad_subscription.
    assert where_conditions([("nope", "about", 1)]) == [["nope", "about", 1]]
