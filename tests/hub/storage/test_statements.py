"""D1-style prepared statements on ``ctx.storage.sql`` (hub/storage/statements.py)."""

from __future__ import annotations

from typing import Any

import pytest

import hub
from hub.errors import SqlError
from hub.storage.database import ObjectDatabase
from hub.storage.sql import SqlStorage
from hub.storage.statements import PreparedStatement
from tests.conftest import MakeHub


@pytest.fixture
def people(db: ObjectDatabase, sql: SqlStorage) -> SqlStorage:
    db.begin()
    sql.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age REAL, pic BLOB)")
    insert = sql.prepare("INSERT INTO people (name, age, pic) VALUES (?, ?, ?)")
    insert.bind("ada", 36.5, b"\x00\x01").run()
    insert.bind("bob", None, None).run()
    return sql


def test_all_gives_rows_as_dicts_with_meta(people: SqlStorage) -> None:
    result = people.prepare("SELECT id, name FROM people WHERE id >= ? ORDER BY id").bind(1).all()
    assert result.success is True
    assert result.results == [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}]
    assert result.meta.rows_read == 2
    assert result.meta.changes == 0 and result.meta.rows_written == 0
    assert result.meta.changed_db is False
    assert result.meta.duration >= 0


def test_run_reports_changes_and_the_last_row_id(people: SqlStorage) -> None:
    insert = people.prepare("INSERT INTO people (name) VALUES (?)").bind("cy").run()
    assert insert.meta.changes == 1 and insert.meta.last_row_id == 3
    assert insert.meta.rows_written == 1 and insert.meta.changed_db
    update = people.prepare("UPDATE people SET age = ?").bind(1).run()
    assert update.meta.changes == 3 and update.results == []


def test_run_with_returning_gives_the_rows_too(people: SqlStorage) -> None:
    result = people.prepare("INSERT INTO people (name) VALUES (?) RETURNING id").bind("cy").run()
    assert result.results == [{"id": 3}]


def test_bind_returns_a_new_statement_and_the_prepared_one_is_reusable(
    people: SqlStorage,
) -> None:
    by_name = people.prepare("SELECT id FROM people WHERE name = ?")
    ada, bob = by_name.bind("ada"), by_name.bind("bob")
    assert by_name.params == ()
    assert ada.first("id") == 1 and bob.first("id") == 2
    assert ada.first("id") == 1  # a bound statement runs again
    rebound = ada.bind("bob")
    assert rebound.first("id") == 2 and ada.first("id") == 1


def test_first_gives_a_row_a_column_or_none(people: SqlStorage) -> None:
    query = people.prepare("SELECT name, age FROM people WHERE id = ?")
    assert query.bind(1).first() == {"name": "ada", "age": 36.5}
    assert query.bind(1).first("age") == 36.5
    assert query.bind(99).first() is None
    assert query.bind(99).first("age") is None
    with pytest.raises(SqlError, match="no column 'nope'"):
        query.bind(1).first("nope")


def test_raw_gives_tuples_and_optionally_the_column_names_first(people: SqlStorage) -> None:
    query = people.prepare("SELECT id, name FROM people ORDER BY id")
    assert query.raw() == [(1, "ada"), (2, "bob")]
    assert query.raw(columns=True) == [("id", "name"), (1, "ada"), (2, "bob")]


def test_ordered_parameters_and_booleans_bind_as_in_d1(people: SqlStorage) -> None:
    query = people.prepare("SELECT ?2 AS b, ?1 AS a, ?3 AS flag")
    assert query.bind("one", "two", True).first() == {"b": "two", "a": "one", "flag": 1}
    assert people.prepare("SELECT ? AS v").bind(bytearray(b"ab")).first("v") == b"ab"


@pytest.mark.parametrize("value", [{"a": 1}, [1], object(), 1j])
def test_a_value_that_is_not_sql_is_refused_when_bound(people: SqlStorage, value: Any) -> None:
    with pytest.raises(SqlError, match="cannot bind parameter 2: expected None, int"):
        people.prepare("SELECT ?, ?").bind(1, value)


@pytest.mark.parametrize(
    ("query", "params", "message"),
    [
        ("SELECT nope FROM people", (), "no such column"),
        ("SELECT ?", (1, 2), "bindings"),
        ("SELECT * FROM _roost_kv", (), "reserved"),
        ("BEGIN", (), "transaction control"),
        ("SELECT 1; SELECT 2", (), "one statement"),
        ("SELECT ?", (2**70,), "cannot bind parameter"),
    ],
)
def test_statements_follow_the_rules_of_exec(
    people: SqlStorage, query: str, params: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(SqlError, match=message):
        people.prepare(query).bind(*params).all()


@pytest.mark.parametrize("query", ["", "   ", 42, None])
def test_prepare_needs_a_query(people: SqlStorage, query: Any) -> None:
    with pytest.raises(SqlError):
        people.prepare(query)


def test_batch_runs_all_or_nothing(people: SqlStorage) -> None:
    insert = people.prepare("INSERT INTO people (name) VALUES (?)")
    results = people.batch([insert.bind("cy"), insert.bind("di")])
    assert [r.meta.last_row_id for r in results] == [3, 4]
    with pytest.raises(SqlError, match="no such table"):
        people.batch([insert.bind("eve"), people.prepare("INSERT INTO missing VALUES (1)")])
    names = people.prepare("SELECT name FROM people ORDER BY id").raw()
    assert names == [("ada",), ("bob",), ("cy",), ("di",)]
    with pytest.raises(SqlError, match="prepared statements"):
        people.batch(["SELECT 1"])  # type: ignore[list-item]


def test_a_statement_shows_its_query(people: SqlStorage) -> None:
    assert "SELECT 1" in repr(people.prepare("SELECT 1").bind(1))
    assert isinstance(people.prepare("SELECT 1"), PreparedStatement)


class Ledger(hub.DurableObject):
    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, v INT)")
        self.insert = ctx.storage.sql.prepare("INSERT INTO entries (v) VALUES (?)")

    def add(self, value: int, fail: bool = False) -> int:
        last = self.insert.bind(value).run().meta.last_row_id
        if fail:
            raise RuntimeError("rolled back")
        return last

    def total(self) -> Any:
        return self.ctx.storage.sql.prepare("SELECT sum(v) AS s FROM entries").first("s")


async def test_prepared_writes_belong_to_the_event_and_roll_back_with_it(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LEDGER": Ledger})
    ledger = app.env.LEDGER.get_by_name("l")
    assert await ledger.add(5) == 1
    with pytest.raises(hub.RemoteError, match="rolled back"):
        await ledger.add(100, True)
    assert await ledger.add(2) == 2
    assert await ledger.total() == 7
    await app.hibernate("LEDGER", "l")
    assert await ledger.total() == 7  # read from the file by a fresh instance
