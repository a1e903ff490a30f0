"""The S3 mirror against a real S3-compatible server (moto's, on 127.0.0.1)."""

from __future__ import annotations

import sqlite3
from itertools import count
from pathlib import Path

import pytest

from hub.backup.history import History
from hub.backup.remote import Mirror, S3Store
from hub.backup.shipper import Shipper

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

_clock = count(5_000_000, 10)


def _write(path: Path, shipper: Shipper, conn: sqlite3.Connection, statement: str) -> None:
    conn.execute(statement)
    shipper.committed()


def test_a_history_pushed_in_parts_is_pulled_back_whole(endpoint: str, tmp_path: Path) -> None:
    path = tmp_path / "object.sqlite"
    history = History(tmp_path / "local" / "abc")
    shipper = Shipper(history, path, lambda: next(_clock))
    shipper.prepare()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    shipper.opened(conn)
    mirror = Mirror(S3Store("roost", "backups", endpoint_url=endpoint))
    _write(path, shipper, conn, "CREATE TABLE t (k INTEGER PRIMARY KEY, v)")
    assert mirror.push("abc", history) > 0
    for k in range(20):
        _write(path, shipper, conn, f"INSERT INTO t VALUES ({k}, 'v{k}')")
        if k % 7 == 0:
            mirror.push("abc", history)
    mirror.push("abc", history)
    assert mirror.push("abc", history) == 0  # nothing new: nothing sent
    # A new process learns what the bucket has from one listing, and sends nothing again.
    assert Mirror(S3Store("roost", "backups", endpoint_url=endpoint)).push("abc", history) == 0
    assert Mirror(S3Store("roost", "backups", endpoint_url=endpoint)).names() == ["abc"]
    pulled = History(tmp_path / "pulled" / "abc")
    mirror.pull("abc", pulled)
    assert list(pulled.bookmarks()) == list(history.bookmarks())
    latest = pulled.latest()
    assert latest is not None
    pulled.rebuild(latest, tmp_path / "restored.sqlite")
    restored = sqlite3.connect(tmp_path / "restored.sqlite")
    assert restored.execute("SELECT count(*) FROM t").fetchone()[0] == 20
    restored.close()
    shipper.closing()
    conn.close()


def test_without_boto3_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_boto3(name: str, *args: object, **kwargs: object) -> object:
        if name == "boto3":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_boto3)
    from hub.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"roost\[s3\]"):
        S3Store("roost")
