"""``where`` compiled to SQL selects exactly the rows the change feeds' predicate keeps
(protocol/SPEC.md §9.4): one meaning everywhere. Property-tested with hypothesis on a
real SQLite table whose columns have every affinity."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.databases.where_sql import where_sql
from protocol.where import WhereError, compile_where

COLUMNS = ["id", "t", "n", "r", "x"]
# id INTEGER PRIMARY KEY; t TEXT; n NUMERIC; r REAL; x (no type): every affinity.
SCHEMA = "CREATE TABLE rows (id INTEGER PRIMARY KEY, t TEXT, n NUMERIC, r REAL, x)"

texts = st.sampled_from(["", "a", "A", "ab", "b", "10", "1e2", "0abc", "é", "a_b", "a%b", "Zz"])
numbers = st.one_of(st.integers(-3, 12), st.sampled_from([0.5, 1.0, 2.5, -1.5, 10.0]))
scalars = st.one_of(st.none(), st.booleans(), texts, numbers)
values = st.one_of(st.none(), texts, numbers)
patterns = st.sampled_from(["%", "a%", "%b", "_", "a_b", "%a%", "A%", "1%", "", "%_%", "a\\%"])
columns = st.sampled_from(COLUMNS[1:])


def leaf() -> st.SearchStrategy[Any]:
    ops = st.sampled_from(["eq", "neq", "lt", "lte", "gt", "gte"])
    compare = st.tuples(columns, ops, st.one_of(texts, numbers)).map(list)
    equal = st.tuples(columns, st.sampled_from(["eq", "neq"]), scalars).map(list)
    member = st.tuples(columns, st.just("in"), st.lists(scalars, max_size=4)).map(list)
    like = st.tuples(columns, st.just("like"), patterns).map(list)
    return st.one_of(compare, equal, member, like)


conditions = st.recursive(
    leaf(),
    lambda inner: st.lists(st.lists(inner, max_size=3), min_size=1, max_size=3).map(
        lambda branches: {"or": branches}
    ),
    max_leaves=6,
)
wheres = st.lists(conditions, max_size=3)
rows = st.lists(st.tuples(values, values, values, values), min_size=1, max_size=12)


def matching_ids(conn: sqlite3.Connection, where: list[Any]) -> list[int]:
    sql, params = where_sql(where, COLUMNS)
    return [row[0] for row in conn.execute(f"SELECT id FROM rows WHERE {sql} ORDER BY id", params)]


def predicate_ids(conn: sqlite3.Connection, where: list[Any]) -> list[int]:
    keep = compile_where(where, COLUMNS)
    cursor = conn.execute("SELECT * FROM rows ORDER BY id")
    names = [d[0] for d in cursor.description]
    return [row[0] for row in cursor if keep(dict(zip(names, row, strict=True)))]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=rows, where=wheres)
def test_sql_and_feed_predicate_keep_the_same_rows(table: list[Any], where: list[Any]) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(SCHEMA)
    conn.executemany("INSERT INTO rows (t, n, r, x) VALUES (?, ?, ?, ?)", table)
    assert matching_ids(conn, where) == predicate_ids(conn, where)


def test_values_are_parameters_and_names_are_quoted() -> None:
    sql, params = where_sql([["t", "eq", "x' OR 1=1 --"]], COLUMNS)
    assert "OR 1=1" not in sql and params == ["x' OR 1=1 --"]
    assert '"t"' in sql


@pytest.mark.parametrize(
    "where",
    [
        [["nope", "eq", 1]],
        [["t", "regex", "a"]],
        [["t", "lt", None]],
        [["t", "in", "abc"]],
        "t = 1",
        [{"or": []}],
    ],
)
def test_the_feeds_refusals_are_the_same(where: Any) -> None:
    with pytest.raises(WhereError):
        compile_where(where, COLUMNS)
    with pytest.raises(WhereError):
        where_sql(where, COLUMNS)


def test_an_equality_on_the_key_uses_the_index() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT)")
    sql, params = where_sql([["id", "eq", "u1"]], ["id", "email"])
    plan = conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM users WHERE {sql}", params).fetchall()
    assert any("USING INDEX" in str(step[-1]) for step in plan), plan
