"""Migrations: numbered SQL applied once each, in order, recorded with a checksum.

Rules:

1. ``_roost_migrations`` records every applied migration's name, the SHA-256 of its
   SQL and when it ran; a recorded migration is skipped, and one whose SQL changed since
   is refused (``MigrationError``, code ``migration_conflict``, naming it): the database
   would no longer match its files.
2. A migration's statements run as the object's own SQL (the authorizer applies: no
   ``_roost_*`` names, no transaction control) in one savepoint with its record: a
   failing statement undoes the whole migration (``QueryError`` naming it).
3. ``hub.migrate(storage, dir)`` reads ``NNNN_name.sql`` files (any number of digits,
   sorted by number; other files ignored; two files with one number refused).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from pathlib import Path

from hub.databases.statements import run_statement
from hub.errors import ConfigurationError, MigrationError, QueryError, SqlError
from hub.storage.database import ObjectDatabase
from hub.storage.script import split_statements as _split_statements
from hub.storage.storage import Storage

__all__ = ["apply_migrations", "migrate", "migration_files"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS _roost_migrations (name TEXT PRIMARY KEY,"
    " checksum TEXT NOT NULL, applied_at REAL NOT NULL) WITHOUT ROWID -- roost"
)
_FILE_RE = re.compile(r"(\d+)_[^/]*\.sql")


def checksum(sql: str) -> str:
    """The recorded form of a migration's SQL."""
    return hashlib.sha256(sql.encode()).hexdigest()


def apply_migrations(
    db: ObjectDatabase, migrations: Sequence[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """Apply each ``(name, sql)`` not applied yet, in order: ``(applied, skipped)``."""
    db.internal(_SCHEMA)
    recorded = dict(db.internal("SELECT name, checksum FROM _roost_migrations -- roost"))
    seen: set[str] = set()
    for name, sql in migrations:
        if not name or len(name) > 200:
            raise QueryError(f"a migration name has 1 to 200 characters, got {name[:40]!r}")
        if name in seen:
            raise QueryError(f"migration {name!r} is given twice")
        seen.add(name)
        stored = recorded.get(name)
        if stored is not None and stored != checksum(sql):
            raise MigrationError(
                f"migration {name!r} was applied with different SQL: restore it and add"
                " a new migration instead"
            )
    applied, skipped = [], []
    for name, sql in migrations:
        if name in recorded:
            skipped.append(name)
            continue
        with db.savepoint():
            _run(db, name, sql)
            db.internal(
                "INSERT INTO _roost_migrations (name, checksum, applied_at) VALUES (?, ?, ?)"
                " -- roost",
                (name, checksum(sql), time.time()),
            )
        applied.append(name)
    return applied, skipped


def _run(db: ObjectDatabase, name: str, sql: str) -> None:
    for statement in _split_statements(sql):
        try:
            run_statement(db, statement)
        except SqlError as exc:
            raise QueryError(f"migration {name!r} failed: {exc}") from exc


def migration_files(directory: str | Path) -> list[tuple[str, str]]:
    """``(file name, SQL)`` of the numbered ``.sql`` files of ``directory``, in order."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ConfigurationError(f"no migrations directory {str(folder)!r}")
    numbered: dict[int, Path] = {}
    for path in folder.iterdir():
        match = _FILE_RE.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        number = int(match.group(1))
        if number in numbered:
            raise ConfigurationError(
                f"two migrations numbered {number}: {numbered[number].name!r} and {path.name!r}"
            )
        numbered[number] = path
    return [(numbered[n].name, numbered[n].read_text("utf-8")) for n in sorted(numbered)]


async def migrate(storage: Storage, directory: str | Path) -> list[str]:
    """Apply the numbered ``.sql`` files of ``directory`` not applied yet to an object's
    storage, in order, each once; the names applied now.

    Use it in a constructor: ``ctx.block_concurrency_while(lambda: hub.migrate(
    ctx.storage, "migrations/"))``. An applied file whose SQL changed raises
    ``hub.MigrationError`` naming it; a failing file raises ``QueryError`` and none of
    its statements stay.
    """
    applied, _ = apply_migrations(storage.database, migration_files(directory))
    return applied
