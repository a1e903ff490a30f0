"""Kill -9 a hub in the middle of a write load: every acknowledged write survives."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import hub
from tests.conftest import TIMEOUT, within

ROOT = Path(__file__).resolve().parents[2]
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    import hub

    class Ledger(hub.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec(
                "CREATE TABLE IF NOT EXISTS entries (n INTEGER PRIMARY KEY, body TEXT)"
            )

        async def write(self, n: int) -> int:
            self.ctx.storage.sql.exec("INSERT INTO entries VALUES (?, ?)", n, "x" * 200)
            await self.ctx.storage.put(f"n:{n:08d}", n)
            return n

    async def main() -> None:
        data_dir, durability = sys.argv[1], sys.argv[2]
        async with hub.Hub({"LEDGER": Ledger}, data_dir=data_dir, durability=durability) as app:
            stubs = [app.env.LEDGER.get_by_name(f"ledger-{i}") for i in range(4)]
            n = 0
            while True:
                batch = [stubs[(n + i) % 4].write(n + i) for i in range(8)]
                for done in await asyncio.gather(*batch):
                    # An acknowledgement: the write's event committed.
                    sys.stdout.write(f"{done}\\n")
                sys.stdout.flush()
                n += 8

    asyncio.run(main())
    """
)


class Ledger(hub.DurableObject):
    async def entries(self) -> list[int]:
        rows = self.ctx.storage.sql.exec("SELECT n FROM entries ORDER BY n").raw()
        return [int(row[0]) for row in rows]  # type: ignore[arg-type]

    async def keys(self) -> list[int]:
        return [int(value) for value in (await self.ctx.storage.list(prefix="n:")).values()]


async def _kill_mid_load(tmp_path: Path, durability: str) -> set[int]:
    data_dir = tmp_path / "data"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(data_dir),
        durability,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    acknowledged: set[int] = set()
    try:
        while len(acknowledged) < 400:
            line = await within(process.stdout.readline())
            if not line:
                stderr = await process.stderr.read() if process.stderr else b""
                raise AssertionError(f"writer died early: {stderr.decode()[-2000:]}")
            acknowledged.add(int(line))
    finally:
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), TIMEOUT)
    assert process.returncode == -signal.SIGKILL
    return acknowledged


async def _stored(tmp_path: Path) -> tuple[set[int], set[int]]:
    async with hub.Hub({"LEDGER": Ledger}, data_dir=tmp_path / "data") as app:
        rows: set[int] = set()
        keys: set[int] = set()
        for i in range(4):
            ledger = app.env.LEDGER.get_by_name(f"ledger-{i}")
            rows |= set(await ledger.entries())
            keys |= set(await ledger.keys())
    return rows, keys


async def test_sigkill_mid_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    acknowledged = await _kill_mid_load(tmp_path, "normal")
    rows, keys = await _stored(tmp_path)
    assert acknowledged <= rows
    assert rows == keys  # SQL and KV writes of one event committed together


async def test_sigkill_with_full_durability_loses_no_acknowledged_write(tmp_path: Path) -> None:
    acknowledged = await _kill_mid_load(tmp_path, "full")
    rows, keys = await _stored(tmp_path)
    assert acknowledged <= rows
    assert rows == keys
