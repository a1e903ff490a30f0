"""Eviction: idle objects leave memory, keep their data, and wake on the next event."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import hub
import hub.runtime.host as host_module
from hub.storage.layout import object_path
from tests.conftest import MakeHub, within


class Counter(hub.DurableObject):
    constructed = 0

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        type(self).constructed += 1
        self.in_memory = 0

    async def increment(self) -> dict[str, int]:
        self.in_memory += 1
        stored = int(await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", stored)
        return {"stored": stored, "in_memory": self.in_memory}

    async def wait_for(self, gate: str) -> None:
        STARTED[gate].set()
        await GATES[gate].wait()


GATES: dict[str, asyncio.Event] = {}
STARTED: dict[str, asyncio.Event] = {}


async def test_an_idle_object_is_evicted_after_idle_timeout_and_wakes_with_its_data(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, recorder = await make_hub({"COUNTER": Counter}, idle_timeout=10.0)
    counter = app.env.COUNTER.get_by_name("c")
    assert await counter.increment() == {"stored": 1, "in_memory": 1}
    clock.advance(9.9)
    assert app.is_active("COUNTER", "c")
    clock.advance(0.1)
    (evicted,) = await recorder.wait("evict")
    assert evicted.detail == {"reason": "idle"}
    assert not app.is_active("COUNTER", "c")
    before = Counter.constructed
    assert await counter.increment() == {"stored": 2, "in_memory": 1}
    assert Counter.constructed == before + 1


async def test_activity_pushes_eviction_back(make_hub: MakeHub, clock: hub.FakeClock) -> None:
    app, recorder = await make_hub({"COUNTER": Counter}, idle_timeout=10.0)
    counter = app.env.COUNTER.get_by_name("c")
    await counter.increment()
    for _ in range(5):
        clock.advance(6.0)
        await counter.increment()
    assert app.is_active("COUNTER", "c")
    assert recorder.kinds("evict") == []
    clock.advance(10.0)
    await recorder.wait("evict")


async def test_a_running_event_holds_the_object_and_stats_say_why(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, recorder = await make_hub({"COUNTER": Counter}, idle_timeout=10.0)
    GATES["slow"], STARTED["slow"] = asyncio.Event(), asyncio.Event()
    counter = app.env.COUNTER.get_by_name("c")
    running = asyncio.ensure_future(counter.wait_for("slow"))
    queued = [counter.increment() for _ in range(2)]
    await within(STARTED["slow"].wait())
    clock.advance(100.0)
    stats = app.stats()
    assert stats.active == 1
    (only,) = stats.objects
    assert (only.binding, only.name, only.queued) == ("COUNTER", "c", 2)
    assert only.not_evictable == ["an event is running", "events are queued (2)"]
    assert recorder.kinds("evict") == []
    GATES["slow"].set()
    await within(running)
    await within(asyncio.gather(*queued))
    assert app.stats().objects[0].not_evictable == ["idle 0.0 s of 10.0 s"]
    clock.advance(10.0)
    await recorder.wait("evict")
    assert app.stats().active == 0


async def test_hibernate_forces_eviction_after_queued_events(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"COUNTER": Counter})
    counter = app.env.COUNTER.get_by_name("c")
    pending = [counter.increment() for _ in range(3)]
    assert await app.hibernate("COUNTER", "c") is True
    assert [r["stored"] for r in await within(asyncio.gather(*pending))] == [1, 2, 3]
    assert not app.is_active("COUNTER", "c")
    assert await app.hibernate("COUNTER", "c") is False
    assert (await counter.increment())["in_memory"] == 1


async def test_an_event_during_eviction_waits_for_the_old_instance_to_close(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"COUNTER": Counter})
    counter = app.env.COUNTER.get_by_name("c")
    await counter.increment()
    hibernating = asyncio.ensure_future(app.hibernate("COUNTER", "c"))
    await asyncio.sleep(0)
    after = await within(counter.increment())  # new activation; waits for the old one
    assert await within(hibernating) is True
    assert after == {"stored": 2, "in_memory": 1}


async def test_stats_count_evicted_objects_across_restarts(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    app, _ = await make_hub({"COUNTER": Counter}, data_dir=tmp_path / "d")
    for name in ["a", "b", "c"]:
        await app.env.COUNTER.get_by_name(name).increment()
    await app.hibernate("COUNTER", "a")
    stats = app.stats()
    assert (stats.active, stats.evicted) == (2, 1)
    assert stats.activations == 3 and stats.evictions == 1
    await app.stop()
    again, _ = await make_hub({"COUNTER": Counter}, data_dir=tmp_path / "d")
    assert (again.stats().active, again.stats().evicted) == (0, 3)


async def test_files_are_named_by_hex_id_under_the_data_dir(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    app, _ = await make_hub({"COUNTER": Counter}, data_dir=tmp_path / "d")
    hostile = "../../../../tmp/evil\x00name"
    await app.env.COUNTER.get_by_name(hostile).increment()
    files = sorted(p.relative_to(tmp_path / "d") for p in (tmp_path / "d").rglob("*.sqlite3"))
    hex_id = app.env.COUNTER.id_from_name(hostile).hex
    assert files == [__import__("pathlib").Path("objects", hex_id[:2], f"{hex_id}.sqlite3")]


async def test_stop_finishes_queued_events_then_refuses_new_ones(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"COUNTER": Counter})
    counter = app.env.COUNTER.get_by_name("c")
    pending = [counter.increment() for _ in range(3)]
    await app.stop()
    assert [r["stored"] for r in await within(asyncio.gather(*pending))] == [1, 2, 3]
    try:
        counter.increment()
    except hub.HubStoppingError as error:
        assert error.retryable
    else:
        raise AssertionError("a stopped hub took an event")


async def test_object_paths_are_kept_for_the_objects_woken_last(
    make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``path_for`` keeps the paths it made (a wake parses none), within a bound."""
    monkeypatch.setattr(host_module, "PATHS_KEPT", 2)
    app, _ = await make_hub({"COUNTER": Counter})
    ids = [app.object_id("COUNTER", f"c{k}") for k in range(3)]
    first = app.host.path_for(ids[0])
    assert app.host.path_for(ids[0]) is first
    for object_id in ids:  # the third is past the bound: the kept ones are dropped
        assert app.host.path_for(object_id) == object_path(app.host.data_dir, object_id.hex)
    again = app.host.path_for(ids[0])
    assert again == first and again is not first


async def test_an_eviction_whose_close_fails_still_closes_and_the_object_wakes_again(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    # The clean-close record cannot be written (here its path is a folder; in the field,
    # a full disk or no file descriptor left): the close must still finish, release the
    # file and let a successor open it, never leave eviction waiting forever.
    app, _ = await make_hub({"COUNTER": Counter})
    counter = app.env.COUNTER.get_by_name("c")
    assert (await counter.increment())["stored"] == 1
    key = app.object_id("COUNTER", "c").hex
    (tmp_path / "data" / "backup" / key[:2] / key / "clean").mkdir(parents=True)
    assert await within(app.hibernate("COUNTER", "c"))
    assert not app.is_active("COUNTER", "c")
    assert (await within(counter.increment()))["stored"] == 2  # woken, its data intact
    assert await within(app.hibernate("COUNTER", "c"))
