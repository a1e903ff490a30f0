"""Disaster recovery and `roost restore`: kill -9 under a write load, lose the data
directory, `roost restore --all`, and count acknowledged writes that are missing."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import hub
from hub.cli import main

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    import hub

    class Ledger(hub.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS entry (k INTEGER PRIMARY KEY)")

        def add(self, k: int) -> int:
            self.ctx.storage.sql.exec("INSERT INTO entry VALUES (?)", k)
            return k

    async def run() -> None:
        data, folder, s3, endpoint, gated = sys.argv[1:6]
        settings = hub.BackupSettings(
            folder=Path(folder), s3=s3 or None, s3_endpoint=endpoint or None,
            gated=gated == "1", push_interval=0.2,
        )
        async with hub.Hub({"LEDGER": Ledger}, data_dir=data, backup=settings) as app:
            k = 0
            while True:
                for name in ("a", "b"):  # two objects, both acknowledged in turn
                    await app.env.LEDGER.get_by_name(name).add(k)
                    print(name, k, flush=True)
                k += 1

    asyncio.run(run())
    """
)

APP = textwrap.dedent(
    """
    import hub

    class Ledger(hub.DurableObject):
        def count(self) -> int:
            try:
                return self.ctx.storage.sql.exec("SELECT count(*) AS n FROM entry").one()["n"]
            except hub.SqlError:
                return 0

        def keys(self) -> list[int]:
            return [r["k"] for r in self.ctx.storage.sql.exec("SELECT k FROM entry")]

    app = hub.Hub({"LEDGER": Ledger})
    """
)


def _write_then_kill(
    tmp_path: Path, s3: str = "", endpoint: str = "", gated: bool = False
) -> dict[str, set[int]]:
    """Run the writer until both objects acknowledged 150 writes, then kill -9 it."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    args = [str(tmp_path / "data"), str(tmp_path / "backup"), s3, endpoint, "1" if gated else "0"]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    acknowledged: dict[str, set[int]] = {"a": set(), "b": set()}
    assert writer.stdout is not None
    deadline = time.monotonic() + 120
    while min(len(v) for v in acknowledged.values()) < 150 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        name, k = line.split()
        acknowledged[name].add(int(k))
    writer.send_signal(signal.SIGKILL)
    writer.wait(30)
    assert min(len(v) for v in acknowledged.values()) >= 150, "the writer did not get going"
    return acknowledged


def _keys_after_restore(tmp_path: Path, extra: list[str]) -> dict[str, set[int]]:
    assert main(["restore", "--all", "--data-dir", str(tmp_path / "data"), *extra]) == 0
    (tmp_path / "app.py").write_text(APP)
    sys.path.insert(0, str(tmp_path))
    try:
        from hub.cli import load_app

        app = load_app(str(tmp_path / "app.py"))
        app.configure(data_dir=tmp_path / "data", backup=False)

        async def read() -> dict[str, set[int]]:
            async with app:
                return {n: set(await app.env.LEDGER.get_by_name(n).keys()) for n in ("a", "b")}

        return asyncio.run(read())
    finally:
        sys.path.remove(str(tmp_path))


@pytest.mark.parametrize("gated", [False, True])
def test_kill_9_then_the_data_directory_lost_then_restore_all(tmp_path: Path, gated: bool) -> None:
    acknowledged = _write_then_kill(tmp_path, gated=gated)
    shutil.rmtree(tmp_path / "data")
    found = _keys_after_restore(tmp_path, ["--backup-dir", str(tmp_path / "backup")])
    for name in ("a", "b"):
        missing = acknowledged[name] - found[name]
        if gated:
            assert missing == set(), f"{name}: acknowledged writes lost in gated mode"
        else:
            # Only the last moment's writes may be missing (they waited to be shipped
            # with the ones after them: the reported lag); what came back is a prefix.
            assert found[name] == set(range(len(found[name]))), f"{name}: a hole"
            assert all(k > max(found[name], default=-1) for k in missing), f"{name}: not the newest"


def test_with_s3_gated_the_whole_disk_can_go(tmp_path: Path, endpoint: str) -> None:
    s3 = f"s3://roost/dr-{os.getpid()}-{time.monotonic_ns()}"
    acknowledged = _write_then_kill(tmp_path, s3, endpoint, gated=True)
    shutil.rmtree(tmp_path / "data")
    shutil.rmtree(tmp_path / "backup")  # the disk is gone: only the bucket is left
    found = _keys_after_restore(
        tmp_path,
        [
            "--backup-dir",
            str(tmp_path / "backup"),
            "--backup-s3",
            s3,
            "--backup-s3-endpoint",
            endpoint,
        ],
    )
    for name in ("a", "b"):
        assert acknowledged[name] - found[name] == set(), f"{name}: acknowledged writes lost"


class Ledger(hub.DurableObject):
    def __init__(self, ctx: hub.DurableObjectState, env: object) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS entry (k INTEGER PRIMARY KEY)")

    def add(self, k: int) -> None:
        self.ctx.storage.sql.exec("INSERT INTO entry VALUES (?)", k)

    def keys(self) -> list[int]:
        return [r["k"] for r in self.ctx.storage.sql.exec("SELECT k FROM entry ORDER BY k")]

    async def bookmark(self) -> str:
        return await self.ctx.storage.get_current_bookmark()


def test_roost_restore_one_object_to_a_time_and_undo_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"

    async def write(keys: list[int]) -> str:
        async with hub.Hub({"LEDGER": Ledger}, data_dir=data) as app:
            ledger = app.env.LEDGER.get_by_name("books")
            for k in keys:
                await ledger.add(k)
            return await ledger.bookmark()

    async def keys() -> list[int]:
        async with hub.Hub({"LEDGER": Ledger}, data_dir=data) as app:
            return await app.env.LEDGER.get_by_name("books").keys()

    asyncio.run(write([1, 2]))
    time.sleep(0.01)
    between = time.time()
    time.sleep(0.01)
    asyncio.run(write([3]))
    assert main(["restore", "LEDGER", "books", "--at", str(between), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert asyncio.run(keys()) == [1, 2]
    undo = out.split("--bookmark ")[1].split()[0]
    assert main(["restore", "LEDGER", "books", "--bookmark", undo, "--data-dir", str(data)]) == 0
    assert asyncio.run(keys()) == [1, 2, 3]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["restore", "LEDGER", "books", "--at", "yesterday"], "ISO 8601"),
        (["restore", "LEDGER", "books", "--at", "2026-12-03T04:00:00"], "time zone"),
        (["restore", "LEDGER", "books", "--bookmark", "nope"], "not a bookmark"),
        (["restore", "LEDGER", "nobody", "--at", "0"], "no backup of LEDGER"),
        (["restore", "LEDGER", "--all"], "give no BINDING NAME"),
        (["restore", "--at", "0"], "give BINDING NAME"),
    ],
)
def test_bad_restores_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    async def write() -> None:
        async with hub.Hub({"LEDGER": Ledger}, data_dir=tmp_path) as app:
            await app.env.LEDGER.get_by_name("books").add(1)

    asyncio.run(write())
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
