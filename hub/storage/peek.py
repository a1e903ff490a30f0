"""Reading an object's file from outside its activation, for the inspector.

Rules:

1. Read-only, never the object's own connection: the file is opened with SQLite's
   ``mode=ro`` and closed before returning. It takes no ``flock``, so it can never make
   an activation fail to open the file (``hub.storage.database`` Rule 5), and it never
   creates a file that does not exist.
2. It sees what is committed and nothing else: in WAL mode a reader gets a snapshot of
   the last commit and neither blocks nor waits for the writer (an event's open
   transaction is invisible). So reading a live object's file is as safe as reading an
   evicted one's, and reading never wakes an object.
3. Whatever goes wrong while reading (a file being recovered after a crash, an older
   schema) is a ``PeekError``; callers report the facts as unknown.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileFacts", "PeekError", "peek"]


class PeekError(OSError):
    """The file could not be read (it is reported as unknown)."""


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What an object's file says about its feeds and its alarm."""

    #: The seq of the newest change ever written (0 when none).
    last_seq: int
    #: The highest seq trimmed from the change log (0 when none).
    trimmed_through: int
    #: ``(table, seq)`` of each feed table: the seq of its newest change still in the
    #: log, or 0 when the log holds none of its changes.
    feeds: list[tuple[str, int]]
    #: The pending alarm in epoch milliseconds, or None.
    alarm_ms: int | None


def peek(path: Path) -> FileFacts | None:
    """The facts of the object file at ``path``; None when the object has no file."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise PeekError(f"cannot open {path.name} read-only: {exc}") from exc
    try:
        return _read(conn)
    except sqlite3.Error as exc:
        raise PeekError(f"cannot read {path.name}: {exc}") from exc
    finally:
        conn.close()


def _read(conn: sqlite3.Connection) -> FileFacts:
    conn.execute("BEGIN")  # one snapshot for every read below
    names = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master")}
    meta = (
        dict(conn.execute("SELECT key, value FROM _roost_meta").fetchall())
        if "_roost_meta" in names
        else {}
    )
    last_seq, feeds = 0, []
    if {"_roost_changes", "_roost_feeds"} <= names:
        row = conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = '_roost_changes'"
        ).fetchone()
        last_seq = 0 if row is None else int(row[0])
        newest = dict(conn.execute("SELECT tbl, max(seq) FROM _roost_changes GROUP BY tbl"))
        feeds = [
            (str(table), int(newest.get(table) or 0))
            for (table,) in conn.execute("SELECT tbl FROM _roost_feeds ORDER BY tbl")
        ]
    conn.execute("COMMIT")
    alarm = meta.get("alarm")
    trimmed = meta.get("feed_trimmed")
    return FileFacts(
        last_seq=last_seq,
        trimmed_through=0 if trimmed is None else int(trimmed),
        feeds=feeds,
        alarm_ms=None if alarm is None else int(alarm),
    )
