"""One object's backup history in a folder: generations of a base image and a commit log.

Layout, under the replica's folder for the object (its hex id)::

    00000001/base.sqlite     the database file when the generation began (may be empty)
    00000001/log             every commit since, appended in order
    00000002/...             a later generation (a snapshot, a restore, an unproven start)

A log record is a 48-byte header (``>QQIIIIIIQ``: commit index, time in milliseconds,
the database's size in pages after the commit, page size, page count, CRC-32 of the
pages, the two salts of the SQLite log it came from and where it ended there) followed by
the pages, each a 4-byte page number and the page image.

Rules:

1. Records are only appended; a record cut short by a crash (short, its CRC wrong, or
   not the next index) ends the log: it and anything after it are ignored and cut off
   by the next append.
2. Commit indexes start at 1 in every generation; times never go backwards within an
   object's history (a clock stepping back is clamped to the last time written).
3. A bookmark names one commit: ``{time_ms:012x}-{generation:08x}-{index:010x}``, so
   bookmarks sort in time order as strings. ``0`` as index names the base image.
4. Rebuilding a bookmark copies the generation's base and applies its log up to the
   commit (``hub.backup.rebuild``): the file is then the database exactly as it was.
5. Retention: a generation is kept while any of its points is younger than the cutoff
   (it lasts until the next generation's base); the newest one is always kept.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from hub.backup.rebuild import apply_commits
from hub.backup.wal import Commit

__all__ = ["Bookmark", "BookmarkError", "History", "LogWriter", "Record"]

_RECORD = struct.Struct(">QQIIIIIIQ")
_PAGE_NUMBER = struct.Struct(">I")
_BOOKMARK = re.compile(r"^([0-9a-f]{12})-([0-9a-f]{8})-([0-9a-f]{10})$")
_GENERATION = re.compile(r"^[0-9a-f]{8}$")
_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))
#: Buffers one ``pwritev`` takes (Linux's IOV_MAX is 1024).
_IOV_MAX = 1024


class BookmarkError(ValueError):
    """A string that is not a bookmark, or one this history does not hold."""


@dataclass(frozen=True, slots=True, order=True)
class Bookmark:
    """One commit of an object's history (rule 3)."""

    time_ms: int
    generation: int
    index: int

    def __str__(self) -> str:
        return f"{self.time_ms:012x}-{self.generation:08x}-{self.index:010x}"

    @classmethod
    def parse(cls, text: str) -> Bookmark:
        """The bookmark ``text`` names; ``BookmarkError`` if it is not one."""
        match = _BOOKMARK.match(text) if isinstance(text, str) else None
        if match is None:
            raise BookmarkError(f"not a bookmark: {str(text)[:80]!r}")
        return cls(*(int(part, 16) for part in match.groups()))


@dataclass(frozen=True, slots=True)
class Record:
    """A commit as the log holds it: where it ends and what it names."""

    bookmark: Bookmark
    db_pages: int
    page_size: int
    #: Byte offsets of the record in the log: its pages start at ``offset + 48``.
    offset: int
    end: int
    #: The SQLite log's salts and the offset where this commit ended in it.
    salts: tuple[int, int]
    wal_end: int


