"""``ctx.storage.kv``: the key-value API, stored in the object's own SQLite file.

Values follow ``hub.jsonvalues``: JSON types round-trip exactly; a ``tuple`` comes back
as a ``list``; ``datetime``, dataclasses, ``bytes`` and other objects are refused with
``NotSerializableError``. Keys are strings ordered by their UTF-8 bytes, as in the
anchor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

import orjson

from hub.errors import StorageError
from hub.jsonvalues import encode_value
from hub.limits import Limits, check_size
from hub.storage.database import ObjectDatabase

__all__ = ["KvStorage"]


class KvStorage:
    """Synchronous key-value storage; ``ctx.storage`` has the same calls as coroutines."""

    __slots__ = ("_db", "_limits")

    def __init__(self, db: ObjectDatabase, limits: Limits) -> None:
        self._db = db
        self._limits = limits

    @overload
    def get(self, key: str) -> Any: ...
    @overload
    def get(self, key: Sequence[str]) -> dict[str, Any]: ...
    def get(self, key: str | Sequence[str]) -> Any:
        """The value of ``key`` (None when absent), or a dict of the keys found."""
        if isinstance(key, str):
            row = self._db.internal(
                "SELECT value FROM _roost_kv WHERE key = ? -- roost", (self._key(key),)
            ).fetchone()
            return None if row is None else orjson.loads(row[0])
        keys = self._batch(key)
        found: dict[str, Any] = {}
        for name in keys:
            row = self._db.internal(
                "SELECT value FROM _roost_kv WHERE key = ? -- roost", (self._key(name),)
            ).fetchone()
            if row is not None:
                found[name] = orjson.loads(row[0])
        return found

    @overload
    def put(self, key: str, value: Any) -> None: ...
    @overload
    def put(self, key: Mapping[str, Any]) -> None: ...
    def put(self, key: str | Mapping[str, Any], value: Any = None) -> None:
        """Store ``value`` under ``key``, or every entry of a mapping."""
        entries = {key: value} if isinstance(key, str) else key
        if not isinstance(entries, Mapping):
            raise StorageError(f"put expects a str key or a mapping, got {type(key).__name__}")
        self._batch(list(entries))
        rows = [(self._key(name), self._encode(name, item)) for name, item in entries.items()]
        self._db.internal_many(
            "INSERT INTO _roost_kv (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value -- roost",
            rows,
        )

    @overload
    def delete(self, key: str) -> bool: ...
    @overload
    def delete(self, key: Sequence[str]) -> int: ...
    def delete(self, key: str | Sequence[str]) -> bool | int:
        """Delete ``key`` (True if it existed) or several keys (how many existed)."""
        if isinstance(key, str):
            cursor = self._db.internal(
                "DELETE FROM _roost_kv WHERE key = ? -- roost", (self._key(key),)
            )
            return cursor.rowcount > 0
        deleted = 0
        for name in self._batch(key):
            cursor = self._db.internal(
                "DELETE FROM _roost_kv WHERE key = ? -- roost", (self._key(name),)
            )
            deleted += cursor.rowcount
        return deleted

    def list(
        self,
        *,
        start: str | None = None,
        start_after: str | None = None,
        end: str | None = None,
        prefix: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Entries in key order: ``start`` inclusive or ``start_after`` exclusive,
        ``end`` exclusive, only keys beginning with ``prefix``, at most ``limit``."""
        if start is not None and start_after is not None:
            raise StorageError("list takes start or start_after, not both")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise StorageError(f"limit must be a positive int, got {limit!r}")
        clauses: list[str] = []
        params: list[bytes | int] = []
        for op, bound in ((">=", start), (">", start_after), ("<", end)):
            if bound is not None:
                clauses.append(f"key {op} ?")
                params.append(self._key(bound))
        if prefix is not None:
            low = self._key(prefix)
            clauses.append("key >= ?")
            params.append(low)
            high = _successor(low)
            if high is not None:
                clauses.append("key < ?")
                params.append(high)
        query = "SELECT key, value FROM _roost_kv"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY key DESC" if reverse else " ORDER BY key"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        rows = self._db.internal(query + " -- roost", tuple(params)).fetchall()
        return {
            bytes(name).decode("utf-8", "surrogatepass"): orjson.loads(value)
            for name, value in rows
        }

    def delete_everything(self) -> None:
        """Remove every key (part of ``delete_all``)."""
        self._db.internal("DELETE FROM _roost_kv -- roost")

    def _key(self, key: object) -> bytes:
        if not isinstance(key, str):
            raise StorageError(f"keys must be str, got {type(key).__name__}")
        encoded = key.encode("utf-8", "surrogatepass")
        check_size("key", len(encoded), self._limits.kv_key_bytes)
        return encoded

    def _batch(self, keys: Sequence[str]) -> Sequence[str]:
        if isinstance(keys, str | bytes) or not isinstance(keys, Sequence | Mapping):
            raise StorageError(f"expected a list of keys, got {type(keys).__name__}")
        check_size("batch", len(keys), self._limits.kv_batch_keys, unit="keys")
        return keys

    def _encode(self, key: str, value: Any) -> bytes:
        return encode_value(value, f"value for key {key!r}", self._limits.kv_value_bytes)


def _successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string that starts with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
