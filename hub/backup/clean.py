"""The record of a clean close: how the next open continues a history without reading it.

When an object database closes cleanly (its log checkpointed and gone, everything
shipped), its ``Shipper`` records the history's last commit, the log's length and the
file's state, in the history's folder (``clean``). The next open continues from it if
the file is still in that state (shipper rule 1).

Rules:

1. The record is written over the old one in place (``write``), never truncated and
   rewritten: ext4 flushes a truncated file to disk on close (``auto_da_alloc``: ~2 ms
   of each eviction). A crash leaves the old record or the new one whole.
2. The process that wrote it also keeps it (``Backups`` holds it per evicted object),
   so its next wake of the object reads no file and lists no folder (``resume``): it
   checks with ``stat`` calls alone, after the object's ``flock`` is taken, that nothing
   it names has changed since. Another process that ran the object in between (a
   cluster hands objects over) either shipped a commit (the generation's log grew),
   began a new generation (the next generation's folder exists), changed the file
   without shipping it (its size, mtime or inode differ) or crashed (its log is left):
   any of these sends the open down the slow path, which reads the record on disk.
   A process that ran the object and did none of these left the history as it was.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from hub.backup.history import Bookmark, BookmarkError, History, LogWriter

__all__ = ["CleanClose", "FileState", "file_state", "read_text", "resume"]

#: Bytes ``read_text`` asks for at a time (the files it reads are far smaller).
_SMALL = 1 << 16

#: What a database file's state is recognised by: size, mtime (ns) and inode.
FileState = tuple[int, int, int]
#: Their names in the record on disk.
_FILE_KEYS = ("size", "mtime_ns", "inode")


@dataclass(frozen=True, slots=True)
class CleanClose:
    """A clean close: the history's last commit, its log's length, the file then."""

    last: Bookmark
    log_end: int
    file: FileState

    @property
    def generation(self) -> int:
        """The generation the close left the history in."""
        return self.last.generation

    def write(self, path: str) -> None:
        """Write the record to ``path`` over the old one (rule 1)."""
        record = {
            "generation": self.generation,
            "last": str(self.last),
            "log_end": self.log_end,
            "file": dict(zip(_FILE_KEYS, self.file, strict=True)),
        }
        _overwrite(path, json.dumps(record).encode())

    @classmethod
    def read(cls, path: str) -> CleanClose | None:
        """The record at ``path``; None when there is none, it is not one, or it cannot
        be read (the open then begins a new generation: slower, never wrong)."""
        try:
            text = read_text(path)
        except OSError:
            return None
        if text is None:
            return None
        try:
            record = json.loads(text)
            last = Bookmark.parse(str(record["last"]))
            log_end = int(str(record["log_end"]))
            size, mtime_ns, inode = (int(record["file"][key]) for key in _FILE_KEYS)
        except (ValueError, TypeError, KeyError, BookmarkError):
            return None
        if record.get("generation") != last.generation:
            return None
        return cls(last, log_end, (size, mtime_ns, inode))


def resume(history: History, record: CleanClose, file: FileState | None) -> LogWriter | None:
    """The history's appender as the remembered ``record`` left it, checked by ``stat``
    alone (rule 2): None when anything it names changed (``file``: the database file's
    state now)."""
    if file != record.file or _exists(f"{history.folder}/{record.generation + 1:08x}"):
        return None
    folder = f"{history.folder}/{record.generation:08x}"
    log = f"{folder}/log"
    try:
        if os.stat(log).st_size != record.log_end:
            return None
    except FileNotFoundError:
        if record.log_end or not _exists(folder):
            return None
    return LogWriter(log, record.log_end, record.last, record.last.index)


def file_state(path: str) -> FileState | None:
    """The state of the database file at ``path`` (None: there is none)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def read_text(path: str) -> str | None:
    """The text of a small file (None: there is none), in three system calls."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        chunks = [os.read(fd, _SMALL)]
        while len(chunks[-1]) == _SMALL:  # a short read is the end of a regular file
            chunks.append(os.read(fd, _SMALL))
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _exists(path: str) -> bool:
    return os.access(path, os.F_OK)  # no exception raised when it is not there (a wake)


def _overwrite(path: str, data: bytes) -> None:
    """Write ``data`` over the start of the file at ``path``, padded with spaces (JSON
    ignores them) to at least its old size (rule 1). A crash leaves the old record or
    the new one whole (one small write at offset 0); the old one names an older file
    state, so the next open does not continue from it (shipper rule 1)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        data = data.ljust(os.fstat(fd).st_size, b" ")
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
    finally:
        os.close(fd)
