"""Database tokens: minting, parsing and hashing (docs/databases.md, "Tokens").

Rules:

1. A token is ``rdb_<token_id>_<secret>``: ``token_id`` is 16 hex digits (public: admin
   calls name a token by it), ``secret`` 32 random bytes in base64url (256 bits).
2. Only the SHA-256 of the whole token is stored. SHA-256 is enough for a 256-bit random
   secret (nothing to brute-force, so no slow hash is needed), and hashes are compared
   with ``hmac.compare_digest``.
3. Anything that does not have the token's shape is refused before any lookup.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["PREFIX", "MintedToken", "digest", "matches", "mint", "token_id_of"]

PREFIX = "rdb_"
_TOKEN_RE = re.compile(r"rdb_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A new token (shown once) with its id and the hash that is stored."""

    token: str
    token_id: str
    hash: str


def digest(token: str) -> str:
    """The stored form of ``token``: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint() -> MintedToken:
    """A new random token."""
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return MintedToken(token, token_id, digest(token))


def token_id_of(token: object) -> str | None:
    """The id inside ``token``, or None when it does not have a token's shape."""
    if not isinstance(token, str):
        return None
    match = _TOKEN_RE.fullmatch(token)
    return match.group(1) if match else None


def matches(token: str, stored_hash: str) -> bool:
    """True when ``token`` hashes to ``stored_hash`` (constant-time comparison)."""
    return hmac.compare_digest(digest(token).encode(), stored_hash.encode())
