"""An object's backup history: bookmarks name commits, and each rebuilds exactly."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from hub.backup.history import Bookmark, BookmarkError, History
from hub.backup.wal import WalTail


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


class Rig:
    """A live database whose every commit is appended to a history, as the hub does."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "object.sqlite"
        self.history = History(tmp_path / "replica" / "obj")
        self.conn = sqlite3.connect(self.db, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA wal_autocheckpoint=8")
        self.tail = WalTail(self.db)
        self.tail.read()
        self.now = 1_000_000
        generation = self.history.begin(None, self.now)
        self.writer = self.history.writer(generation)
        self.states: dict[Bookmark, list[str]] = {self.writer.last: list(self.conn.iterdump())}

    def write(self, *statements: str) -> Bookmark:
        self.conn.execute("BEGIN")
        for statement in statements:
            self.conn.execute(statement)
        self.conn.execute("COMMIT")
        self.now += 7
        self.writer.append(self.tail.read(), 4096, self.now)
        self.states[self.writer.last] = list(self.conn.iterdump())
        return self.writer.last

    def close(self) -> None:
        self.writer.close()
        self.tail.close()
        self.conn.close()


def test_every_bookmark_rebuilds_its_state_and_times_find_them(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rng = random.Random(7)
    rig.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    for _ in range(80):
        k = rng.randint(0, 50)
        rig.write(
            f"INSERT OR REPLACE INTO t VALUES ({k}, '{'v' * rng.randint(0, 2000)}')",
            f"DELETE FROM t WHERE k = {rng.randint(0, 50)}",
        )
    marks = list(rig.history.bookmarks())
    assert marks == sorted(marks) == sorted(rig.states)
    assert [str(m) for m in marks] == sorted(str(m) for m in marks)  # strings sort in time
    for mark in [*rng.sample(marks, 15), marks[0], marks[-1]]:
        assert Bookmark.parse(str(mark)) == mark
        target = tmp_path / "restored.sqlite"
        rig.history.rebuild(mark, target)
        assert _dump(target) == rig.states[mark], str(mark)
        assert rig.history.at_time(mark.time_ms) == mark
        assert rig.history.at_time(mark.time_ms + 3) == mark  # between two commits
    assert rig.history.at_time(marks[0].time_ms - 1) is None
    assert rig.history.latest() == marks[-1]
    rig.close()


def test_a_torn_record_is_ignored_and_cut_by_the_next_append(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    first = rig.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    rig.writer.close()
    log = rig.history.folder / "00000001" / "log"
    with open(log, "ab") as file:
        file.write(b"\x00" * 40)  # a crash in the middle of the next record
    assert rig.history.latest() == first
    rig.writer = rig.history.writer(1)
    second = rig.write("INSERT INTO t VALUES (1, 'a')")
    assert second.index == first.index + 1
    assert list(rig.history.bookmarks())[-2:] == [first, second]
    target = tmp_path / "restored.sqlite"
    rig.history.rebuild(second, target)
    assert _dump(target) == rig.states[second]
    rig.close()


def test_a_new_generation_starts_from_a_copy_and_times_never_go_back(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    last = rig.write("INSERT INTO t VALUES (1, 'a')")
    rig.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    generation = rig.history.begin(rig.db, rig.now - 500)  # the clock stepped back
    assert generation == 2
    base = rig.history.base_bookmark(2)
    assert base.time_ms == last.time_ms and base > last
    rig.writer.close()
    rig.writer = rig.history.writer(2)
    rig.states[base] = rig.states[last]
    after = rig.write("INSERT INTO t VALUES (2, 'b')")
    for mark in (last, base, after):
        target = tmp_path / "restored.sqlite"
        rig.history.rebuild(mark, target)
        assert _dump(target) == rig.states[mark]
    rig.close()


@pytest.mark.parametrize(
    "text", ["", "abc", "0" * 12 + "-" + "0" * 8, "g" * 12 + "-00000001-0000000001", 5]
)
def test_strings_that_are_not_bookmarks_are_refused(text: object) -> None:
    with pytest.raises(BookmarkError):
        Bookmark.parse(text)  # type: ignore[arg-type]


def test_a_bookmark_of_another_history_is_refused(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    mark = rig.write("CREATE TABLE t (k)")
    with pytest.raises(BookmarkError):
        rig.history.rebuild(Bookmark(mark.time_ms, 1, 99), tmp_path / "x.sqlite")
    with pytest.raises(BookmarkError):
        rig.history.rebuild(Bookmark(mark.time_ms, 9, 1), tmp_path / "x.sqlite")
    with pytest.raises(BookmarkError):
        rig.history.rebuild(Bookmark(mark.time_ms + 1, 1, 1), tmp_path / "x.sqlite")
    assert not (tmp_path / "x.sqlite").exists()
    rig.close()