class History:
    """The generations of one object in ``folder`` (owned by one writer at a time)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    # -- reading ---------------------------------------------------------------------

    def generations(self) -> list[int]:
        """Generation numbers present, oldest first."""
        try:
            names = os.listdir(self.folder)  # read on every wake: no Path per entry
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(name, 16) for name in names if _GENERATION.match(name))

    def records(self, generation: int) -> Iterator[Record]:
        """The whole records of a generation's log, in order (rule 1)."""
        path = self._dir(generation) / "log"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        offset = 0
        expected = 1
        while offset + _RECORD.size <= len(data):
            index, time_ms, db_pages, page_size, count, crc, salt1, salt2, wal_end = (
                _RECORD.unpack_from(data, offset)
            )
            end = offset + _RECORD.size + count * (_PAGE_NUMBER.size + page_size)
            whole = index == expected and count > 0 and page_size in _PAGE_SIZES
            if not whole or end > len(data) or zlib.crc32(data[offset + _RECORD.size : end]) != crc:
                return
            expected += 1
            mark = Bookmark(time_ms, generation, index)
            yield Record(mark, db_pages, page_size, offset, end, (salt1, salt2), wal_end)
            offset = end

    def base_bookmark(self, generation: int) -> Bookmark:
        """The bookmark of a generation's base image (index 0)."""
        stamp = self._dir(generation) / "base.time"
        return Bookmark(int(stamp.read_text()), generation, 0)

    def bookmarks(self) -> Iterator[Bookmark]:
        """Every restorable point, oldest first."""
        for generation in self.generations():
            yield self.base_bookmark(generation)
            for record in self.records(generation):
                yield record.bookmark

    def latest(self) -> Bookmark | None:
        """The newest restorable point, if any."""
        generations = self.generations()
        if not generations:
            return None
        last = self.base_bookmark(generations[-1])
        for record in self.records(generations[-1]):
            last = record.bookmark
        return last

    def at_time(self, time_ms: int) -> Bookmark | None:
        """The last point at or before ``time_ms`` (None if history starts later)."""
        found = None
        for bookmark in self.bookmarks():
            if bookmark.time_ms > time_ms:
                break
            found = bookmark
        return found

    def rebuild(self, bookmark: Bookmark, target: Path) -> None:
        """Write the database as of ``bookmark`` to ``target`` (rule 4)."""
        if bookmark.generation not in self.generations():
            raise BookmarkError(f"no generation {bookmark.generation:08x} in this history")
        base = self.base_bookmark(bookmark.generation)
        if bookmark.index == 0:
            if bookmark != base:
                raise BookmarkError(f"bookmark {bookmark} is not in this history")
        else:
            wanted = [
                r for r in self.records(bookmark.generation) if r.bookmark.index <= bookmark.index
            ]
            if not wanted or wanted[-1].bookmark != bookmark:
                raise BookmarkError(f"bookmark {bookmark} is not in this history")
        temporary = target.with_name(target.name + ".rebuilding")
        shutil.copyfile(self._dir(bookmark.generation) / "base.sqlite", temporary)
        if bookmark.index:
            apply_commits(
                temporary, self._commits(bookmark.generation, wanted), wanted[0].page_size
            )
        os.replace(temporary, target)

    # -- writing ---------------------------------------------------------------------

    def begin(self, base: Path | None, time_ms: int) -> int:
        """Start a new generation from a copy of ``base`` (None: an empty database)."""
        generations = self.generations()
        generation = generations[-1] + 1 if generations else 1
        latest = self.latest()
        folder = self._dir(generation)
        folder.mkdir(parents=True)
        image = folder / "base.sqlite"
        if base is not None and base.exists():
            shutil.copyfile(base, image)
        else:
            image.touch()
        floor = latest.time_ms if latest is not None else 0
        (folder / "base.time").write_text(str(max(time_ms, floor)))
        return generation

    def writer(self, generation: int) -> LogWriter:
        """The appender of a generation's log, positioned after its last whole record."""
        last = None
        for last in self.records(generation):  # noqa: B007 - the loop finds the last one
            pass
        if last is None:
            return LogWriter(self._dir(generation) / "log", 0, self.base_bookmark(generation), 0)
        return LogWriter(
            self._dir(generation) / "log", last.end, last.bookmark, last.bookmark.index
        )

    def resume_writer(self, last: Bookmark, end: int) -> LogWriter | None:
        """The appender of ``last``'s generation as a clean close left it (``last``: its
        last bookmark, ``end``: its log's length then), without reading the log; None
        when the log is shorter now."""
        log = self._dir(last.generation) / "log"
        try:
            if os.stat(log).st_size < end:
                return None
        except FileNotFoundError:
            if end:
                return None
        return LogWriter(log, end, last, last.index)

    def prune(self, cutoff_ms: int) -> list[int]:
        """Delete the generations whose every point is older than ``cutoff_ms``.

        A generation lasts until the next one begins, so it goes once the next one's base
        is at or before the cutoff; the newest generation always stays. Returns the
        generations deleted.
        """
        generations = self.generations()
        gone = [
            generation
            for generation, following in pairwise(generations)
            if self.base_bookmark(following).time_ms <= cutoff_ms
        ]
        for generation in gone:
            shutil.rmtree(self._dir(generation))
        return gone

    # -- internals -------------------------------------------------------------------

    def _dir(self, generation: int) -> Path:
        return self.folder / f"{generation:08x}"

    def _commits(self, generation: int, records: list[Record]) -> Iterator[Commit]:
        with open(self._dir(generation) / "log", "rb") as log:
            for record in records:
                log.seek(record.offset + _RECORD.size)
                body = log.read(record.end - record.offset - _RECORD.size)
                step = _PAGE_NUMBER.size + record.page_size
                pages = tuple(
                    (_PAGE_NUMBER.unpack_from(body, at)[0], body[at + 4 : at + step])
                    for at in range(0, len(body), step)
                )
                yield Commit(pages, record.db_pages)


