"""The write-ahead log reader and the rebuild: any commit can be rebuilt exactly."""

from __future__ import annotations

import random
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest

from hub.backup.rebuild import apply_commits
from hub.backup.wal import Commit, WalError, WalTail, checksum, parse_header


def _open(path: Path, autocheckpoint: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
    return conn


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return list(conn.iterdump())
    finally:
        conn.close()


def _random_write(conn: sqlite3.Connection, rng: random.Random) -> None:
    conn.execute("BEGIN")
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        if op < 0.55:
            conn.execute(
                "INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)",
                (rng.randint(0, 400), "x" * rng.randint(0, 3000)),
            )
        elif op < 0.8:
            conn.execute(
                "UPDATE t SET v = ? WHERE k % 7 = ?", ("y" * rng.randint(0, 50), rng.randint(0, 6))
            )
        elif op < 0.97:
            conn.execute("DELETE FROM t WHERE k % 5 = ?", (rng.randint(0, 4),))
        else:
            conn.execute("CREATE TABLE IF NOT EXISTS u (a PRIMARY KEY, b)")
            conn.execute(
                "INSERT OR REPLACE INTO u VALUES (?, randomblob(500))", (rng.randint(0, 9),)
            )
    conn.execute("COMMIT")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("autocheckpoint", [4, 1000])
def test_every_commit_rebuilds_exactly(tmp_path: Path, seed: int, autocheckpoint: int) -> None:
    rng = random.Random(seed)
    db = tmp_path / "object.sqlite"
    conn = _open(db, autocheckpoint)
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT) ")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    base = tmp_path / "base.sqlite"
    shutil.copyfile(db, base)
    tail = WalTail(db)
    assert tail.read() == []
    commits: list[Commit] = []
    dumps: list[list[str]] = []
    for step in range(60):
        _random_write(conn, rng)
        # Read after every commit, before the next write: a restarted log overwrites
        # the frames of the one before (the hub reads inside its commit).
        # (A transaction that changed nothing writes no frame.)
        new = tail.read()
        assert len(new) <= 1
        commits += new
        dumps += [list(conn.iterdump())] * len(new)
        if step == 30:
            conn.execute("VACUUM")  # shrinks the file: rebuild must cut it
            commits += tail.read()
            dumps.append(list(conn.iterdump()))
    assert tail.read() == []
    by_commit = dumps
    assert len(commits) == len(dumps) > 40
    for index in [*sorted(rng.sample(range(len(commits)), 12)), len(commits) - 1]:
        rebuilt = tmp_path / f"rebuilt-{index}.sqlite"
        shutil.copyfile(base, rebuilt)
        apply_commits(rebuilt, commits[: index + 1], 4096)
        assert _dump(rebuilt) == by_commit[index], f"commit {index}"
    # Page for page: the last rebuild equals the live file once its log is checkpointed.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert (tmp_path / f"rebuilt-{len(commits) - 1}.sqlite").read_bytes() == db.read_bytes()
    tail.close()
    conn.close()


def test_frames_of_an_open_transaction_are_not_returned(tmp_path: Path) -> None:
    db = tmp_path / "object.sqlite"
    conn = _open(db, 1000)
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    tail = WalTail(db)
    assert len(tail.read()) == 1
    conn.execute("BEGIN")
    for k in range(3000):  # spills pages to the log before the commit
        conn.execute("INSERT INTO t VALUES (?, ?)", (k, "z" * 200))
    assert tail.read() == []
    conn.execute("COMMIT")
    assert len(tail.read()) == 1
    tail.close()
    conn.close()


def test_a_torn_frame_after_the_last_commit_is_ignored_on_first_read(tmp_path: Path) -> None:
    db = tmp_path / "object.sqlite"
    conn = _open(db, 1000)
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("INSERT INTO t VALUES (1, 'a')")
    wal = Path(f"{db}-wal")
    valid = wal.read_bytes()
    # A crash mid-write: a commit frame whose page bytes are garbage.
    header = parse_header(valid)
    frame = struct.pack(">6I", 2, 9, *header.salts, 1, 2) + b"\xff" * header.page_size
    with open(wal, "ab") as file:
        file.write(frame)
    tail = WalTail(db)
    assert len(tail.read()) == 2
    tail.close()
    conn.close()


def test_a_file_that_is_not_a_log_is_refused() -> None:
    with pytest.raises(WalError, match="magic"):
        parse_header(b"\0" * 32)
    with pytest.raises(WalError, match="shorter"):
        parse_header(b"\x37\x7f")


def test_checksum_matches_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "object.sqlite"
    conn = _open(db, 1000)
    conn.execute("CREATE TABLE t (k)")
    data = Path(f"{db}-wal").read_bytes()
    header = parse_header(data)  # verifies the header's checksum
    assert checksum(data[:24], header.big_endian, (0, 0)) == header.checksum
    conn.close()
