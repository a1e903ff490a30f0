"""The shipper: a history follows its database across closes, crashes and restores."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from itertools import count
from pathlib import Path

import pytest

from hub.backup.history import History
from hub.backup.shipper import Shipper, request_restore
from tests.backup.conftest import latest_rows, table_rows, write_behind

_clock = count(1_000_000, 10)


def _now() -> int:
    return next(_clock)


class Session:
    """One activation: prepare, open, write with a ship after each commit, close."""

    def __init__(self, path: Path, history: History, **options: object) -> None:
        self.shipper = Shipper(history, path, _now, **options)  # type: ignore[arg-type]
        self.shipper.prepare()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.shipper.opened(self.conn)

    def write(self, *statements: str) -> None:
        self.conn.execute("BEGIN")
        for statement in statements:
            self.conn.execute(statement)
        self.conn.execute("COMMIT")
        self.shipper.committed()

    def close(self) -> None:
        self.shipper.closing()
        self.conn.close()
        self.shipper.closed()


def test_a_clean_close_is_continued_by_the_next_open(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    path, history = paths
    first = Session(path, history)
    first.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    first.close()
    second = Session(path, history)
    second.write("INSERT INTO t VALUES (2, 'b')")
    second.close()
    assert history.generations() == [1]  # continued, no new base image
    assert latest_rows(history, tmp_path) == [(1, "a"), (2, "b")] == table_rows(path)


def test_a_file_changed_behind_the_history_begins_a_new_generation(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    path, history = paths
    first = Session(path, history)
    first.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v)")
    first.close()
    write_behind(path)
    second = Session(path, history)
    second.write("INSERT INTO t VALUES (2, 'b')")
    second.close()
    assert history.generations() == [1, 2]
    assert latest_rows(history, tmp_path) == [(2, "b"), (9, "outside")]


CRASH = textwrap.dedent(
    """
    import os, sqlite3, sys
    from itertools import count
    from pathlib import Path
    from hub.backup.history import History
    from hub.backup.shipper import Shipper
    path, folder, unshipped = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    clock = count(2_000_000, 10)
    shipper = Shipper(History(folder), path, lambda: next(clock))
    shipper.prepare()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    shipper.opened(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v)")
    shipper.committed()
    for k in range(5):
        conn.execute("INSERT INTO t VALUES (?, 'shipped')", (k,))
        shipper.committed()
    for k in range(5, 5 + unshipped):  # killed between the commit and its shipping
        conn.execute("INSERT INTO t VALUES (?, 'late')", (k,))
    os._exit(0)  # no close: the log stays, as after kill -9
    """
)


@pytest.mark.parametrize("unshipped", [0, 3])
def test_after_a_crash_the_commits_left_in_the_log_are_shipped(
    paths: tuple[Path, History], tmp_path: Path, unshipped: int
) -> None:
    path, history = paths
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", CRASH, str(path), str(history.folder), str(unshipped)],
        check=True,
        cwd=root,
        env={"PYTHONPATH": str(root)},
    )
    assert Path(f"{path}-wal").stat().st_size > 0
    assert len(latest_rows(history, tmp_path)) == 5
    session = Session(path, history)
    assert history.generations() == [1]  # resumed: the log still held the last shipped commit
    assert len(latest_rows(history, tmp_path)) == 5 + unshipped
    session.write("INSERT INTO t VALUES (100, 'after')")
    session.close()
    assert latest_rows(history, tmp_path) == table_rows(path)


def test_a_requested_restore_happens_at_the_next_open_and_can_be_undone(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    path, history = paths
    session = Session(path, history)
    session.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v)")
    session.write("INSERT INTO t VALUES (1, 'a')")
    point = session.shipper.last
    session.write("INSERT INTO t VALUES (2, 'b')")
    session.write("DELETE FROM t WHERE k = 1")
    before = session.shipper.last
    session.close()
    assert point is not None and before is not None
    request_restore(history, point)
    restored = Session(path, history)
    assert restored.shipper.restored_from == before
    assert table_rows(path) == [(1, "a")]
    restored.write("INSERT INTO t VALUES (3, 'c')")
    restored.close()
    assert latest_rows(history, tmp_path) == [(1, "a"), (3, "c")]
    request_restore(history, before)  # undo: back to the state before the restore
    undone = Session(path, history)
    undone.close()
    assert table_rows(path) == [(2, "b")]


def test_checkpoints_are_taken_by_the_shipper_and_lose_nothing(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    path, history = paths
    session = Session(path, history, checkpoint_bytes=64 * 1024)
    session.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v)")
    for k in range(200):
        session.write(f"INSERT INTO t VALUES ({k}, '{'x' * 900}')")
    assert Path(f"{path}-wal").stat().st_size < 256 * 1024  # the log was restarted
    assert len(latest_rows(history, tmp_path)) == 200
    session.close()
    assert latest_rows(history, tmp_path) == table_rows(path)


def test_a_long_log_begins_a_new_generation_and_old_ones_age_out(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    path, history = paths
    session = Session(path, history, generation_bytes=32 * 1024, retention_ms=10**9)
    session.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v)")
    marks = []
    for k in range(60):
        session.write(f"INSERT INTO t VALUES ({k}, '{'x' * 900}')")
        marks.append((session.shipper.last, k + 1))
    generations = history.generations()
    assert len(generations) > 2
    for mark, rows in marks[::7] + marks[-1:]:
        assert mark is not None
        history.rebuild(mark, tmp_path / "at.sqlite")
        assert len(table_rows(tmp_path / "at.sqlite")) == rows
    session.close()
    # Retention: a generation goes once the next one began before the cutoff.
    second_base = history.base_bookmark(generations[1]).time_ms
    assert history.prune(second_base - 1) == []
    assert history.prune(second_base) == [generations[0]]
    assert history.generations() == generations[1:]
    assert history.prune(10**15) == generations[1:-1]  # the newest always stays
    assert latest_rows(history, tmp_path) == table_rows(path)


def test_a_transaction_that_wrote_nothing_asks_for_no_flush(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    """Rule 6: the batch timer is asked for after a write only; a read-only commit, and
    the first write after the log restarted (same size, new salts), are told apart."""
    path, history = paths
    asked: list[object] = []
    session = Session(path, history, later=asked.append, checkpoint_bytes=1, probe_ms=0)
    session.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    assert len(asked) == 1  # a write: a flush is asked for
    session.shipper.flush()
    session.write("SELECT count(*) FROM t")  # reads only
    session.write()  # BEGIN; COMMIT with nothing in between
    assert len(asked) == 1
    session.write("INSERT INTO t VALUES (1, 'a')")
    assert len(asked) == 2
    session.shipper.flush()
    session.write("INSERT INTO t VALUES (2, 'b')")  # checkpoint_bytes=1: checkpointed after
    session.shipper.flush()
    session.write("SELECT * FROM t")
    assert len(asked) == 3
    salts = Path(f"{path}-wal").read_bytes()[16:24]
    session.write("INSERT INTO t VALUES (3, 'c')")  # the log restarts from its start
    assert Path(f"{path}-wal").read_bytes()[16:24] != salts
    assert len(asked) == 4
    session.shipper.flush()
    session.close()
    assert latest_rows(history, tmp_path) == [(1, "a"), (2, "b"), (3, "c")]


def test_a_first_commit_that_wrote_nothing_asks_for_no_flush(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    """Rule 6 on a wake: the log is new and still empty after a commit that wrote
    nothing (the first look finds it so without opening it); the next write is seen."""
    path, history = paths
    first = Session(path, history)
    first.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    first.close()
    asked: list[object] = []
    session = Session(path, history, later=asked.append, probe_ms=0)
    session.write("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
    assert not asked
    assert Path(f"{path}-wal").stat().st_size == 0
    session.write("INSERT INTO t VALUES (1, 'a')")
    assert len(asked) == 1
    session.shipper.flush()
    session.close()
    assert latest_rows(history, tmp_path) == [(1, "a")] == table_rows(path)


def test_the_clean_record_is_written_over_a_longer_one_in_place(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    """The record of a clean close is overwritten, never truncated (ext4 flushes a
    truncated file on close): a shorter record is padded, and still read back whole."""
    path, history = paths
    first = Session(path, history)
    first.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    first.close()
    clean = history.folder / "clean"
    record = json.loads(clean.read_text())
    clean.write_text(json.dumps({**record, "padding": "x" * 600}))  # longer than the next
    inode, size = clean.stat().st_ino, clean.stat().st_size
    second = Session(path, history)  # continues: the extra member changes nothing
    second.write("INSERT INTO t VALUES (2, 'b')")
    second.close()
    assert (clean.stat().st_ino, clean.stat().st_size) == (inode, size)
    assert "padding" not in json.loads(clean.read_text())
    third = Session(path, history)
    third.write("INSERT INTO t VALUES (3, 'c')")
    third.close()
    assert history.generations() == [1]  # every open continued from the record
    assert latest_rows(history, tmp_path) == [(1, "a"), (2, "b"), (3, "c")] == table_rows(path)


def test_a_busy_object_looks_at_its_log_once_a_batch(paths: tuple[Path, History]) -> None:
    """Rule 6: after a look that found nothing new, commits within ``probe_ms`` ask for a
    batch without looking (a read costs less than two reads a commit)."""
    path, history = paths
    clock = [5_000_000]
    asked: list[object] = []
    session = Session(path, history, later=asked.append, probe_ms=100)
    session.shipper._now_ms = lambda: clock[0]  # type: ignore[method-assign]
    session.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    session.shipper.flush()
    assert len(asked) == 1
    session.write("SELECT * FROM t")  # looks: nothing new, no batch
    assert len(asked) == 1
    clock[0] += 50
    session.write("SELECT * FROM t")  # within 100 ms of the look: a batch, no look
    assert len(asked) == 2
    session.shipper.flush()
    clock[0] += 100
    session.write("SELECT * FROM t")  # looks again
    assert len(asked) == 2
    session.write("INSERT INTO t VALUES (1, 'a')")  # a write within the window: a batch
    assert len(asked) == 3
    session.shipper.flush()
    session.close()
