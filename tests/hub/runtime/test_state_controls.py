"""``ctx.wait_until``, ``ctx.abort`` and ``ctx.storage.sync``: the anchor's state controls,
on a real hub with real SQLite files and a fake clock."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import hub
from hub.errors import ObjectAbortedError, StorageError
from tests.conftest import MakeHub, within

#: Per-test gates the objects wait on (set up by each test).
GATES: dict[str, asyncio.Event] = {}
FINISHED: list[str] = []


def gate(name: str) -> asyncio.Event:
    GATES[name] = asyncio.Event()
    return GATES[name]


class Worker(hub.DurableObject):
    constructed = 0

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        type(self).constructed += 1
        self.generation = type(self).constructed
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (v TEXT)")

    def rows(self) -> list[str]:
        return [str(row["v"]) for row in self.ctx.storage.sql.exec("SELECT v FROM log")]

    def generation_of(self) -> int:
        return self.generation

    def write(self, value: str) -> None:
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", value)

    async def later(self, value: str) -> str:
        """Answer now; record ``value`` through an event of its own once the gate opens."""

        async def work() -> None:
            await GATES["later"].wait()
            await self.env.WORKER.get(self.ctx.id).write(value)

        self.ctx.wait_until(work())
        return "answered"

    async def remember(self, value: str) -> None:
        async def work() -> None:
            await GATES["remember"].wait()
            FINISHED.append(value)

        FINISHED.clear()
        self.ctx.wait_until(work())

    async def later_fails(self) -> None:
        async def work() -> None:
            await GATES["fail"].wait()
            raise ValueError("background work failed on purpose")

        self.ctx.wait_until(work())

    async def abort_after_write(self, value: str, catch: bool = False) -> str:
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", value)
        try:
            self.ctx.abort("restored")
        except ObjectAbortedError:
            if not catch:
                raise
        return "not reached"

    async def park(self, name: str) -> None:
        GATES[f"{name}-started"].set()
        await GATES[name].wait()

    async def abort_in_background(self) -> None:
        async def work() -> None:
            await GATES["bg"].wait()
            self.ctx.abort("from background")

        self.ctx.wait_until(work())

    async def sync_then_fail(self, first: str, second: str) -> None:
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", first)
        await self.ctx.storage.sync()
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", second)
        raise RuntimeError("after sync")

    async def sync_in_transaction(self) -> None:
        async with self.ctx.storage.transaction():
            await self.ctx.storage.sync()

    async def sync_with_nothing(self) -> str:
        await self.ctx.storage.sync()
        await self.ctx.storage.sync()
        return "ok"


def stub(app: hub.Hub, name: str = "w") -> Any:
    return app.env.WORKER.get_by_name(name)


# -- wait_until --------------------------------------------------------------------------


async def test_wait_until_work_runs_after_the_answer_and_holds_the_object_in_memory(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, recorder = await make_hub({"WORKER": Worker}, idle_timeout=10.0)
    opened = gate("later")
    assert await stub(app).later("bg") == "answered"
    (live,) = app.stats().objects
    assert "ctx.wait_until work is pending" in live.not_evictable
    clock.advance(60.0)  # far past the idle timeout: still held
    assert app.is_active("WORKER", "w")
    assert recorder.kinds("evict") == []
    opened.set()
    await within(_until(lambda: "bg" in _rows_now(app)))
    assert await stub(app).rows() == ["bg"]
    clock.advance(10.0)
    await recorder.wait("evict")


def _rows_now(app: hub.Hub) -> list[str]:
    path = app.host.path_for(app.object_id("WORKER", "w"))
    import sqlite3

    with sqlite3.connect(path) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT v FROM log")]
        except sqlite3.OperationalError:
            return []


async def _until(predicate: Any) -> None:
    while not predicate():  # noqa: ASYNC110 - a committed row has no event to wait on
        await asyncio.sleep(0.005)


async def test_a_failing_wait_until_is_logged_not_lost(
    make_hub: MakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = await make_hub({"WORKER": Worker})
    opened = gate("fail")
    caplog.set_level(logging.ERROR, logger="roost.runtime")
    await stub(app).later_fails()
    opened.set()
    await within(_until(lambda: any("wait_until work" in r.message for r in caplog.records)))
    record = next(r for r in caplog.records if "wait_until work" in r.message)
    assert record.exc_info is not None
    assert "background work failed on purpose" in str(record.exc_info[1])
    await within(_until(lambda: app.stats().objects[0].not_evictable != []))
    assert "ctx.wait_until work is pending" not in app.stats().objects[0].not_evictable


async def test_a_stopping_hub_lets_wait_until_work_finish(make_hub: MakeHub) -> None:
    app, recorder = await make_hub({"WORKER": Worker})
    opened = gate("remember")
    await stub(app).remember("done")
    stopping = asyncio.ensure_future(app.stop())
    await within(_until(lambda: bool(app.host._closing)))
    for _ in range(20):  # loop turns, not time: a cancelling stop would finish here
        await asyncio.sleep(0)
    assert recorder.kinds("evict") == []
    opened.set()
    await within(stopping)
    assert FINISHED == ["done"]


# -- abort -------------------------------------------------------------------------------


async def test_abort_fails_the_call_rolls_back_and_the_next_call_gets_a_fresh_instance(
    make_hub: MakeHub,
) -> None:
    app, recorder = await make_hub({"WORKER": Worker})
    await stub(app).write("kept")
    first = await stub(app).generation_of()
    with pytest.raises(ObjectAbortedError, match="restored") as caught:
        await stub(app).abort_after_write("lost")
    assert caught.value.code == "object_aborted" and caught.value.retryable
    evicted = await recorder.wait("evict")
    assert evicted[-1].detail == {"reason": "aborted"}
    assert await stub(app).rows() == ["kept"]
    assert await stub(app).generation_of() > first


async def test_abort_rolls_back_even_when_the_handler_catches_it(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"WORKER": Worker})
    with pytest.raises(ObjectAbortedError):
        await stub(app).abort_after_write("lost", True)
    assert await stub(app).rows() == []


async def test_events_queued_behind_an_abort_run_in_order_on_a_fresh_instance(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"WORKER": Worker})
    GATES["p-started"] = asyncio.Event()
    held = gate("p")
    w = stub(app)
    parked = asyncio.ensure_future(w.park("p"))
    await within(GATES["p-started"].wait())
    aborting = w.abort_after_write("lost")
    queued = [w.write("a"), w.write("b"), w.generation_of(), w.rows()]
    held.set()
    await parked
    with pytest.raises(ObjectAbortedError):
        await aborting
    results = await within(asyncio.gather(*queued))
    assert results[3] == ["a", "b"]
    generation = results[2]
    assert generation == Worker.constructed  # the newest instance ran them


async def test_abort_from_wait_until_work_resets_the_object(make_hub: MakeHub) -> None:
    app, recorder = await make_hub({"WORKER": Worker})
    opened = gate("bg")
    w = stub(app)
    await w.abort_in_background()
    before = await w.generation_of()
    opened.set()
    evicted = await recorder.wait("evict")
    assert evicted[-1].detail == {"reason": "aborted"}
    assert await w.generation_of() > before


async def test_calls_refused_while_aborting_do_not_hang(make_hub: MakeHub) -> None:
    """A call made by an aborted handler's own code after the abort still fails
    cleanly: a new transaction on the dropped instance is refused."""
    app, _ = await make_hub({"WORKER": Worker})
    await stub(app).write("x")
    activation = app.host._activations[app.object_id("WORKER", "w").hex]
    error = activation.abort("manual")
    assert isinstance(error, ObjectAbortedError)
    with pytest.raises(ObjectAbortedError):
        await activation.transact(_noop, ())
    assert await within(stub(app).rows()) == ["x"]


async def _noop() -> None:
    return None


# -- sync --------------------------------------------------------------------------------


async def test_sync_commits_the_writes_so_far_and_a_later_failure_rolls_back_only_the_rest(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"WORKER": Worker})
    with pytest.raises(hub.RemoteError, match="after sync"):
        await stub(app).sync_then_fail("durable", "lost")
    assert _rows_now(app) == ["durable"]  # read by another connection: committed
    assert await stub(app).rows() == ["durable"]


async def test_sync_inside_a_nested_transaction_is_refused(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"WORKER": Worker})
    with pytest.raises(hub.RemoteError) as caught:
        await stub(app).sync_in_transaction()
    assert caught.value.type_name == StorageError.__name__
    assert "transaction" in str(caught.value)


async def test_sync_with_nothing_written_is_a_no_op(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"WORKER": Worker})
    assert await stub(app).sync_with_nothing() == "ok"
    assert await stub(app).rows() == []


async def test_the_host_resets_a_live_object_from_outside_and_waits_for_its_file(
    make_hub: MakeHub,
) -> None:
    app, recorder = await make_hub({"WORKER": Worker})
    w = stub(app)
    await w.write("kept")
    first = await w.generation_of()
    object_id = app.object_id("WORKER", "w")
    assert await app.host.reset(object_id, "restore") is True
    assert not app.is_active("WORKER", "w")
    assert recorder.kinds("evict")[-1].detail == {"reason": "aborted"}
    assert await app.host.reset(object_id) is False  # not live: nothing to reset
    assert await w.rows() == ["kept"]
    assert await w.generation_of() > first
