"""What a database object knows about itself: that it exists, its tokens, its totals.

Rules:

1. Tokens live in the database's own file (``_roost_db_tokens``: id, SHA-256, read-only
   flag, creation time), so a token can only ever open the database that issued it, and
   the check, the revocation and the delete are one object's events, in order.
2. The facts (``created``, ``deleted``, totals, last write) are rows of ``_roost_meta``,
   read without waking the object by ``read_listing`` (the admin list).
3. A deleted database keeps ``deleted`` set until its file is removed, so a request that
   slips in between is answered ``no_such_database``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.databases import tokens
from hub.errors import NoSuchDatabaseError, TokenRejectedError
from hub.storage.database import ObjectDatabase

__all__ = ["Catalog", "Grant", "read_listing"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS _roost_db_tokens (token_id TEXT PRIMARY KEY,"
    " hash TEXT NOT NULL, read_only INTEGER NOT NULL, created REAL NOT NULL)"
    " WITHOUT ROWID -- roost"
)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a checked token may do."""

    token_id: str
    read_only: bool


class Catalog:
    """The tokens and facts of one database object (inside its events)."""

    def __init__(self, db: ObjectDatabase) -> None:
        self.db = db
        #: The tokens as the file has them, read once; valid while no transaction or
        #: savepoint has rolled back since (``_read_at``), so a token minted or revoked
        #: by an event that failed, even at its commit, is never trusted from memory.
        self._tokens: dict[str, tuple[str, bool]] | None = None
        self._read_at = db.rollbacks

    @property
    def exists(self) -> bool:
        """True once created and until deleted."""
        db = self.db  # asked on every call: facts kept by the database (``fact``)
        return db.fact("db_created") is not None and db.fact("db_deleted") is None

    def require(self, name: str) -> None:
        """``NoSuchDatabaseError`` unless the database exists."""
        if not self.exists:
            raise NoSuchDatabaseError(f"no database {name[:200]!r}")

    def create(self) -> float:
        """Mark the database created now (clearing a deleted mark); its time."""
        now = time.time()
        self.db.internal(_SCHEMA)
        self.db.internal("DELETE FROM _roost_db_tokens -- roost")
        self.db.write_meta("db_deleted", None)
        self.db.write_meta("db_created", now)
        self._tokens = {}
        return now

    def mark_deleted(self) -> None:
        """Forget every token and mark the database deleted."""
        self.db.internal("DELETE FROM _roost_db_tokens -- roost")
        self.db.internal("DROP TABLE IF EXISTS _roost_migrations -- roost")
        self.db.write_meta("db_deleted", 1)
        self._tokens = {}

    # -- tokens ---------------------------------------------------------------------------

    def _loaded(self) -> dict[str, tuple[str, bool]]:
        if self._tokens is None or self._read_at != self.db.rollbacks:
            self._read_at = self.db.rollbacks
            self.db.internal(_SCHEMA)
            rows = self.db.internal(
                "SELECT token_id, hash, read_only FROM _roost_db_tokens -- roost"
            )
            self._tokens = {str(i): (str(h), bool(r)) for i, h, r in rows}
        return self._tokens

    def check(self, token: object) -> Grant:
        """The grant of ``token``; ``TokenRejectedError`` unless it is one of ours."""
        token_id = tokens.token_id_of(token)
        known = None if token_id is None else self._loaded().get(token_id)
        if known is None or not isinstance(token, str) or not tokens.matches(token, known[0]):
            raise TokenRejectedError("a valid token of this database is required")
        assert token_id is not None
        return Grant(token_id, known[1])

    def still_valid(self, token_id: object) -> bool:
        """True while the token ``token_id`` is not revoked."""
        return isinstance(token_id, str) and token_id in self._loaded()

    def add_token(self, read_only: bool) -> tokens.MintedToken:
        """Mint and store a new token."""
        minted = tokens.mint()
        self.db.internal(
            "INSERT INTO _roost_db_tokens (token_id, hash, read_only, created)"
            " VALUES (?, ?, ?, ?) -- roost",
            (minted.token_id, minted.hash, int(read_only), time.time()),
        )
        self._loaded()[minted.token_id] = (minted.hash, read_only)
        return minted

    def revoke(self, token_ids: list[str]) -> None:
        """Forget these tokens (unknown ids are ignored)."""
        for token_id in token_ids:
            self.db.internal(
                "DELETE FROM _roost_db_tokens WHERE token_id = ? -- roost", (token_id,)
            )
            self._loaded().pop(token_id, None)

    def token_ids(self) -> list[str]:
        """Ids of the tokens in force."""
        return sorted(self._loaded())

    def describe_tokens(self) -> list[dict[str, Any]]:
        """Id, read-only flag and creation time of each token in force."""
        self._loaded()
        rows = self.db.internal(
            "SELECT token_id, read_only, created FROM _roost_db_tokens ORDER BY created -- roost"
        )
        return [{"token_id": i, "read_only": bool(r), "created": c} for i, r, c in rows]


def read_listing(path: Path) -> dict[str, Any] | None:
    """``created`` and ``tokens`` of a database file, read-only without waking its object
    (None when it is not a live database)."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        meta = dict(conn.execute("SELECT key, value FROM _roost_meta").fetchall())
        if meta.get("db_created") is None or meta.get("db_deleted") is not None:
            return None
        count = conn.execute("SELECT count(*) FROM _roost_db_tokens").fetchone()[0]
        return {"created": meta["db_created"], "tokens": int(count)}
    except sqlite3.Error:
        return None
    finally:
        conn.close()
