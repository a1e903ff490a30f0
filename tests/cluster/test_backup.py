"""Backups with `roost serve --workers 2`: every worker ships its objects' commits, a
history goes on across `roost reload`, and a restore (with ctx.abort) works in a worker."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import orjson

from tests.cluster.conftest import StartCluster

LEDGER = textwrap.dedent(
    """
    import hub


    class Ledger(hub.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS entry (k INTEGER PRIMARY KEY)")

        def add(self, k: int) -> str:
            self.ctx.storage.sql.exec("INSERT INTO entry VALUES (?)", k)
            return "ok"

        def keys(self) -> list:
            return [r["k"] for r in self.ctx.storage.sql.exec("SELECT k FROM entry ORDER BY k")]

        async def bookmark(self) -> str:
            return await self.ctx.storage.get_current_bookmark()

        async def restore(self, bookmark: str) -> str:
            await self.ctx.storage.on_next_session_restore_bookmark(bookmark)
            self.ctx.abort("restoring")
            return "unreachable"


    app = hub.Hub({"LEDGER": Ledger})
    """
)


async def call(url: str, name: str, method: str, *args: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{url}/objects/ledger/{name}/rpc/{method}", content=orjson.dumps({"args": list(args)})
        )


async def result(url: str, name: str, method: str, *args: object) -> object:
    answer = await call(url, name, method, *args)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


async def test_workers_back_up_across_a_reload_and_restore_in_place(
    cluster: StartCluster, tmp_path: Path
) -> None:
    app = tmp_path / "ledger.py"
    app.write_text(LEDGER)
    running = await cluster(2, 1, target=str(app))
    names = [f"book-{n}" for n in range(6)]  # spread over both workers
    for name in names:
        await result(running.url, name, "add", 1)
    marks = {name: await result(running.url, name, "bookmark") for name in names}
    await running.reload()
    for name in names:
        await result(running.url, name, "add", 2)
    for name in names:
        aborted = await call(running.url, name, "restore", marks[name])
        assert aborted.status_code == 503 and aborted.json()["error"]["code"] == "object_aborted"
        assert await result(running.url, name, "keys") == [1]
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{running.url}/_roost/metrics")).text
    assert "roost_backup_lag_seconds 0" in metrics.splitlines()
    histories = list((running.data_dir / "backup").glob("*/*/object.json"))
    assert len(histories) == len(names)
