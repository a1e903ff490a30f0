"""The backup tests' shared parts: an object file and its history, reading them back,
and a real S3-compatible server (moto's, on 127.0.0.1)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.backup.history import History
from loadtest.s3_server import s3_server


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    """The URL of a moto S3 server with the bucket ``roost`` (credentials: test/test)."""
    with s3_server() as url:
        if url is None:
            pytest.skip("boto3 and moto are not installed")
        yield url


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, History]:
    """An object file (not made yet) and its history's folder."""
    return tmp_path / "object.sqlite", History(tmp_path / "replica" / "object")


def table_rows(path: Path, table: str = "t") -> list[tuple[object, ...]]:
    """The rows of ``table`` of the file at ``path``, by ``k``."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY k").fetchall()
    finally:
        conn.close()


def latest_rows(history: History, tmp_path: Path) -> list[tuple[object, ...]]:
    """The rows of table ``t`` in the history's latest point, rebuilt into a file."""
    latest = history.latest()
    assert latest is not None
    target = tmp_path / "check.sqlite"
    target.unlink(missing_ok=True)
    history.rebuild(latest, target)
    return table_rows(target)


def write_behind(path: Path) -> None:
    """Another writer changes the file while no shipper watches it (row 9 of ``t``)."""
    outsider = sqlite3.connect(path)
    outsider.execute("INSERT INTO t VALUES (9, 'outside')")
    outsider.commit()
    outsider.close()
