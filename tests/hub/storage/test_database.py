"""One object's SQLite file: WAL, transactions, savepoints, and what user SQL may touch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.backup.history import History
from hub.backup.shipper import Shipper
from hub.errors import SqlError
from hub.storage.database import ObjectDatabase
from hub.storage.feeds import FeedLog
from hub.storage.layout import APPLICATION_ID, SCHEMA, SCHEMA_VERSION
from hub.storage.sql import SqlStorage


def test_a_new_file_is_created_in_wal_mode_with_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "x" / "o.sqlite3"
    db = ObjectDatabase(path)
    assert db.created
    db.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    assert {"_roost_meta", "_roost_kv"} <= names
    raw.close()
    again = ObjectDatabase(path)
    assert not again.created
    again.close()


def test_commit_keeps_and_rollback_drops_writes(db: ObjectDatabase, sql: SqlStorage) -> None:
    db.begin()
    sql.exec("CREATE TABLE t (v INTEGER)")
    sql.exec("INSERT INTO t VALUES (1)")
    db.commit()
    db.begin()
    sql.exec("INSERT INTO t VALUES (2)")
    db.rollback()
    assert [row["v"] for row in sql.exec("SELECT v FROM t")] == [1]


def test_savepoints_nest_and_roll_back_only_their_part(db: ObjectDatabase, sql: SqlStorage) -> None:
    db.begin()
    sql.exec("CREATE TABLE t (v INTEGER)")
    with db.savepoint():
        sql.exec("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError), db.savepoint():
            sql.exec("INSERT INTO t VALUES (2)")
            raise RuntimeError("undo the inner part")
        sql.exec("INSERT INTO t VALUES (3)")
    db.commit()
    assert [row["v"] for row in sql.exec("SELECT v FROM t ORDER BY v")] == [1, 3]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("BEGIN", "transaction control is not allowed"),
        ("COMMIT", "transaction control is not allowed"),
        ("ROLLBACK", "transaction control is not allowed"),
        ("SAVEPOINT x", "savepoints are not allowed"),
        ("ATTACH DATABASE '/tmp/elsewhere.db' AS other", "ATTACH is not allowed"),
        ("PRAGMA journal_mode=DELETE", "PRAGMA journal_mode is not allowed"),
        ("PRAGMA synchronous=OFF", "PRAGMA synchronous is not allowed"),
        ("SELECT * FROM _roost_kv", "'_roost_kv' is reserved"),
        ("DELETE FROM _roost_meta", "'_roost_meta' is reserved"),
        ("CREATE TABLE _roost_mine (x)", "'_roost_mine' is reserved"),
        ("DROP TABLE _roost_kv", "'_roost_kv' is reserved"),
    ],
)
def test_user_sql_cannot_escape_the_object_or_its_transaction(
    db: ObjectDatabase, sql: SqlStorage, query: str, message: str
) -> None:
    db.begin()
    with pytest.raises(SqlError, match=message):
        sql.exec(query)
    assert db.in_transaction  # the event's transaction is untouched
    db.rollback()


def test_internal_statement_text_is_never_shared_with_user_sql(
    db: ObjectDatabase, sql: SqlStorage
) -> None:
    # The hub's own COMMIT is prepared (and cached) first; the user's must still be refused.
    db.begin()
    db.commit()
    db.begin()
    with pytest.raises(SqlError, match="transaction control"):
        sql.exec("COMMIT")
    assert db.in_transaction
    db.rollback()


def test_allowed_pragmas_work(db: ObjectDatabase, sql: SqlStorage) -> None:
    db.begin()
    sql.exec("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    columns = [row["name"] for row in sql.exec("PRAGMA table_info(t)")]
    assert columns == ["a", "b"]
    sql.exec("PRAGMA user_version = 7")
    assert sql.exec("PRAGMA user_version").one() == {"user_version": 7}
    db.commit()


def test_foreign_keys_are_enforced(db: ObjectDatabase, sql: SqlStorage) -> None:
    db.begin()
    sql.exec("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    sql.exec("CREATE TABLE c (p INTEGER REFERENCES p(id))")
    with pytest.raises(SqlError, match="FOREIGN KEY"):
        sql.exec("INSERT INTO c VALUES (42)")
    db.rollback()


def test_full_durability_sets_synchronous_full(tmp_path: Path) -> None:
    db = ObjectDatabase(tmp_path / "o.sqlite3", durability="full")
    assert db.internal("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db.close()
    normal = ObjectDatabase(tmp_path / "p.sqlite3")
    assert normal.internal("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    normal.close()


def test_meta_values_round_trip_and_clear(db: ObjectDatabase) -> None:
    db.begin()
    db.write_meta("name", "room-1")
    db.write_meta("alarm", 123)
    db.commit()
    assert db.read_meta() == {"name": "room-1", "alarm": 123, "schema": SCHEMA_VERSION}
    db.begin()
    db.write_meta("alarm", None)
    db.commit()
    assert db.read_meta() == {"name": "room-1", "schema": SCHEMA_VERSION}


def test_a_file_of_an_older_schema_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    ObjectDatabase(path).close()
    raw = sqlite3.connect(path)  # make it look like a schema-1 file
    raw.execute("DROP TABLE _roost_sessions")  # added by migration 2
    raw.execute("DROP TABLE _roost_changes")  # 3 (and 4 added its column "old")
    raw.execute("DROP TABLE _roost_feeds")  # 3
    raw.execute("DELETE FROM _roost_meta WHERE key = 'schema'")
    raw.commit()
    raw.close()
    db = ObjectDatabase(path)
    assert db.meta["schema"] == SCHEMA_VERSION
    assert db.internal("SELECT count(*) FROM _roost_sessions").fetchone() == (0,)
    assert db.internal("SELECT count(old) FROM _roost_changes").fetchone() == (0,)
    db.close()


def test_close_rolls_back_an_open_transaction(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    db = ObjectDatabase(path)
    sql = SqlStorage(db)
    db.begin()
    sql.exec("CREATE TABLE t (v)")
    db.commit()
    db.begin()
    sql.exec("INSERT INTO t VALUES (1)")
    db.close()
    reopened = ObjectDatabase(path)
    assert SqlStorage(reopened).exec("SELECT count(*) AS n FROM t").one() == {"n": 0}
    reopened.close()


def test_a_fact_follows_writes_and_rollbacks(db: ObjectDatabase) -> None:
    """``fact`` keeps the facts between calls; a write or a rollback drops the copy."""
    db.begin()
    db.write_meta("color", "red")
    db.commit()
    db.begin()
    assert db.fact("color") == "red"
    db.write_meta("color", "blue")
    assert db.fact("color") == "blue"
    db.rollback()
    assert db.fact("color") == "red"
    db.begin()
    with pytest.raises(ValueError), db.savepoint():
        db.write_meta("color", "green")
        assert db.fact("color") == "green"
        raise ValueError
    assert db.fact("color") == "red"
    db.write_meta("color", None)
    assert db.fact("color") is None
    db.commit()


def test_the_change_logs_newest_seq_is_read_with_the_meta_at_open(tmp_path: Path) -> None:
    path = tmp_path / "feeds.sqlite3"
    db = ObjectDatabase(path)
    assert db.opened_seq == 0
    db.begin()
    db.write_meta("name", "room-1")
    db.internal("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    FeedLog(db).enable("t")
    db.internal("INSERT INTO t VALUES (1)")
    db.internal("INSERT INTO t VALUES (2)")
    db.commit()
    seq = FeedLog(db).last_seq()
    db.close()
    db = ObjectDatabase(path)
    assert seq > 0 and db.opened_seq == seq
    assert db.meta == {"name": "room-1", "schema": SCHEMA_VERSION}
    db.close()


def test_a_file_made_before_the_change_log_opens_with_seq_0(tmp_path: Path) -> None:
    """A schema-1 file has no ``sqlite_sequence``: the meta is read alone."""
    path = tmp_path / "v1.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    for statement in SCHEMA:
        raw.execute(statement)
    raw.execute(f"PRAGMA application_id={APPLICATION_ID}")
    raw.execute("INSERT INTO _roost_meta VALUES ('name', 'old')")
    names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()
    assert "sqlite_sequence" not in names
    db = ObjectDatabase(path)
    assert db.opened_seq == 0
    assert db.meta == {"name": "old", "schema": SCHEMA_VERSION}
    assert FeedLog(db).last_seq() == 0
    db.close()


def test_with_backups_sqlite_never_checkpoints_by_itself(tmp_path: Path) -> None:
    """The shipper checkpoints (shipper rule 2): the connection's own automatic
    checkpoints are off, set with the database's settings in one script."""
    plain = ObjectDatabase(tmp_path / "plain.sqlite3")
    assert plain.internal("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    plain.close()
    path = tmp_path / "shipped.sqlite3"
    shipper = Shipper(History(tmp_path / "history"), path, lambda: 1_000_000)
    db = ObjectDatabase(path, shipper=shipper)
    assert db.internal("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert db.internal("PRAGMA foreign_keys").fetchone() == (1,)
    assert db.internal("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    db.close()
    assert History(tmp_path / "history").generations() == [1]
