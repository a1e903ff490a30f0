from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.limits import Limits
from hub.storage.database import ObjectDatabase
from hub.storage.kv import KvStorage
from hub.storage.sql import SqlStorage


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ObjectDatabase]:
    database = ObjectDatabase(tmp_path / "objects" / "ab" / "object.sqlite3")
    yield database
    database.close()


@pytest.fixture
def sql(db: ObjectDatabase) -> SqlStorage:
    return SqlStorage(db)


@pytest.fixture
def kv(db: ObjectDatabase) -> KvStorage:
    return KvStorage(db, Limits())
