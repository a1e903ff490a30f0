"""Reading committed transactions out of a SQLite write-ahead log, as page images.

Continuous backup ships what SQLite itself wrote: after each commit, the frames the
commit appended to the object's ``-wal`` file. Applied in order onto a copy of the
database file, they rebuild the database exactly as it was after any commit (see
``hub.backup.rebuild``). The format is SQLite's (https://sqlite.org/fileformat2.html,
section "The Write-Ahead Log"); this module is sans-I/O except ``WalTail``, which only
reads.

Rules:

1. A frame belongs to the log's current generation when its salts equal the header's;
   the first frame with other salts ends the valid part (it is left over from before
   the log was restarted).
2. A transaction is the run of frames up to and including a *commit frame* (one whose
   "database size" field is not zero). Frames after the last commit frame belong to a
   transaction not yet committed and are never returned.
3. Checksums are cumulative from the header. ``WalTail`` verifies them when it has no
   proof of what it read before (the first read of an activation, after a crash);
   afterwards it trusts frames the same connection just committed, because verifying
   costs ~50 µs a page in Python.
4. A restarted log (new salts in the header) is read again from its first frame.
"""

from __future__ import annotations

import os
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path
from sys import byteorder

__all__ = [
    "FRAME_HEADER",
    "HEADER",
    "Commit",
    "WalError",
    "WalHeader",
    "WalTail",
    "checksum",
    "parse_header",
    "read_commits",
]

HEADER = 32
FRAME_HEADER = 24
#: Frames ``WalTail`` reads first (doubling while they are all valid): a commit of one
#: event writes one or two.
_CHUNK_FRAMES = 2
_MAGIC = (0x377F0682, 0x377F0683)
_HEADER = struct.Struct(">8I")
_FRAME = struct.Struct(">6I")


class WalError(Exception):
    """The log is not one this module can read (bad magic, page size, checksum)."""


@dataclass(frozen=True, slots=True)
class WalHeader:
    """The 32-byte header of a write-ahead log."""

    page_size: int
    checkpoint_seq: int
    salts: tuple[int, int]
    checksum: tuple[int, int]
    #: Whether checksums read 32-bit words big-endian (magic 0x377f0683).
    big_endian: bool


@dataclass(frozen=True, slots=True)
class Commit:
    """One committed transaction: the pages it wrote and the file's size after it."""

    #: (page number, page image) in the order written; a page may appear twice, the
    #: later image wins. An image may be a view into the bytes read from the log.
    pages: tuple[tuple[int, bytes | memoryview], ...]
    #: The database's size in pages after this commit.
    db_pages: int
    #: Where the commit ends in the log, and the log's salts then (``WalTail`` fills
    #: them; a history keeps them so a crash can be resumed exactly).
    salts: tuple[int, int] = (0, 0)
    wal_end: int = 0


def checksum(data: bytes | memoryview, big_endian: bool, start: tuple[int, int]) -> tuple[int, int]:
    """SQLite's WAL checksum of ``data`` (a multiple of 8 bytes), continuing ``start``."""
    words = array("I")
    words.frombytes(data)
    if big_endian == (byteorder == "little"):
        words.byteswap()
    s0, s1 = start
    mask = 0xFFFFFFFF
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & mask
        s1 = (s1 + words[i + 1] + s0) & mask
    return s0, s1


def parse_header(data: bytes, *, verify: bool = True) -> WalHeader:
    """The header of a log; ``WalError`` when ``data`` does not start with a valid one."""
    if len(data) < HEADER:
        raise WalError("the log is shorter than its header")
    magic, version, page_size, seq, salt1, salt2, c1, c2 = _HEADER.unpack_from(data)
    if magic not in _MAGIC:
        raise WalError(f"not a write-ahead log (magic {magic:#x})")
    if version != 3007000:
        raise WalError(f"unknown write-ahead log version {version}")
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise WalError(f"bad page size {page_size}")
    big_endian = magic == _MAGIC[1]
    if verify and checksum(data[:24], big_endian, (0, 0)) != (c1, c2):
        raise WalError("the log's header checksum does not match")
    return WalHeader(page_size, seq, (salt1, salt2), (c1, c2), big_endian)


