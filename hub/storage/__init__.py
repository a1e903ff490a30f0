"""Per-object SQLite storage and the hub-wide registry.

``database`` owns one object's connection and transactions; ``sql`` and ``kv`` are the
object's two ways in; ``storage`` is ``ctx.storage``; ``registry`` is ``hub.db``.
"""

from hub.storage.database import Durability, ObjectDatabase, SqlValue
from hub.storage.kv import KvStorage
from hub.storage.registry import Registry
from hub.storage.sql import Row, SqlCursor, SqlStorage
from hub.storage.storage import Storage, Transaction

__all__ = [
    "Durability",
    "KvStorage",
    "ObjectDatabase",
    "Registry",
    "Row",
    "SqlCursor",
    "SqlStorage",
    "SqlValue",
    "Storage",
    "Transaction",
]
