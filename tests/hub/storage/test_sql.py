"""``ctx.storage.sql``: synchronous exec and its cursor, as in the anchor."""

from __future__ import annotations

import pytest

from hub.errors import SqlError
from hub.storage.database import ObjectDatabase
from hub.storage.sql import SqlStorage


@pytest.fixture
def people(db: ObjectDatabase, sql: SqlStorage) -> SqlStorage:
    db.begin()
    sql.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age REAL, pic BLOB)")
    sql.exec("INSERT INTO people (name, age, pic) VALUES (?, ?, ?)", "ada", 36.5, b"\x00\x01")
    sql.exec("INSERT INTO people (name, age, pic) VALUES (?, ?, ?)", "bob", None, None)
    return sql


def test_rows_iterate_as_dicts_with_column_names(people: SqlStorage) -> None:
    cursor = people.exec("SELECT id, name, age, pic FROM people ORDER BY id")
    assert cursor.column_names == ["id", "name", "age", "pic"]
    assert list(cursor) == [
        {"id": 1, "name": "ada", "age": 36.5, "pic": b"\x00\x01"},
        {"id": 2, "name": "bob", "age": None, "pic": None},
    ]


def test_cursor_is_one_pass_like_the_anchor(people: SqlStorage) -> None:
    cursor = people.exec("SELECT name FROM people ORDER BY id")
    assert next(cursor) == {"name": "ada"}
    assert cursor.to_array() == [{"name": "bob"}]
    assert cursor.to_array() == []


def test_raw_gives_tuples(people: SqlStorage) -> None:
    assert list(people.exec("SELECT id, name FROM people ORDER BY id").raw()) == [
        (1, "ada"),
        (2, "bob"),
    ]


def test_one_needs_exactly_one_row(people: SqlStorage) -> None:
    assert people.exec("SELECT name FROM people WHERE id = ?", 1).one() == {"name": "ada"}
    with pytest.raises(SqlError, match="expected exactly one row, got 0"):
        people.exec("SELECT name FROM people WHERE id = ?", 99).one()
    with pytest.raises(SqlError, match="expected exactly one row, got 2"):
        people.exec("SELECT name FROM people").one()


def test_rows_read_and_rows_written(people: SqlStorage) -> None:
    read = people.exec("SELECT * FROM people")
    assert (read.rows_read, read.rows_written) == (2, 0)
    written = people.exec("UPDATE people SET age = 1")
    assert written.rows_written == 2
    returning = people.exec("DELETE FROM people WHERE id = 2 RETURNING name")
    assert returning.rows_written == 1
    assert returning.to_array() == [{"name": "bob"}]


def test_several_statements_run_in_order_and_return_the_last(people: SqlStorage) -> None:
    cursor = people.exec(
        """
        CREATE TABLE notes (body TEXT);  -- a comment; with a semicolon
        INSERT INTO notes VALUES ('a;b');
        SELECT body FROM notes;
        """
    )
    assert cursor.to_array() == [{"body": "a;b"}]


def test_parameters_are_refused_with_several_statements(people: SqlStorage) -> None:
    with pytest.raises(SqlError, match="only allowed with a single statement"):
        people.exec("SELECT ?; SELECT ?", 1, 2)


@pytest.mark.parametrize(
    ("query", "params", "message"),
    [
        ("SELEC 1", (), "syntax error"),
        ("SELECT * FROM missing", (), "no such table: missing"),
        ("INSERT INTO people (id) VALUES (1)", (), "UNIQUE constraint failed"),
        ("SELECT ?", (object(),), "parameter"),
        ("SELECT ?", (2**70,), "parameter"),
        ("SELECT ?, ?", (1,), "bindings"),
    ],
)
def test_sql_errors_are_sql_errors_and_the_transaction_goes_on(
    db: ObjectDatabase,
    people: SqlStorage,
    query: str,
    params: tuple[object, ...],
    message: str,
) -> None:
    with pytest.raises(SqlError, match=message):
        people.exec(query, *params)
    assert people.exec("SELECT count(*) AS n FROM people").one() == {"n": 2}
    assert db.in_transaction


def test_query_must_be_a_string(people: SqlStorage) -> None:
    with pytest.raises(SqlError, match="query must be a str"):
        people.exec(b"SELECT 1")  # type: ignore[arg-type]


def test_database_size_grows_with_data(db: ObjectDatabase, people: SqlStorage) -> None:
    before = people.database_size
    people.exec("CREATE TABLE big (b BLOB)")
    for _ in range(20):
        people.exec("INSERT INTO big VALUES (?)", b"x" * 10_000)
    db.commit()
    assert people.database_size > before + 150_000
