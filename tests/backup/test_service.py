"""Backups: histories per object, pushes of what changed, lag, gated waits."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from hub.backup.remote import Mirror
from hub.backup.service import Backups, BackupSettings
from hub.errors import ConfigurationError


class MemoryStore:
    """A ``Store`` in a dict, that can be made to fail."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.failing = False

    def put(self, key: str, data: bytes) -> None:
        if self.failing:
            raise OSError("the bucket is down")
        self.data[key] = data

    def get(self, key: str) -> bytes:
        return self.data[key]

    def sizes(self, prefix: str) -> dict[str, int]:
        return {k: len(v) for k, v in self.data.items() if k.startswith(prefix)}

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.data.pop(key, None)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _open(backups: Backups, tmp_path: Path, key: str) -> tuple[sqlite3.Connection, object]:
    path = tmp_path / f"{key}.sqlite"
    shipper = backups.shipper(key, path, "ROOM", "lobby")
    shipper.prepare()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    shipper.opened(conn)
    return conn, shipper


async def test_only_written_histories_are_pushed_and_lag_is_reported(tmp_path: Path) -> None:
    store, clock = MemoryStore(), Clock()
    backups = Backups(BackupSettings(), tmp_path, clock, store)
    assert backups.folder == tmp_path / "backup"
    conn, shipper = _open(backups, tmp_path, "ab" * 32)
    other, _ = _open(backups, tmp_path, "cd" * 32)
    await backups.push()  # the two new bases
    store.data.clear()
    assert backups.lag_seconds() == 0
    conn.execute("CREATE TABLE t (k)")
    shipper.committed()  # type: ignore[attr-defined]
    clock.t += 2.5
    assert backups.lag_seconds() == 2.5  # not even in the local history yet
    shipper.flush()  # type: ignore[attr-defined]  # what the loop's timer does
    clock.t += 1.0
    assert backups.lag_seconds() == 1.0  # in the local history, not yet in the bucket
    await backups.push()
    assert backups.lag_seconds() == 0
    assert {key.split("/")[0] for key in store.data} == {"ab" * 32}  # the idle one: nothing
    assert json.loads((backups.history("ab" * 32).folder / "object.json").read_text()) == {
        "binding": "ROOM",
        "name": "lobby",
    }
    assert Mirror(store).names() == ["ab" * 32]
    conn.close()
    other.close()


async def test_a_failed_push_is_retried_and_gated_writers_wait_for_it(tmp_path: Path) -> None:
    store, clock = MemoryStore(), Clock()
    backups = Backups(BackupSettings(gated=True), tmp_path, clock, store)
    key = "ef" * 32
    conn, shipper = _open(backups, tmp_path, key)
    conn.execute("CREATE TABLE t (k)")
    shipper.committed()  # type: ignore[attr-defined]
    waiter = asyncio.create_task(backups.replicated(key))
    store.failing = True
    await backups.push()
    await asyncio.sleep(0)
    assert not waiter.done()  # the replica does not have it yet
    assert backups.lag_seconds() >= 0 and key in backups._dirty
    store.failing = False
    await backups.push()
    await asyncio.wait_for(waiter, 5)
    assert any(k.startswith(f"{key}/00000001/log/") for k in store.data)
    conn.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retention_days": 0}, "retention"),
        ({"push_interval": 0}, "interval"),
        ({"s3": "http://bucket"}, "s3://"),
        ({"s3": "s3://"}, "s3://"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BackupSettings(**options)  # type: ignore[arg-type]
