"""Shipping one open object database's commits to its history, as they commit.

The object's ``ObjectDatabase`` calls ``prepare`` before it opens the file, ``opened``
once its connection exists, ``committed`` after each COMMIT and ``closing`` /
``closed`` around its close. All on the object's thread.

Rules:

1. A history continues only from a state it can prove: the file is exactly as the last
   clean close left it (size, mtime and inode recorded in ``clean``, ``hub.backup.clean``;
   a record this process wrote is remembered and checked by ``stat`` alone), or the
   log a crash left still holds the last shipped commit (same salts, valid frames up to
   it): then the commits after it are shipped first. Anything else begins a new
   generation from the file as it is (its log checkpointed into it first). So a
   history never has a gap.
2. SQLite's automatic checkpoints are off while a shipper runs; it checkpoints itself
   right after shipping, once the log holds ``checkpoint_bytes``. A log is restarted only
   after a checkpoint, so no frame is overwritten before it was shipped.
3. A pending restore (``restore.next`` in the history's folder, written by
   ``request_restore``) is carried out in ``prepare``: the file is rebuilt from the
   bookmark, its log and shared-memory files removed, and a new generation begins
   from it.
4. ``sync``: every append is fsync'ed before the commit's answers leave (gated
   durability); otherwise the history is written by batches (rule 6) and never
   fsync'ed, like the object's own commits under ``synchronous=NORMAL``: it survives a
   crash of the hub; after a power loss the next open begins a new generation.
5. A generation's log is bounded (``generation_bytes``): past it, the next commit
   checkpoints the file and begins a new generation from it, so a restore never
   replays more than that. Generations older than the retention are deleted then.
6. Outside ``sync``, commits are shipped in batches: the first commit after a flush asks
   ``later`` for one (the hub: about 20 ms on the event loop), so a busy object ships
   once for many commits. A transaction that wrote nothing (its log has no new frame:
   ``WalTail.pending``) asks for none; as that look costs two reads, a commit within
   ``probe_ms`` of a look that found nothing asks for a batch without looking (a busy
   object looks about once a batch; an object woken for one event sets no timer).
   Nothing is lost meanwhile: the commits stay in SQLite's log, which is checkpointed
   only after a flush; a crash leaves them there for ``prepare`` to ship. Each commit's
   time in the history is then its flush's, at most that late.
7. A failed write to the history (a full disk) is logged; the commits meanwhile are
   not in it, so the next commit checkpoints the file and begins a new generation: the
   history has no gap, only a stretch with no points to restore to.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hub.backup.clean import CleanClose, FileState, file_state, read_text, resume
from hub.backup.history import Bookmark, History, LogWriter
from hub.backup.wal import WalTail

__all__ = ["CHECKPOINTS_OFF", "Shipper", "request_restore"]

log = logging.getLogger("roost.backup")

RESTORE_FILE = "restore.next"
#: Turns SQLite's automatic checkpoints off on a connection (rule 2).
CHECKPOINTS_OFF = "PRAGMA wal_autocheckpoint=0"
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
        later: Callable[[Callable[[], None]], None] | None = None,
        probe_ms: int = 20,
        remembered: CleanClose | None = None,
        remember: Callable[[CleanClose], None] | None = None,
    ) -> None:
        self.history = history
        self.path = path
        self._path_text = str(path)
        self._wal_path = f"{path}-wal"
        self._now_ms = now_ms
        self._sync = sync
        self._checkpoint_bytes = checkpoint_bytes
        self._generation_bytes = generation_bytes
        self._retention_ms = retention_ms
        self._on_append = on_append
        #: Runs a callback a little later on the object's thread (rule 6); None: every
        #: commit is shipped at once.
        self._later = later
        self._flush_due = False
        #: How long after a look at the log that found nothing new a commit asks for a
        #: batch without looking again (rule 6), and when that look was.
        self._probe_ms = probe_ms
        self._probed_at: int | None = None
        #: When (seconds, the backups' clock) the oldest commit not shipped yet was made.
        self.pending_since: float | None = None
        self._closed = False
        #: A write to the history failed: the next commit begins a new generation (rule 7).
        self._broken = False
        self._tail = WalTail(path)
        #: The record of this object's last clean close, as this process wrote it, and
        #: where the next one is given to be kept (``hub.backup.clean`` rule 2).
        self._remembered = remembered
        self._remember = remember
        self._writer: LogWriter | None = None
        self._conn: sqlite3.Connection | None = None
        #: The bookmark a restore replaced (what undoes it), when ``prepare`` restored.
        self.restored_from: Bookmark | None = None
        folder = str(history.folder)
        self._restore_file = f"{folder}/{RESTORE_FILE}"
        self._clean_file = f"{folder}/{CLEAN_FILE}"
        #: What ``restore.next`` asks for: read once, before ``prepare`` (rule 3). Looked
        #: for first: on a wake there is none, and a failed open raises (~2 µs more).
        self._pending = (
            read_text(self._restore_file) if os.access(self._restore_file, os.F_OK) else None
        )

    @property
    def restore_pending(self) -> bool:
        """Whether ``prepare`` will restore the file (``request_restore`` had been called
        when this shipper was made)."""
        return self._pending is not None

    @property
    def last(self) -> Bookmark | None:
        """The bookmark of the database as shipped so far."""
        return None if self._writer is None else self._writer.last

    def prepare(self) -> None:
        """Before the file is opened: restore if asked, then prove or begin (rules 1, 3).

        On every wake: the plain ``os`` calls here cost a fraction of ``pathlib``'s, and a
        clean close this process remembers is checked by four ``stat`` calls."""
        if self._pending is not None:
            self._restore(Bookmark.parse(self._pending.strip()))
            os.unlink(self._restore_file)
            self._pending = None
            return
        remembered = self._remembered
        if remembered is not None and self._wal_size() == 0:
            writer = resume(self.history, remembered, self._stat())
            if writer is not None:
                self._writer = writer
                return
        # The record of the last clean close stays: it names a file state (size, mtime,
        # inode) that any later write changes, so it can never vouch for a newer file.
        clean = CleanClose.read(self._clean_file)
        generations = self.history.generations()
        if generations and self._wal_size() > 0:  # a crash: resume from the log, or begin
            generation = generations[-1]
            records = list(self.history.records(generation))
            last = records[-1] if records else None
            if last is not None and self._tail.resume(last.salts, last.wal_end):
                self._writer = self.history.writer(generation)
                self._ship()
                return
        elif (
            generations
            and clean is not None
            and clean.generation == generations[-1]
            and clean.file == self._stat()
        ):
            # A clean close: continue where it ended, without reading the log (a wake
            # costs the same whatever the history's length).
            writer = self.history.resume_writer(clean.last, clean.log_end)
            if writer is not None:
                self._writer = writer
                return
        self._begin()

    def opened(self, conn: sqlite3.Connection, *, checkpoints_off: bool = False) -> None:
        """The object's connection exists: take checkpoints over (rule 2).
        ``checkpoints_off``: the caller ran ``CHECKPOINTS_OFF`` on it already, before
        anything it wrote (``ObjectDatabase``, with its own settings in one script)."""
        self._conn = conn
        if not checkpoints_off:
            conn.execute(CHECKPOINTS_OFF)

    def committed(self) -> None:
        """After a COMMIT: ship what it wrote (now when ``sync`` or no ``later``, else
        in a moment, with the commits after it: rule 6), checkpoint when the log is long,
        and begin a new generation when the history's log is (rule 5)."""
        conn = self._conn
        if self._broken and conn is not None:
            self._recover(conn)
        if self._sync or self._later is None:
            self._ship()
        elif not self._flush_due:
            now = self._now_ms()
            probed = self._probed_at
            if (probed is not None and now - probed < self._probe_ms) or self._tail.pending():
                self._flush_due = True
                self.pending_since = now / 1000
                self._later(self.flush)
            else:
                self._probed_at = now  # it wrote nothing: no batch, no timer
        position = self._tail.position
        if conn is None or position is None:
            return
        # The offset read so far lags by at most one batch: the log may pass the bound
        # by that much before it is checkpointed.
        if position[1] < self._checkpoint_bytes and (
            self._writer is None or self._writer.size < self._generation_bytes
        ):
            return
        self._ship()  # everything, before the log may be restarted
        position = self._tail.position
        assert position is not None
        if self._writer is not None and self._writer.size >= self._generation_bytes:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
            self._tail.close()
            self._tail = WalTail(self.path)
            self._begin()
        elif position[1] >= self._checkpoint_bytes:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def flush(self) -> None:
        """Ship every commit not shipped yet (a bookmark is asked for, the timer of rule
        6). Never touches the connection, so it may run while an event is open."""
        self._flush_due = False
        self.pending_since = None
        if not self._closed:  # a timer may fire after the object closed
            self._ship()

    def closing(self) -> None:
        """Before the connection closes (SQLite then checkpoints and deletes the log)."""
        self.pending_since = None
        self._ship()
        self._closed = True
        self._tail.close()
        if self._writer is not None:
            self._writer.close(sync=self._sync)

    def closed(self) -> None:
        """After the close: record the file's state so the next open can continue."""
        writer = self._writer
        if writer is None or os.path.exists(self._wal_path) or self._broken:
            return
        file = self._stat()
        if file is None:
            return
        clean = CleanClose(writer.last, writer.size, file)
        try:
            clean.write(self._clean_file)
        except OSError:
            # Only a shortcut for the next open, which then reads the history instead:
            # the record left on disk names an older state of the file, so it is not
            # taken (clean rule 2). A close must finish whatever happens here.
            log.warning("cannot record the clean close in %s", self.history.folder, exc_info=True)
            return
        if self._remember is not None:
            self._remember(clean)

    # -- internals -------------------------------------------------------------------

    def _ship(self) -> None:
        commits = self._tail.read()
        if commits and self._writer is not None and not self._broken:
            try:
                self._writer.append(commits, self._tail.page_size, self._now_ms(), sync=self._sync)
            except OSError:
                log.exception("cannot write the backup history in %s", self.history.folder)
                self._broken = True
                return
            if self._on_append is not None:
                self._on_append()

    def _recover(self, conn: sqlite3.Connection) -> None:
        """After a failed write (rule 7): a new generation from the file as it is now."""
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if self._writer is not None:
                self._writer.close()
            self._tail.close()
            self._tail = WalTail(self.path)
            self._broken = False
            self._begin()
        except OSError:
            self._broken = True
            log.exception("cannot begin a backup generation in %s", self.history.folder)

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
        if not os.access(self._wal_path, os.F_OK):  # a wake: none, and no exception
            return 0
        try:
            return os.stat(self._wal_path).st_size
        except FileNotFoundError:
            return 0

    def _stat(self) -> FileState | None:
        """What the file's state is recognised by: size, mtime, inode."""
        return file_state(self._path_text)
