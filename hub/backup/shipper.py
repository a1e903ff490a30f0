"""Shipping one open object database's commits to its history, as they commit.

The object's ``ObjectDatabase`` calls ``prepare`` before it opens the file, ``opened``
once its connection exists, ``committed`` after each COMMIT and ``closing`` /
``closed`` around its close. All on the object's thread.

Rules:

1. A history continues only from a state it can prove: the file is exactly as the last
   clean close left it (size and mtime recorded in ``clean``), or the log a crash left
   still holds the last shipped commit (same salts, valid frames up to it): then the
   commits after it are shipped first. Anything else begins a new generation from the
   file as it is (its log checkpointed into it first). So a history never has a gap.
2. SQLite's automatic checkpoints are off while a shipper runs; it checkpoints itself
   right after shipping, once the log holds ``checkpoint_bytes``. A log is restarted only
   after a checkpoint, so no frame is overwritten before it was shipped.
3. A pending restore (``restore.next`` in the history's folder, written by
   ``request_restore``) is carried out in ``prepare``: the file is rebuilt from the
   bookmark, its log and shared-memory files removed, and a new generation begins
   from it.
4. ``sync``: every append is fsync'ed before the commit's answers leave (gated
   durability); otherwise the history is written at each commit (so it survives a
   crash of the hub) and fsync'ed at close.
5. A generation's log is bounded (``generation_bytes``): past it, the next commit
   checkpoints the file and begins a new generation from it, so a restore never
   replays more than that. Generations older than the retention are deleted then.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hub.backup.history import Bookmark, History, LogWriter
from hub.backup.wal import WalTail

__all__ = ["Shipper", "request_restore"]

RESTORE_FILE = "restore.next"
CLEAN_FILE = "clean"


def request_restore(history: History, bookmark: Bookmark) -> None:
    """Have the object's next open restore ``bookmark`` (rule 3)."""
    history.folder.mkdir(parents=True, exist_ok=True)
    target = history.folder / RESTORE_FILE
    temporary = target.with_suffix(".tmp")
    temporary.write_text(str(bookmark))
    os.replace(temporary, target)


class Shipper:
    """Follows one object database's log and appends its commits to its history."""

    def __init__(
        self,
        history: History,
        path: Path,
        now_ms: Callable[[], int],
        *,
        sync: bool = False,
        checkpoint_bytes: int = 4 << 20,
        generation_bytes: int = 64 << 20,
        retention_ms: int | None = None,
        on_append: Callable[[], None] | None = None,
    ) -> None:
        self.history = history
        self.path = path
        self._now_ms = now_ms
        self._sync = sync
        self._checkpoint_bytes = checkpoint_bytes
        self._generation_bytes = generation_bytes
        self._retention_ms = retention_ms
        self._on_append = on_append
        self._tail = WalTail(path)
        self._writer: LogWriter | None = None
        self._conn: sqlite3.Connection | None = None
        #: The bookmark a restore replaced (what undoes it), when ``prepare`` restored.
        self.restored_from: Bookmark | None = None

    @property
    def restore_pending(self) -> bool:
        """Whether ``prepare`` will restore the file (``request_restore`` was called)."""
        return (self.history.folder / RESTORE_FILE).exists()

    @property
    def last(self) -> Bookmark | None:
        """The bookmark of the database as shipped so far."""
        return None if self._writer is None else self._writer.last

    def prepare(self) -> None:
        """Before the file is opened: restore if asked, then prove or begin (rules 1, 3)."""
        pending = self.history.folder / RESTORE_FILE
        if pending.exists():
            self._restore(Bookmark.parse(pending.read_text().strip()))
            pending.unlink()
            return
        clean = self._read_clean()
        (self.history.folder / CLEAN_FILE).unlink(missing_ok=True)
        generations = self.history.generations()
        if generations:
            generation = generations[-1]
            records = list(self.history.records(generation))
            last = records[-1] if records else None
            if self._wal_size() > 0:
                if last is not None and self._tail.resume(last.salts, last.wal_end):
                    self._writer = self.history.writer(generation)
                    self._ship()
                    return
            elif clean == self._fingerprint(generation):
                self._writer = self.history.writer(generation)
                return
        self._begin()

    def opened(self, conn: sqlite3.Connection) -> None:
        """The object's connection exists: take checkpoints over (rule 2)."""
        self._conn = conn
        conn.execute("PRAGMA wal_autocheckpoint=0")

    def committed(self) -> None:
        """After a COMMIT: ship what it wrote, checkpoint when the log is long, and begin
        a new generation when the history's log is (rule 5)."""
        self._ship()
        conn, position = self._conn, self._tail.position
        if conn is None or position is None:
            return
        if self._writer is not None and self._writer.size >= self._generation_bytes:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
            self._tail.close()
            self._tail = WalTail(self.path)
            self._begin()
        elif position[1] >= self._checkpoint_bytes:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def closing(self) -> None:
        """Before the connection closes (SQLite then checkpoints and deletes the log)."""
        self._ship()
        self._tail.close()
        if self._writer is not None:
            self._writer.close()  # closes after an fsync of its file when sync

    def closed(self) -> None:
        """After the close: record the file's state so the next open can continue."""
        if self._writer is None or os.path.exists(f"{self.path}-wal"):
            return
        fingerprint = self._fingerprint(self._writer.last.generation)
        (self.history.folder / CLEAN_FILE).write_text(json.dumps(fingerprint))

    # -- internals -------------------------------------------------------------------

    def _ship(self) -> None:
        commits = self._tail.read()
        if commits and self._writer is not None:
            self._writer.append(commits, self._tail.page_size, self._now_ms(), sync=self._sync)
            if self._on_append is not None:
                self._on_append()

    def _begin(self) -> None:
        """A new generation from the file as it is (its log checkpointed into it)."""
        if self._wal_size() > 0:
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
        base = self.path if self.path.exists() else None
        now = self._now_ms()
        generation = self.history.begin(base, now)
        self._writer = self.history.writer(generation)
        if self._retention_ms is not None:
            self.history.prune(now - self._retention_ms)
        if self._on_append is not None:
            self._on_append()  # the new base goes to the replica too

    def _restore(self, bookmark: Bookmark) -> None:
        """Rebuild the file in place: its inode carries the object's ``flock`` fence."""
        self.restored_from = self.history.latest()
        rebuilt = self.path.with_name(self.path.name + ".restored")
        self.history.rebuild(bookmark, rebuilt)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        with (
            open(rebuilt, "rb") as source,
            open(self.path, "r+b" if self.path.exists() else "wb") as file,
        ):
            file.truncate(0)
            while chunk := source.read(1 << 20):
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        rebuilt.unlink()
        self._begin()

    def _wal_size(self) -> int:
        try:
            return os.stat(f"{self.path}-wal").st_size
        except FileNotFoundError:
            return 0

    def _fingerprint(self, generation: int) -> dict[str, object] | None:
        latest = self.history.latest()
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return {
            "generation": generation,
            "last": None if latest is None else str(latest),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "inode": stat.st_ino,
        }

    def _read_clean(self) -> object:
        try:
            return json.loads((self.history.folder / CLEAN_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None
