"""``ctx.storage.sql``: synchronous exec and its cursor, as in the anchor."""

from __future__ import annotations

import pytest

from hub.errors import SqlError
from hub.storage import database
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


def test_rows_written_stay_exact_when_the_same_query_runs_again(people: SqlStorage) -> None:
    """A query known to read only skips counting writes (``ObjectDatabase.run``): a query
    that writes, with rows or triggers, is always counted, the second time too."""
    people.exec("CREATE TABLE log (name TEXT)")
    people.exec(
        "CREATE TRIGGER people_log AFTER UPDATE ON people BEGIN"
        " INSERT INTO log VALUES (new.name); END"
    )
    for _ in range(2):
        assert people.exec("SELECT name FROM people ORDER BY id").rows_written == 0
        assert people.exec("UPDATE people SET age = 2 WHERE id = 1").rows_written == 2
        returning = people.exec("UPDATE people SET age = 3 RETURNING id")
        assert (returning.rows_written, returning.rows_read) == (4, 2)
        with_cte = people.exec("WITH x AS (SELECT 1) DELETE FROM log WHERE name = 'none'")
        assert with_cte.rows_written == 0
        assert people.exec("UPDATE log SET name = upper(name)").rows_written >= 3
    assert people.exec("SELECT count(*) AS n FROM log").one() == {"n": 6}


def test_column_names_follow_a_schema_change_of_the_same_query(people: SqlStorage) -> None:
    assert people.exec("SELECT * FROM people WHERE id = 1").column_names == [
        "id",
        "name",
        "age",
        "pic",
    ]
    people.exec("ALTER TABLE people RENAME COLUMN name TO nick")
    people.exec("ALTER TABLE people ADD COLUMN city TEXT")
    row = people.exec("SELECT * FROM people WHERE id = 1").one()
    assert row == {"id": 1, "nick": "ada", "age": 36.5, "pic": b"\x00\x01", "city": None}
    assert people.exec("SELECT nick FROM people WHERE id = 1").one() == {"nick": "ada"}


def test_column_names_are_a_copy(people: SqlStorage) -> None:
    cursor = people.exec("SELECT id, name FROM people WHERE id = 1")
    cursor.column_names.append("extra")
    assert cursor.column_names == ["id", "name"]
    assert cursor.one() == {"id": 1, "name": "ada"}


def test_a_failed_statement_leaves_the_next_one_working(people: SqlStorage) -> None:
    """The reused cursor is replaced after an error, even one raised half-way through
    the rows (here by a CAST of too large a number: ``integer overflow`` in ``sum``)."""
    people.exec("CREATE TABLE n (v INTEGER)")
    people.exec("INSERT INTO n VALUES (?), (?)", 2**62, 2**62)
    with pytest.raises(SqlError, match="overflow"):
        people.exec("SELECT sum(v) FROM n")
    assert people.exec("SELECT count(*) AS c FROM n").one() == {"c": 2}
    assert people.exec("SELECT id FROM people ORDER BY id").to_array() == [{"id": 1}, {"id": 2}]


def test_several_statements_count_every_write(people: SqlStorage) -> None:
    cursor = people.exec("UPDATE people SET age = 5; DELETE FROM people WHERE id = 2;")
    assert cursor.rows_written == 3


def test_one_takes_the_row_that_remains_after_iteration(people: SqlStorage) -> None:
    cursor = people.exec("SELECT name FROM people ORDER BY id")
    assert next(cursor) == {"name": "ada"}
    assert cursor.one() == {"name": "bob"}
    with pytest.raises(SqlError, match="expected exactly one row, got 0"):
        cursor.one()
    two = people.exec("SELECT id, name FROM people ORDER BY id")
    next(two)
    assert two.one() == {"id": 2, "name": "bob"}  # several columns: the slower path


def test_a_read_only_statement_counts_no_writes_first_run_or_cached(people: SqlStorage) -> None:
    # First run: compiled under the authorizer and remembered as read-only; second:
    # from the statement cache, no write count taken.
    for _ in range(2):
        cursor = people.exec("SELECT age FROM people WHERE name = ?", "ada")
        assert (cursor.one(), cursor.rows_written) == ({"age": 36.5}, 0)
        cursor = people.exec("UPDATE people SET age = age WHERE name = ?", "ada")
        assert (cursor.rows_written, cursor.column_names) == (1, [])


def test_a_write_run_after_a_read_compiled_again_still_counts_its_rows(
    people: SqlStorage,
) -> None:
    """A schema change makes cached statements compile again at their next run: the
    read's verdict (reads only) must not stick to the write that runs after it."""
    insert, count = "INSERT INTO people (name) VALUES (?)", "SELECT count(*) AS n FROM people"
    people.exec(insert, "cy")
    people.exec(count).one()
    people.exec("CREATE TABLE other (x)")  # the schema changes
    assert people.exec(insert, "di").rows_written == 1  # compiled again: a write
    assert people.exec(count).one() == {"n": 4}  # compiled again: reads only
    for name in ("ed", "fay"):  # from the cache: still a write
        assert people.exec(insert, name).rows_written == 1
    assert people.exec(count).one() == {"n": 6}


