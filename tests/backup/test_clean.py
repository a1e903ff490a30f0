"""The record of a clean close: remembered by the process that wrote it, and trusted on
the next open only while the files say nothing changed since (``hub.backup.clean``)."""

from __future__ import annotations

import os
import sqlite3
from itertools import count
from pathlib import Path

import pytest

from hub.backup import service
from hub.backup.clean import CleanClose
from hub.backup.history import History
from hub.backup.service import Backups, BackupSettings
from hub.backup.shipper import Shipper
from tests.backup.conftest import latest_rows, table_rows, write_behind

_clock = count(3_000_000, 10)


class Process:
    """The backups of one process: it remembers the clean closes it made (what
    ``Backups`` does per object), as long as it is given the records back."""

    def __init__(self, path: Path, history: History) -> None:
        self.path = path
        self.history = history
        self.record: CleanClose | None = None

    def run(self, *statements: str) -> None:
        """One activation: open (prepare), one commit of ``statements``, close."""
        remembered, self.record = self.record, None
        shipper = Shipper(
            self.history,
            self.path,
            lambda: next(_clock),
            remembered=remembered,
            remember=self._keep,
        )
        shipper.prepare()
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        shipper.opened(conn)
        if statements:
            conn.execute("BEGIN")
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
            shipper.committed()
        shipper.closing()
        conn.close()
        shipper.closed()

    def _keep(self, record: CleanClose) -> None:
        self.record = record


def _spoil_the_record_on_disk(history: History) -> None:
    (history.folder / "clean").write_text("not a record")


def test_a_remembered_close_is_continued_without_the_record_on_disk(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    """The fast path reads no record: one spoiled on disk does not matter to the
    process that remembers its own, while another process (the slow path, reading
    it) cannot prove the file and begins a new generation."""
    path, history = paths
    first = Process(path, history)
    first.run("CREATE TABLE t (k INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    assert first.record is not None and first.record.generation == 1
    _spoil_the_record_on_disk(history)
    first.run("INSERT INTO t VALUES (2, 'b')")
    assert history.generations() == [1]  # continued from what it remembered
    assert latest_rows(history, tmp_path) == [(1, "a"), (2, "b")] == table_rows(path)

    _spoil_the_record_on_disk(history)
    Process(path, history).run("INSERT INTO t VALUES (3, 'c')")  # another process
    assert history.generations() == [1, 2]
    assert latest_rows(history, tmp_path) == [(1, "a"), (2, "b"), (3, "c")] == table_rows(path)


def test_a_remembered_close_is_dropped_when_another_process_shipped_since(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    """The other process appended to the same generation's log: continuing from the
    remembered length would cut its commit out of the history. Its write left the
    file's size as it was and, within one tick of the file system's clock, its mtime
    too (set back here): the log's length is what tells."""
    path, history = paths
    first = Process(path, history)
    first.run(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v)",
        "CREATE TABLE u (k INTEGER PRIMARY KEY, v)",
        "INSERT INTO u VALUES (1, 'a')",
    )
    before = path.stat()
    Process(path, history).run("UPDATE u SET v = 'b' WHERE k = 1")  # a page t is not on
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    first.run("INSERT INTO t VALUES (3, 'c')")  # the slow path: the file is not as recorded
    latest = history.latest()
    assert latest is not None
    history.rebuild(latest, tmp_path / "check.sqlite")
    assert table_rows(tmp_path / "check.sqlite", "u") == [(1, "b")] == table_rows(path, "u")
    assert table_rows(tmp_path / "check.sqlite") == [(3, "c")] == table_rows(path)


def test_a_remembered_close_is_dropped_when_another_process_began_a_generation(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    """The other process began a newer generation without changing the file or the
    remembered generation's log: appending to the older one would put the commit where
    no restore looks."""
    path, history = paths
    first = Process(path, history)
    first.run("CREATE TABLE t (k INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'a')")
    log_size = (history.folder / "00000001" / "log").stat().st_size
    _spoil_the_record_on_disk(history)
    Process(path, history).run()  # cannot prove the file: a new generation, no write
    assert history.generations() == [1, 2]
    assert (history.folder / "00000001" / "log").stat().st_size == log_size
    first.run("INSERT INTO t VALUES (2, 'b')")
    assert history.generations() == [1, 2]  # continued the newest one
    assert latest_rows(history, tmp_path) == [(1, "a"), (2, "b")] == table_rows(path)


def test_a_remembered_close_is_dropped_when_the_file_changed_behind_it(
    paths: tuple[Path, History], tmp_path: Path
) -> None:
    path, history = paths
    first = Process(path, history)
    first.run("CREATE TABLE t (k INTEGER PRIMARY KEY, v)")
    write_behind(path)
    first.run("INSERT INTO t VALUES (2, 'b')")
    assert history.generations() == [1, 2]
    assert latest_rows(history, tmp_path) == [(2, "b"), (9, "outside")] == table_rows(path)


def _activation(backups: Backups, key: str, path: Path, statement: str) -> None:
    shipper = backups.shipper(key, path, "ROOM", "lobby")
    shipper.prepare()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    shipper.opened(conn)
    conn.execute(statement)
    shipper.committed()
    shipper.closing()
    conn.close()
    shipper.closed()


def test_backups_remember_each_objects_close_until_it_opens_again(tmp_path: Path) -> None:
    backups = Backups(BackupSettings(gated=True), tmp_path)
    key = "ab" * 32
    path = tmp_path / "object.sqlite"
    history = backups.history(key)
    _activation(backups, key, path, "CREATE TABLE t (k INTEGER PRIMARY KEY, v)")
    _spoil_the_record_on_disk(history)
    _activation(backups, key, path, "INSERT INTO t VALUES (1, 'a')")
    assert history.generations() == [1]  # the record was remembered
    _spoil_the_record_on_disk(history)
    shipper = backups.shipper(key, path, "ROOM", "lobby")  # taken: the open that failed
    del shipper
    _activation(backups, key, path, "INSERT INTO t VALUES (2, 'b')")  # the slow path
    assert history.generations() == [1, 2]
    assert latest_rows(history, tmp_path) == [(1, "a"), (2, "b")] == table_rows(path)


def test_backups_remember_a_bounded_number_of_closes_the_oldest_out_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "REMEMBERED_CLOSES", 1)
    backups = Backups(BackupSettings(gated=True), tmp_path)
    first, second = "ab" * 32, "cd" * 32
    for key in (first, second):  # the second close drops the first's record
        _activation(backups, key, tmp_path / f"{key}.sqlite", "CREATE TABLE t (k)")
    for key in (second, first):  # (each close is remembered, dropping the other's)
        _spoil_the_record_on_disk(backups.history(key))
        _activation(backups, key, tmp_path / f"{key}.sqlite", "INSERT INTO t VALUES (1)")
    assert backups.history(first).generations() == [1, 2]  # read the spoiled record
    assert backups.history(second).generations() == [1]  # remembered its own


def test_a_record_on_disk_that_is_not_one_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "clean"
    for text in (
        "",
        "[]",
        '{"last": "x"}',
        '{"generation": 2, "last": "000000000001-00000001-0000000001", "log_end": 5, "file": {}}',
    ):
        path.write_text(text)
        assert CleanClose.read(str(path)) is None
    path.write_text(
        '{"generation": 1, "last": "000000000001-00000001-0000000001", "log_end": 5,'
        ' "file": {"size": 1, "mtime_ns": 2, "inode": 3}}   '
    )
    record = CleanClose.read(str(path))
    assert record is not None
    assert (record.generation, record.log_end, record.file) == (1, 5, (1, 2, 3))
