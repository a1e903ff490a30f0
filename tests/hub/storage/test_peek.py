"""Reading an object's file from outside: committed facts only, no lock, no new file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.storage.database import ObjectDatabase
from hub.storage.feeds import FeedLog
from hub.storage.peek import FileFacts, PeekError, peek


def write_notes(db: ObjectDatabase, *texts: str) -> None:
    db.begin()
    for text in texts:
        db.internal("INSERT INTO notes (text) VALUES (?)", (text,))
    db.commit()


@pytest.fixture
def feeding(tmp_path: Path) -> ObjectDatabase:
    db = ObjectDatabase(tmp_path / "o.sqlite3")
    db.begin()
    db.internal("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.internal("CREATE TABLE quiet (id INTEGER PRIMARY KEY)")
    feeds = FeedLog(db)
    feeds.enable("notes")
    feeds.enable("quiet")
    db.commit()
    return db


def test_no_file_is_none_and_none_is_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.sqlite3"
    assert peek(path) is None
    assert not path.exists()


def test_a_live_object_is_read_at_its_last_commit_without_taking_its_lock(
    feeding: ObjectDatabase,
) -> None:
    db = feeding
    write_notes(db, "a", "b")
    db.begin()
    db.internal("INSERT INTO notes (text) VALUES ('uncommitted')")
    db.write_meta("alarm", 1234)
    # The event's transaction is open: none of it shows.
    assert peek(db.path) == FileFacts(
        last_seq=2, trimmed_through=0, feeds=[("notes", 2), ("quiet", 0)], alarm_ms=None
    )
    db.commit()
    facts = peek(db.path)
    assert facts is not None
    assert (facts.last_seq, facts.feeds, facts.alarm_ms) == (3, [("notes", 3), ("quiet", 0)], 1234)
    db.close()


def test_an_evicted_object_can_still_be_opened_while_and_after_it_is_read(
    feeding: ObjectDatabase,
) -> None:
    write_notes(feeding, "a")
    path = feeding.path
    feeding.close()
    assert peek(path) == FileFacts(1, 0, [("notes", 1), ("quiet", 0)], None)
    again = ObjectDatabase(path)  # no flock left behind: no ObjectBusyError
    write_notes(again, "b")
    again.close()
    facts = peek(path)
    assert facts is not None and facts.feeds == [("notes", 2), ("quiet", 0)]


def test_another_process_reads_while_this_one_holds_the_object(feeding: ObjectDatabase) -> None:
    write_notes(feeding, "a", "b")
    script = (
        "import sys; from pathlib import Path; from hub.storage.peek import peek; "
        "print(peek(Path(sys.argv[1])).feeds)"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script, str(feeding.path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root)},
    )
    assert done.stdout.strip() == "[('notes', 2), ('quiet', 0)]"
    write_notes(feeding, "c")  # the writer goes on
    feeding.close()


def test_a_file_that_is_not_a_database_is_a_peek_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(PeekError, match=r"junk\.sqlite3"):
        peek(path)
