"""Input gate, implicit transaction per event, output gate, block_concurrency_while."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import hub
from tests.conftest import MakeHub, within


class Account(hub.DurableObject):
    """Every event reads, yields, then writes: interleaving would lose updates."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        self.active = 0
        self.max_active = 0

    async def deposit(self, amount: int) -> int:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        balance = await self.ctx.storage.get("balance") or 0
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        await self.ctx.storage.put("balance", balance + amount)
        self.active -= 1
        return int(balance + amount)

    async def overlap(self) -> int:
        return self.max_active

    async def balance(self) -> int:
        return int(await self.ctx.storage.get("balance") or 0)

    async def put_then_fail(self, amount: int) -> None:
        await self.ctx.storage.put("balance", amount)
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (v)")
        raise RuntimeError("after the writes")

    async def tables(self) -> list[str]:
        rows = self.ctx.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 't'")
        return [str(row["name"]) for row in rows]

    async def nested(self) -> dict[str, int]:
        storage = self.ctx.storage
        await storage.put("outer", 1)

        def inner() -> None:
            storage.kv.put("inner", 1)
            raise KeyError("undo inner")

        with pytest.raises(KeyError):
            storage.transaction_sync(inner)
        storage.transaction_sync(lambda: storage.kv.put("kept", 1))
        async with storage.transaction() as txn:
            await storage.put("explicit", 1)
            txn.rollback()
        async with storage.transaction():
            await storage.put("async_kept", 1)
        return {key: int(value) for key, value in (await storage.list()).items()}


async def test_concurrent_calls_never_interleave(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"ACCOUNT": Account})
    account = app.env.ACCOUNT.get_by_name("a")
    results = await within(asyncio.gather(*(account.deposit(1) for _ in range(100))))
    assert sorted(results) == list(range(1, 101))
    assert await account.balance() == 100
    assert await account.overlap() == 1


async def test_calls_from_many_stubs_of_one_object_share_one_instance(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"ACCOUNT": Account})
    stubs = [app.env.ACCOUNT.get_by_name("shared") for _ in range(20)]
    await within(asyncio.gather(*(stub.deposit(2) for stub in stubs)))
    assert await stubs[0].balance() == 40
    assert app.stats().active == 1


async def test_an_exception_rolls_back_kv_and_sql_writes(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"ACCOUNT": Account})
    account = app.env.ACCOUNT.get_by_name("a")
    await account.deposit(5)
    with pytest.raises(hub.RemoteError, match="RuntimeError: after the writes"):
        await account.put_then_fail(1000)
    assert await account.balance() == 5
    assert await account.tables() == []


async def test_nested_transactions_keep_or_undo_only_their_part(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"ACCOUNT": Account})
    assert await app.env.ACCOUNT.get_by_name("a").nested() == {
        "async_kept": 1,
        "kept": 1,
        "outer": 1,
    }


async def test_writes_are_committed_when_the_reply_arrives(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    import sqlite3

    app, _ = await make_hub({"ACCOUNT": Account})
    account = app.env.ACCOUNT.get_by_name("a")
    await account.deposit(7)
    # Another connection sees the write as soon as the caller has the result.
    path = app.host.path_for(account.id)
    raw = sqlite3.connect(path)
    (value,) = raw.execute("SELECT value FROM _roost_kv WHERE key = ?", (b"balance",)).fetchone()
    raw.close()
    assert value == b"7"


class Migrating(hub.DurableObject):
    """Runs a slow migration in the constructor under block_concurrency_while."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.block_concurrency_while(self._migrate)

    async def _migrate(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS items (v)")
        if self.env.FAIL_MIGRATION.get("fail"):
            raise RuntimeError("migration failed")

    async def count(self) -> int:
        return int(self.ctx.storage.sql.exec("SELECT count(*) AS n FROM items").one()["n"])

    async def gate_inside_event(self) -> str:
        order: list[str] = []

        async def slow() -> str:
            await asyncio.sleep(0)
            order.append("blocker")
            return "done"

        task = self.ctx.block_concurrency_while(slow)
        order.append("handler")
        result = await task
        return ",".join([*order, result])


async def test_block_concurrency_while_in_the_constructor_runs_before_any_event(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"MIGRATING": Migrating}, vars={"FAIL_MIGRATION": {}})
    stub = app.env.MIGRATING.get_by_name("m")
    counts = await within(asyncio.gather(*(stub.count() for _ in range(5))))
    assert counts == [0] * 5
    assert await stub.gate_inside_event() == "handler,blocker,done"


async def test_a_failing_migration_fails_activation_and_the_next_call_retries(
    make_hub: MakeHub,
) -> None:
    switch = {"fail": True}
    app, recorder = await make_hub({"MIGRATING": Migrating}, vars={"FAIL_MIGRATION": switch})
    stub = app.env.MIGRATING.get_by_name("m")
    with pytest.raises(hub.ActivationError) as caught:
        await stub.count()
    assert caught.value.code == "activation_failed"
    assert "RuntimeError: migration failed" in str(caught.value)
    await recorder.wait("evict")
    switch["fail"] = False
    assert await stub.count() == 0


class Broken(hub.DurableObject):
    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        raise LookupError("bad constructor")

    async def anything(self) -> int:
        return 1


async def test_constructor_errors_reach_every_queued_caller_and_spare_other_objects(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"BROKEN": Broken, "ACCOUNT": Account})
    broken = app.env.BROKEN.get_by_name("b")
    results = await within(
        asyncio.gather(*(broken.anything() for _ in range(3)), return_exceptions=True)
    )
    assert all(isinstance(r, hub.ActivationError) for r in results)
    assert all("LookupError: bad constructor" in str(r) for r in results)
    assert await app.env.ACCOUNT.get_by_name("a").deposit(1) == 1


async def test_a_full_queue_refuses_work_as_overloaded(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"ACCOUNT": Account}, limits=hub.Limits(max_queued_events=5))
    account = app.env.ACCOUNT.get_by_name("a")
    accepted = [account.deposit(1) for _ in range(5)]
    with pytest.raises(hub.OverloadedError) as caught:
        account.deposit(1)
    assert caught.value.overloaded and not caught.value.retryable
    await within(asyncio.gather(*accepted))
    assert await account.balance() == 5


class TodoList(hub.DurableObject):
    """Declares a feed table; its changes are captured with the writes."""

    feeds = ("todos",)

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS todos (id INTEGER PRIMARY KEY, t TEXT)")

    async def add(self, title: str, fail: bool = False) -> int:
        self.ctx.storage.sql.exec("INSERT INTO todos (t) VALUES (?)", title)
        if fail:
            raise RuntimeError("roll it back")
        return self.ctx.storage.feeds.last_seq()

    async def changes(self) -> list[tuple[int, str, str]]:
        return [(c.seq, c.op, str(c.row["t"])) for c in self.ctx.storage.feeds.since(0)]


async def test_declared_feed_tables_capture_changes_with_the_event(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"TODO": TodoList})
    todos = app.env.TODO.get_by_name("t")
    assert await todos.add("milk") == 1
    with pytest.raises(hub.RemoteError):
        await todos.add("lost", fail=True)
    await app.hibernate("TODO", "t")
    # The rolled-back write took its change (and seq 2, never seen by anyone) with it.
    assert await todos.add("bread") == 2
    assert await todos.changes() == [(1, "insert", "milk"), (2, "insert", "bread")]
