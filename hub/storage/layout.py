"""What an object's file is: where it lives, how it is recognised, the hub's tables in it.

Rules:

1. Names are data, never paths (DESIGN.md): an object's file is named by its 64-hex id
   (``object_path``), so no name can reach a file outside the data directory.
2. A file is Roost's when its header carries ``APPLICATION_ID``; its hub schema is
   ``SCHEMA`` brought to ``SCHEMA_VERSION`` by ``MIGRATIONS``, the version kept in the
   meta table (``ObjectDatabase._migrate``).
3. Tables, indexes and triggers named ``RESERVED_PREFIX*`` are the hub's: the object's
   own SQL may not touch them (``ObjectDatabase``'s authorizer).
"""

from __future__ import annotations

import re
from pathlib import Path

from hub.errors import InvalidIdError
from hub.storage.peek import PeekError, peek

__all__ = [
    "APPLICATION_ID",
    "APPLICATION_ID_BYTES",
    "MIGRATIONS",
    "OPENING_FACTS",
    "RESERVED_PREFIX",
    "SCHEMA",
    "SCHEMA_VERSION",
    "WAL_MODE",
    "file_feed_seq",
    "object_path",
]

#: Marks the file as a Roost object database ("ROOS" as a big-endian int).
APPLICATION_ID = 0x524F4F53
#: The header's application id, and its read / write versions in WAL mode (2, 2):
#: https://sqlite.org/fileformat2.html#the_database_header (offsets 68 and 18).
APPLICATION_ID_BYTES = APPLICATION_ID.to_bytes(4, "big")
WAL_MODE = b"\x02\x02"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS _roost_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _roost_kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)"
    " WITHOUT ROWID",
)
#: Statements that bring a file from schema version N-1 to N (version 1 is ``SCHEMA``).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "CREATE TABLE IF NOT EXISTS _roost_sessions (session TEXT PRIMARY KEY,"
        " last_id INTEGER NOT NULL, updated_at REAL NOT NULL) WITHOUT ROWID",
    ),
    3: (
        "CREATE TABLE IF NOT EXISTS _roost_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " tbl TEXT NOT NULL, op TEXT NOT NULL, pk TEXT NOT NULL, row TEXT NOT NULL,"
        " at REAL NOT NULL)",
        "CREATE TABLE IF NOT EXISTS _roost_feeds (tbl TEXT PRIMARY KEY, columns TEXT NOT NULL)"
        " WITHOUT ROWID",
    ),
    # An update's row as it was, so a filtered subscriber sees a row leave its filter.
    4: ("ALTER TABLE _roost_changes ADD COLUMN old TEXT",),
}
SCHEMA_VERSION = max(MIGRATIONS)
RESERVED_PREFIX = "_roost_"
#: The meta rows, then the change log's newest seq as a row with no key (``ObjectDatabase._setup``).
OPENING_FACTS = (
    "SELECT key, value FROM _roost_meta UNION ALL"
    " SELECT NULL, seq FROM sqlite_sequence WHERE name = '_roost_changes' -- roost"
)
HEX_ID = re.compile(r"[0-9a-f]{64}")


def file_feed_seq(path: Path) -> int:
    """The newest change-log seq of the file at ``path`` (0: none, or unreadable)."""
    try:
        facts = peek(path)
    except PeekError:
        return 0
    return 0 if facts is None else facts.last_seq


def object_path(data_dir: Path, key: str) -> Path:
    """The file of the object whose hex id is ``key``: named by its id, never its name
    (``InvalidIdError`` for anything but 64 hex digits)."""
    if not HEX_ID.fullmatch(key):
        raise InvalidIdError(f"malformed object id: {key[:80]!r}")
    return Path(f"{data_dir}/objects/{key[:2]}/{key}.sqlite3")  # one parse, not three joins