def read_commits(
    data: bytes | memoryview,
    header: WalHeader,
    *,
    verify: bool,
    state: tuple[int, int] | None = None,
    base: int = HEADER,
) -> tuple[list[Commit], int, tuple[int, int], bool]:
    """The committed transactions at the start of ``data`` (frames, no log header).

    ``state`` is the running checksum before the first frame (the header's checksum for
    the log's first frame); needed only with ``verify``. ``base`` is where ``data``
    starts in the log. Returns the commits, the number of bytes they took, the running
    checksum after the last one, and whether every whole frame in ``data`` was valid
    (False: the log's valid part ends inside ``data``).
    """
    size = FRAME_HEADER + header.page_size
    running = state if state is not None else header.checksum
    commits: list[Commit] = []
    pending: list[tuple[int, bytes | memoryview]] = []
    used = 0
    after = running
    offset = 0
    view = memoryview(data)
    valid = True
    while offset + size <= len(view):
        page, db_pages, salt1, salt2, c1, c2 = _FRAME.unpack_from(view, offset)
        if (salt1, salt2) != header.salts:
            valid = False
            break
        image = view[offset + FRAME_HEADER : offset + size]
        if verify:
            running = checksum(view[offset : offset + 8], header.big_endian, running)
            running = checksum(image, header.big_endian, running)
            if running != (c1, c2):
                valid = False
                break
        else:
            running = (c1, c2)
        pending.append((page, image))
        offset += size
        if db_pages:
            commits.append(Commit(tuple(pending), db_pages, header.salts, base + offset))
            pending = []
            used = offset
            after = running
    return commits, used, after, valid


class WalTail:
    """Follows one database's log: each ``read`` returns the commits since the last.

    Owned by the object's activation (one thread, like its connection). It keeps the
    log's file descriptor while open, its salts, and the offset after the last commit
    it returned.
    """

    def __init__(self, database: Path) -> None:
        self._path = f"{database}-wal"  # a str: made on every wake, only given to os.open
        self._fd: int | None = None
        self._header: WalHeader | None = None
        self._offset = HEADER
        self._state: tuple[int, int] | None = None

    @property
    def position(self) -> tuple[tuple[int, int], int] | None:
        """(salts, byte offset) of the log after the last commit read, if any."""
        return None if self._header is None else (self._header.salts, self._offset)

    @property
    def page_size(self) -> int:
        """The page size of the log read last (4096 before any read)."""
        return 4096 if self._header is None else self._header.page_size

    def resume(self, salts: tuple[int, int], wal_end: int) -> bool:
        """Start after a commit read by an earlier process (a crash left the log).

        True when the log still holds that commit, in the same generation, with every
        frame before it valid (checksums verified): the next ``read`` returns only the
        commits after it. False when the log is not that one any more.
        """
        if self._fd is not None or wal_end < HEADER:
            return False
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            header = parse_header(os.pread(fd, HEADER, 0))
        except WalError:
            os.close(fd)
            return False
        data = os.pread(fd, wal_end - HEADER, HEADER) if header.salts == salts else b""
        _, used, state, _ = read_commits(data, header, verify=True)
        if header.salts != salts or used != wal_end - HEADER:
            os.close(fd)
            return False
        self._fd, self._header, self._offset, self._state = fd, header, wal_end, state
        return True

    def pending(self) -> bool:
        """Whether the log may hold commits ``read`` has not returned yet.

        False only when it provably holds none: it is empty, or its salts are those of
        the last read and no frame of them starts where the next commit would. Two
        small reads, so a transaction that wrote nothing costs no flush (shipper rule 6).
        """
        if self._fd is None:
            # The first look of an activation: a woken object's log is new, and one
            # ``stat`` tells it is still empty (its constructor wrote nothing) without
            # opening it (two system calls, and a third to close it).
            try:
                if os.stat(self._path).st_size < HEADER:
                    return False
                self._fd = os.open(self._path, os.O_RDONLY)
            except FileNotFoundError:
                return False
        head = os.pread(self._fd, HEADER, 0)
        if len(head) < HEADER:
            return False  # SQLite writes the header with the log's first frame
        salts = head[16:24]
        if self._header is None or salts != _salts_bytes(self._header):
            return True  # never read, or restarted since (rule 4)
        frame = os.pread(self._fd, FRAME_HEADER, self._offset)
        return len(frame) == FRAME_HEADER and frame[8:16] == salts

    def read(self, *, verify: bool = False) -> list[Commit]:
        """Commits appended since the last call (all valid ones on the first call)."""
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDONLY)
            except FileNotFoundError:
                return []
            verify = True
        head = os.pread(self._fd, HEADER, 0)
        if len(head) < HEADER:
            return []
        if self._header is None or head[16:24] != _salts_bytes(self._header):
            self._header = parse_header(head)
            self._offset = HEADER
            self._state = self._header.checksum
            verify = True
        # The file keeps frames of earlier generations past the valid part (a restarted
        # log is overwritten from its start, not cut): read in chunks, and stop where
        # the valid frames do, not at the end of the file.
        frame = FRAME_HEADER + self._header.page_size
        chunk = _CHUNK_FRAMES * frame
        found: list[Commit] = []
        while True:
            data = os.pread(self._fd, chunk, self._offset)
            if len(data) < frame:
                break
            commits, used, self._state, valid = read_commits(
                data, self._header, verify=verify, state=self._state, base=self._offset
            )
            found += commits
            self._offset += used
            if not valid or len(data) < chunk:
                break
            chunk *= 2  # more valid frames may follow: read on, in larger steps
        return found

    def close(self) -> None:
        """Let go of the log's file descriptor."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _salts_bytes(header: WalHeader) -> bytes:
    return struct.pack(">2I", *header.salts)
