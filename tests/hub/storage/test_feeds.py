"""The change log: captured by triggers in the write's transaction, ordered, trimmable."""

from __future__ import annotations

import pytest

from hub.errors import SqlError, StorageError
from hub.storage.database import ObjectDatabase
from hub.storage.feeds import FeedLog, FeedReset
from hub.storage.sql import SqlStorage


@pytest.fixture
def feeds(db: ObjectDatabase, sql: SqlStorage) -> FeedLog:
    db.begin()
    sql.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER, pic BLOB)")
    log = FeedLog(db)
    log.enable("todos")
    db.commit()
    return log


def _ops(feeds: FeedLog, since: int = 0) -> list[tuple[int, str, dict[str, object]]]:
    return [(change.seq, change.op, change.pk) for change in feeds.since(since)]


def test_inserts_updates_and_deletes_are_captured_in_order(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    db.begin()
    sql.exec("INSERT INTO todos (id, title, done, pic) VALUES (1, 'milk', 0, x'00ff')")
    sql.exec("UPDATE todos SET done = 1 WHERE id = 1")
    sql.exec("INSERT INTO todos (id, title, done) VALUES (2, 'bread', 0)")
    sql.exec("DELETE FROM todos WHERE id = 1")
    db.commit()
    changes = feeds.since(0)
    assert [(c.seq, c.table, c.op, c.pk) for c in changes] == [
        (1, "todos", "insert", {"id": 1}),
        (2, "todos", "update", {"id": 1}),
        (3, "todos", "insert", {"id": 2}),
        (4, "todos", "delete", {"id": 1}),
    ]
    assert changes[0].row == {"id": 1, "title": "milk", "done": 0, "pic": "00FF"}
    assert changes[1].row["done"] == 1
    assert changes[1].old == {"id": 1, "title": "milk", "done": 0, "pic": "00FF"}
    assert [c.old for c in changes if c.op != "update"] == [None, None, None]
    assert changes[3].row == {"id": 1, "title": "milk", "done": 1, "pic": "00FF"}
    assert feeds.last_seq() == 4
    assert _ops(feeds, since=3) == [(4, "delete", {"id": 1})]


def test_a_snapshot_is_every_row_in_key_order_shaped_like_change_rows(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    db.begin()
    sql.exec("INSERT INTO todos (id, title, done, pic) VALUES (3, 'c', 0, x'0a')")
    sql.exec("INSERT INTO todos (id, title, done) VALUES (1, 'a', 1)")
    db.commit()
    assert feeds.snapshot("todos") == [
        {"id": 1, "title": "a", "done": 1, "pic": None},
        {"id": 3, "title": "c", "done": 0, "pic": "0A"},
    ]
    assert feeds.snapshot("todos")[1] == feeds.since(0)[0].row
    assert feeds.columns("todos") == ["id", "title", "done", "pic"]
    with pytest.raises(StorageError, match="not a feed table"):
        feeds.snapshot("nothing")


def test_a_change_exists_only_if_its_write_committed(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    db.begin()
    sql.exec("INSERT INTO todos (id, title) VALUES (1, 'kept')")
    db.commit()
    db.begin()
    sql.exec("INSERT INTO todos (id, title) VALUES (2, 'rolled back')")
    db.rollback()
    with pytest.raises(SqlError):
        sql.exec("INSERT INTO todos (id, title) VALUES (1, 'duplicate key')")
    assert _ops(feeds) == [(1, "insert", {"id": 1})]


def test_seq_is_never_reused_after_trimming(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    db.begin()
    for n in range(1, 6):
        sql.exec("INSERT INTO todos (id, title) VALUES (?, 'x')", n)
    assert feeds.trim(keep=2, now_ms=0) == 3
    sql.exec("INSERT INTO todos (id, title) VALUES (6, 'x')")
    db.commit()
    assert [seq for seq, _, _ in _ops(feeds, since=3)] == [4, 5, 6]
    with pytest.raises(FeedReset, match="changes after seq 2 were trimmed"):
        feeds.since(2)


def test_trimming_by_age(db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog) -> None:
    db.begin()
    sql.exec("INSERT INTO todos (id, title) VALUES (1, 'old')")
    at = feeds.since(0)[0].at
    assert feeds.trim(max_age_ms=1000, now_ms=at + 500) == 0
    assert feeds.trim(max_age_ms=1000, now_ms=at + 5000) == 1
    db.commit()
    assert feeds.since(1) == []


def test_a_key_change_is_a_delete_and_an_insert(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    db.begin()
    sql.exec("INSERT INTO todos (id, title) VALUES (1, 'a')")
    sql.exec("UPDATE todos SET id = 9 WHERE id = 1")
    db.commit()
    assert _ops(feeds, since=1) == [(2, "delete", {"id": 1}), (3, "insert", {"id": 9})]


def test_tables_without_a_primary_key_are_keyed_by_rowid(
    db: ObjectDatabase, sql: SqlStorage
) -> None:
    db.begin()
    sql.exec("CREATE TABLE notes (body TEXT)")
    log = FeedLog(db)
    log.enable("notes")
    sql.exec("INSERT INTO notes VALUES ('hello')")
    db.commit()
    (change,) = log.since(0)
    # The row carries its key, so a reader can tell which row a delete removed.
    assert (change.pk, change.row) == ({"rowid": 1}, {"rowid": 1, "body": "hello"})
    assert log.columns("notes") == ["rowid", "body"]
    assert log.snapshot("notes") == [{"rowid": 1, "body": "hello"}]


def test_enable_is_idempotent_and_follows_new_columns(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    db.begin()
    feeds.enable("todos")
    sql.exec("ALTER TABLE todos ADD COLUMN due TEXT")
    feeds.enable("todos")
    sql.exec("INSERT INTO todos (id, title, due) VALUES (1, 'x', 'today')")
    db.commit()
    assert feeds.since(0)[0].row["due"] == "today"
    assert feeds.tables() == ["todos"]


def test_disable_stops_capturing(db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog) -> None:
    db.begin()
    feeds.disable("todos")
    sql.exec("INSERT INTO todos (id, title) VALUES (1, 'x')")
    db.commit()
    assert feeds.since(0) == []
    assert feeds.tables() == []


@pytest.mark.parametrize("table", ["missing", "_roost_kv", "", "sqlite_master"])
def test_only_existing_user_tables_can_feed(feeds: FeedLog, table: str) -> None:
    with pytest.raises(StorageError):
        feeds.enable(table)


def test_odd_table_and_column_names_are_quoted(db: ObjectDatabase, sql: SqlStorage) -> None:
    db.begin()
    sql.exec('CREATE TABLE "we""ird t\'able" ("c o""l" TEXT PRIMARY KEY, "v\'" INTEGER)')
    log = FeedLog(db)
    log.enable("we\"ird t'able")
    sql.exec('INSERT INTO "we""ird t\'able" VALUES (\'k\', 1)')
    db.commit()
    (change,) = log.since(0)
    assert change.pk == {'c o"l': "k"}
    assert change.row == {'c o"l': "k", "v'": 1}


def test_clearing_the_log_keeps_seq_growing_and_asks_readers_to_reset(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    db.begin()
    sql.exec("INSERT INTO todos (id, title) VALUES (1, 'x')")
    feeds.clear()
    sql.exec("CREATE TABLE again (id INTEGER PRIMARY KEY)")
    feeds.enable("again")
    sql.exec("INSERT INTO again VALUES (7)")
    db.commit()
    assert [change.seq for change in feeds.since(1)] == [2]
    with pytest.raises(FeedReset):
        feeds.since(0)
    assert feeds.tables() == ["again"]


def test_dropping_a_feed_table_lets_only_that_statement_drop_the_hub_triggers(
    db: ObjectDatabase, sql: SqlStorage, feeds: FeedLog
) -> None:
    # The user's DROP TABLE takes the hub's triggers with it (the authorizer lets that
    # one statement touch them); the next statement, on a table of the same name, may not.
    db.begin()
    sql.exec("DROP TABLE todos")
    sql.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT)")
    feeds.enable("todos")
    with pytest.raises(SqlError, match="is reserved"):
        sql.exec('DROP TRIGGER "_roost_feed_todos_insert"')
    db.rollback()