def test_a_known_write_counts_the_writes_of_a_trigger_added_later(people: SqlStorage) -> None:
    insert = "INSERT INTO people (name) VALUES (?)"
    assert people.exec(insert, "cy").rows_written == 1
    assert people.exec(insert, "di").rows_written == 1  # known: the fast path
    people.exec("CREATE TABLE log (name TEXT)")
    people.exec(
        "CREATE TRIGGER people_log AFTER INSERT ON people BEGIN"
        " INSERT INTO log VALUES (new.name); END"
    )
    assert people.exec(insert, "ed").rows_written == 2  # compiled again, with the trigger
    assert people.exec(insert, "fay").rows_written == 2  # known again
    assert people.exec("SELECT name FROM log ORDER BY name").to_array() == [
        {"name": "ed"},
        {"name": "fay"},
    ]


def test_column_names_follow_a_schema_change_seen_by_a_prepared_statement(
    people: SqlStorage,
) -> None:
    """``exec`` keeps a query's column names while its statement is not compiled again;
    a prepared statement of the same text that compiles it again drops them."""
    query = "SELECT * FROM people WHERE id = 1"
    assert people.exec(query).column_names == ["id", "name", "age", "pic"]
    people.exec("ALTER TABLE people ADD COLUMN city TEXT")
    assert people.prepare(query).first() == {
        "id": 1,
        "name": "ada",
        "age": 36.5,
        "pic": b"\x00\x01",
        "city": None,
    }
    assert people.exec(query).one()["city"] is None


def test_statements_forgotten_by_exec_but_cached_by_sqlite_stay_exact(
    people: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``KNOWN_STATEMENTS`` texts ``exec`` forgets what it learnt; a statement still
    in sqlite3's cache then runs without a compile, and is counted the slow way."""
    monkeypatch.setattr(database, "KNOWN_STATEMENTS", 2)
    read, write = "SELECT name FROM people WHERE id = ?", "UPDATE people SET age = ? WHERE id = 1"
    for _ in range(2):
        assert (people.exec(read, 1).one(), people.exec(write, 1).rows_written) == (
            {"name": "ada"},
            1,
        )
        people.exec("SELECT 1 AS one").one()  # a third text: the two are forgotten
        cursor = people.exec(read, 2)
        assert (cursor.column_names, cursor.rows_written, cursor.one()) == (
            ["name"],
            0,
            {"name": "bob"},
        )
        assert people.exec(write, 2).rows_written == 1


def test_a_cursor_still_held_is_never_filled_again(people: SqlStorage) -> None:
    """``exec`` fills its last cursor again only when nothing else holds it: a held
    cursor keeps its rows, names, counts and position while later statements run."""
    names = people.exec("SELECT id, name FROM people ORDER BY id")
    assert next(names) == {"id": 1, "name": "ada"}
    update = people.exec("UPDATE people SET age = 1")
    age = people.exec("SELECT age FROM people WHERE id = ?", 1)
    assert (age.one(), age.rows_written) == ({"age": 1.0}, 0)
    assert (update.rows_written, update.column_names, update.rows_read) == (2, [], 0)
    assert (names.column_names, names.rows_read, names.rows_written) == (["id", "name"], 2, 0)
    assert names.to_array() == [{"id": 2, "name": "bob"}]
    assert len({id(names), id(update), id(age)}) == 3


@pytest.mark.skipif(database._UNHELD < 0, reason="no cursor reuse on this interpreter")
def test_a_cursor_let_go_is_filled_again_whole(people: SqlStorage) -> None:
    """The common ``exec(...).one()``: the next ``exec`` reuses the cursor nothing
    holds, and every part of it is the new statement's (names, rows, position, counts)."""
    cursor = people.exec("SELECT id, name FROM people ORDER BY id")
    assert len(cursor.to_array()) == 2
    first = id(cursor)
    del cursor
    update = people.exec("UPDATE people SET age = 2")
    assert id(update) == first
    assert (update.rows_written, update.column_names, update.rows_read) == (2, [], 0)
    del update
    read = people.exec("SELECT name FROM people WHERE id = ?", 2)
    assert id(read) == first
    assert (read.rows_written, read.column_names, read.rows_read) == (0, ["name"], 1)
    assert read.one() == {"name": "bob"}


def test_without_reuse_every_statement_gets_a_new_cursor(
    people: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where reference counts are not exact (Python 3.14+, free-threaded builds),
    ``_UNHELD`` is -1: nothing is reused, and the results are the same."""
    monkeypatch.setattr(database, "_UNHELD", -1)
    cursor = people.exec("SELECT id, name FROM people ORDER BY id")
    first = id(cursor)
    del cursor
    update = people.exec("UPDATE people SET age = 2")
    assert id(update) != first
    assert (update.rows_written, update.column_names, update.rows_read) == (2, [], 0)
    read = people.exec("SELECT name FROM people WHERE id = ?", 2)
    assert (read.rows_written, read.column_names, read.one()) == (0, ["name"], {"name": "bob"})