class LogWriter:
    """Appends commits to one generation's log (one writer: the object's activation)."""

    def __init__(self, path: Path | str, end: int, last: Bookmark, index: int) -> None:
        self._path = path
        self._end = end
        self._last = last
        self._index = index
        self._fd: int | None = None

    @property
    def last(self) -> Bookmark:
        """The bookmark of the last commit written (the base's when none)."""
        return self._last

    @property
    def size(self) -> int:
        """Bytes in the log so far."""
        return self._end

    def append(
        self, commits: list[Commit], page_size: int, time_ms: int, *, sync: bool = False
    ) -> None:
        """Append ``commits`` as of ``time_ms`` (rules 1-2); ``sync`` waits for the disk.

        One ``writev`` of the headers and the page images as they were read: no copy.
        """
        if not commits:
            return
        fd = self._fd
        if fd is None:
            fd = self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o644)
            os.ftruncate(fd, self._end)  # drop a record cut short by a crash (rule 1)
        time_ms = max(time_ms, self._last.time_ms)
        parts: list[bytes | memoryview] = []
        size = 0
        for commit in commits:
            self._index += 1
            head_at = len(parts)
            parts.append(b"")  # the record's header, once its CRC is known
            crc = 0
            for page, image in commit.pages:
                number = _PAGE_NUMBER.pack(page)
                crc = zlib.crc32(image, zlib.crc32(number, crc))
                parts += (number, image)
            parts[head_at] = _RECORD.pack(
                self._index,
                time_ms,
                commit.db_pages,
                page_size,
                len(commit.pages),
                crc,
                *commit.salts,
                commit.wal_end,
            )
            size += _RECORD.size + len(commit.pages) * (_PAGE_NUMBER.size + page_size)
        written = 0
        while written < size:  # writev may write less than asked, and IOV_MAX at a time
            written += os.pwritev(fd, _skip(parts, written)[:_IOV_MAX], self._end + written)
        if sync:
            os.fsync(fd)
        self._end += size
        self._last = Bookmark(time_ms, self._last.generation, self._index)

    def close(self, *, sync: bool = False) -> None:
        """Close the log file (the next append reopens it); ``sync`` writes it to disk
        first. Without it, a power loss may lose the log's tail, like the object's own
        commits with ``synchronous=NORMAL``; the next open then begins a new generation."""
        if self._fd is not None:
            if sync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


def _skip(parts: list[bytes | memoryview], done: int) -> list[bytes | memoryview]:
    """``parts`` without their first ``done`` bytes (after a short write)."""
    if not done:
        return parts
    rest: list[bytes | memoryview] = []
    for part in parts:
        if done >= len(part):
            done -= len(part)
        else:
            rest.append(memoryview(part)[done:])
            done = 0
    return rest
