"""ctx.storage's bookmarks, as the anchor has them: random writes over time, restore
to any point, the tables equal what they were then; and undo a restore."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

import hub
from tests.conftest import MakeHub


class Ledger(hub.DurableObject):
    def __init__(self, ctx: hub.DurableObjectState, env: Any) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS entry (k INTEGER PRIMARY KEY, v TEXT)")

    async def apply(self, ops: list[list[Any]]) -> str:
        for op, k, v in ops:
            if op == "put":
                self.ctx.storage.sql.exec("INSERT OR REPLACE INTO entry VALUES (?, ?)", k, v)
            else:
                self.ctx.storage.sql.exec("DELETE FROM entry WHERE k = ?", k)
        return "ok"

    async def rows(self) -> list[list[Any]]:
        return [
            [r["k"], r["v"]] for r in self.ctx.storage.sql.exec("SELECT * FROM entry ORDER BY k")
        ]

    async def bookmark(self) -> str:
        return await self.ctx.storage.get_current_bookmark()

    async def bookmark_at(self, when: float) -> str:
        return await self.ctx.storage.get_bookmark_for_time(when)

    async def restore(self, bookmark: str) -> str:
        return await self.ctx.storage.on_next_session_restore_bookmark(bookmark)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_restore_to_random_points_gives_the_tables_of_that_point(
    make_hub: MakeHub, clock: hub.FakeClock, seed: int
) -> None:
    rng = random.Random(seed)
    app, _ = await make_hub({"LEDGER": Ledger})
    ledger = app.env.LEDGER.get_by_name("books")
    snapshots: list[tuple[float, str, list[list[Any]]]] = []
    for _ in range(40):
        clock.advance(rng.uniform(0.001, 3.0))
        ops = [
            ["put" if rng.random() < 0.7 else "del", rng.randint(0, 30), "x" * rng.randint(0, 300)]
            for _ in range(rng.randint(1, 5))
        ]
        await ledger.apply(ops)
        snapshots.append((clock.now() * 1000, await ledger.bookmark(), await ledger.rows()))
        if rng.random() < 0.2:
            await app.hibernate("LEDGER", "books")  # history continues across evictions
    bookmarks = [b for _, b, _ in snapshots]
    assert bookmarks == sorted(bookmarks)  # they sort in time order
    for when_ms, bookmark, rows in rng.sample(snapshots, 6):
        # A time between this commit and the next finds this commit.
        assert await ledger.bookmark_at(when_ms + 0.5) == bookmark
        clock.advance(1)  # a restore is a new point in time: it follows every snapshot
        await ledger.restore(bookmark)
        await app.hibernate("LEDGER", "books")
        assert await ledger.rows() == rows


async def test_a_restore_is_undone_with_the_bookmark_it_returned(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, _ = await make_hub({"LEDGER": Ledger})
    ledger = app.env.LEDGER.get_by_name("books")
    await ledger.apply([["put", 1, "one"]])
    early = await ledger.bookmark()
    clock.advance(1)
    await ledger.apply([["put", 2, "two"], ["del", 1, ""]])
    undo = await ledger.restore(early)
    await app.hibernate("LEDGER", "books")
    assert await ledger.rows() == [[1, "one"]]
    await ledger.restore(undo)
    await app.hibernate("LEDGER", "books")
    assert await ledger.rows() == [[2, "two"]]


async def test_bad_bookmarks_and_times_are_clear_errors(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, _ = await make_hub({"LEDGER": Ledger})
    ledger = app.env.LEDGER.get_by_name("books")
    other = app.env.LEDGER.get_by_name("other")
    await ledger.apply([["put", 1, "one"]])
    await other.apply([["put", 1, "one"]])
    foreign = await other.bookmark()
    with pytest.raises(hub.RpcError, match="not a bookmark"):
        await ledger.restore("../../etc/passwd")
    with pytest.raises(hub.RpcError, match="not in this object's history"):
        await ledger.restore(foreign.replace(foreign[-1], "f"))
    with pytest.raises(hub.RpcError, match="oldest point"):
        await ledger.bookmark_at(1.0)
    with pytest.raises(hub.RpcError, match="future"):
        await ledger.bookmark_at(clock.now() * 1000 + 60_000)
    assert await ledger.rows() == [[1, "one"]]  # nothing was lost


async def test_without_backups_the_calls_say_how_to_turn_them_on(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"LEDGER": Ledger}, backup=False)
    ledger = app.env.LEDGER.get_by_name("books")
    with pytest.raises(hub.RpcError, match="needs backups"):
        await ledger.bookmark()
    assert not (app.data_dir / "backup").exists()


async def test_a_datetime_finds_a_bookmark_too(make_hub: MakeHub, clock: hub.FakeClock) -> None:
    app, _ = await make_hub({"LEDGER": Ledger})
    ledger = app.env.LEDGER.get_by_name("books")
    await ledger.apply([["put", 1, "one"]])
    mark = await ledger.bookmark()
    when = datetime.fromtimestamp(clock.now(), UTC)
    assert await ledger.bookmark_at(when.timestamp() * 1000) == mark


class Alarmed(hub.DurableObject):
    async def set(self, at_ms: float) -> None:
        await self.ctx.storage.set_alarm(at_ms)

    async def drop(self) -> None:
        await self.ctx.storage.delete_alarm()

    async def bookmark(self) -> str:
        return await self.ctx.storage.get_current_bookmark()

    async def restore(self, bookmark: str) -> None:
        await self.ctx.storage.on_next_session_restore_bookmark(bookmark)
        self.ctx.abort("restoring")

    async def alarm(self, info: hub.AlarmInfo) -> None:
        pass


async def test_alarms_follow_the_restored_state(make_hub: MakeHub, clock: hub.FakeClock) -> None:
    app, _ = await make_hub({"ALARMED": Alarmed})
    obj = app.env.ALARMED.get_by_name("a")
    at = clock.now() * 1000 + 3_600_000
    await obj.set(at)
    point = await obj.bookmark()
    clock.advance(1)
    await obj.drop()
    assert app.host.scheduler.pending(obj.id) is None
    with pytest.raises(hub.RpcError, match="restoring"):
        await obj.restore(point)
    await obj.bookmark()  # the next event starts the object on the restored file
    pending = app.host.scheduler.pending(obj.id)
    assert pending is not None and pending[0] == at / 1000
