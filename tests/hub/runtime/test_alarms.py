"""Alarms: one per object, at least once, retried with backoff, across eviction and restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hub
from tests.conftest import MakeHub, within

NO_JITTER = hub.RetryPolicy(jitter=0.0)
FAILURES: dict[str, int] = {}


class Timer(hub.DurableObject):
    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS fired (retry INTEGER, is_retry INTEGER, scheduled INTEGER,"
            " name TEXT, alarm_inside INTEGER)"
        )

    async def arm(
        self, when: datetime | int, fail_times: int = 0, then_every: float = 0
    ) -> int | None:
        # Kept in memory on purpose: a failing alarm() rolls back its own writes.
        FAILURES[self.ctx.id.hex] = fail_times
        await self.ctx.storage.put("then_every", then_every)
        await self.ctx.storage.set_alarm(when)
        return await self.ctx.storage.get_alarm()

    async def arm_then_fail(self, when: float) -> None:
        await self.ctx.storage.set_alarm(when)
        raise RuntimeError("rolls the alarm back")

    async def cancel(self) -> None:
        await self.ctx.storage.delete_alarm()

    async def pending(self) -> int | None:
        return await self.ctx.storage.get_alarm()

    async def fired(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.ctx.storage.sql.exec("SELECT * FROM fired")]

    async def wipe(self) -> dict[str, Any]:
        await self.ctx.storage.delete_all()
        tables = self.ctx.storage.sql.exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_roost%'"
            " ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).to_array()
        return {"tables": tables, "kv": await self.ctx.storage.list()}

    async def alarm(self, info: hub.AlarmInfo) -> None:
        inside = await self.ctx.storage.get_alarm()
        self.ctx.storage.sql.exec(
            "INSERT INTO fired VALUES (?, ?, ?, ?, ?)",
            info.retry_count,
            info.is_retry,
            info.scheduled_time,
            self.ctx.id.name,
            inside,
        )
        if FAILURES.get(self.ctx.id.hex, 0) > 0:
            FAILURES[self.ctx.id.hex] -= 1
            raise RuntimeError("alarm handler failed")
        every = float(await self.ctx.storage.get("then_every") or 0)
        if every:
            await self.ctx.storage.set_alarm(info.scheduled_time + every * 1000)


class NoAlarm(hub.DurableObject):
    async def arm(self) -> None:
        await self.ctx.storage.set_alarm(0)


def ms(clock: hub.FakeClock, seconds: float = 0.0) -> int:
    return round((clock.now() + seconds) * 1000)


async def test_an_alarm_fires_once_at_its_time(make_hub: MakeHub, clock: hub.FakeClock) -> None:
    app, recorder = await make_hub({"TIMER": Timer})
    timer = app.env.TIMER.get_by_name("t")
    at = ms(clock, 5)
    assert await timer.arm(at) == at
    clock.advance(4.999)
    assert recorder.kinds("alarm") == []
    clock.advance(0.001)
    await recorder.wait("alarm")
    assert await timer.fired() == [
        {"retry": 0, "is_retry": 0, "scheduled": at, "name": "t", "alarm_inside": None}
    ]
    assert await timer.pending() is None
    clock.advance(100)
    assert len(await timer.fired()) == 1


async def test_a_past_time_fires_at_once_and_datetimes_are_accepted(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, recorder = await make_hub({"TIMER": Timer})
    past = datetime.fromtimestamp(clock.now(), UTC) - timedelta(hours=1)
    await app.env.TIMER.get_by_name("t").arm(past)
    clock.advance(0)
    await recorder.wait("alarm")


async def test_naive_datetimes_and_non_times_are_refused(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"TIMER": Timer})
    timer = app.env.TIMER.get_by_name("t")
    with pytest.raises(hub.RemoteError, match="must be timezone-aware"):
        await timer.arm(datetime(2030, 1, 1))
    with pytest.raises(hub.InvalidArgumentsError):
        await timer.arm("tomorrow")
    assert await timer.pending() is None


async def test_set_alarm_needs_an_alarm_handler(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"NO_ALARM": NoAlarm})
    with pytest.raises(hub.RemoteError, match="needs an alarm\\(self, info\\) method"):
        await app.env.NO_ALARM.get_by_name("x").arm()


async def test_delete_alarm_and_rollback_cancel_it(make_hub: MakeHub, clock: hub.FakeClock) -> None:
    app, recorder = await make_hub({"TIMER": Timer})
    timer = app.env.TIMER.get_by_name("t")
    await timer.arm(ms(clock, 5))
    await timer.cancel()
    with pytest.raises(hub.RemoteError):
        await timer.arm_then_fail(ms(clock, 5))
    assert await timer.pending() is None
    clock.advance(60)
    assert app.stats().alarms_scheduled == 0
    assert recorder.kinds("alarm") == []


async def test_setting_again_replaces_the_alarm(make_hub: MakeHub, clock: hub.FakeClock) -> None:
    app, recorder = await make_hub({"TIMER": Timer})
    timer = app.env.TIMER.get_by_name("t")
    await timer.arm(ms(clock, 5))
    later = ms(clock, 50)
    await timer.arm(later)
    clock.advance(10)
    assert recorder.kinds("alarm") == []
    clock.advance(40)
    await recorder.wait("alarm")
    assert [row["scheduled"] for row in await timer.fired()] == [later]


async def test_alarms_wake_evicted_objects(make_hub: MakeHub, clock: hub.FakeClock) -> None:
    app, recorder = await make_hub({"TIMER": Timer}, idle_timeout=1.0)
    timer = app.env.TIMER.get_by_name("sleepy")
    await timer.arm(ms(clock, 30))
    clock.advance(1)
    await recorder.wait("evict")
    assert not app.is_active("TIMER", "sleepy")
    clock.advance(29)
    await recorder.wait("alarm")
    assert [row["name"] for row in await timer.fired()] == ["sleepy"]


async def test_a_failing_alarm_is_retried_with_backoff_and_counts(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, recorder = await make_hub({"TIMER": Timer}, alarm_retry=NO_JITTER, idle_timeout=1.0)
    timer = app.env.TIMER.get_by_name("t")
    at = ms(clock, 1)
    await timer.arm(at, fail_times=2)
    clock.advance(1)
    await recorder.wait("alarm_retry")
    clock.advance(1.999)
    assert len(recorder.kinds("alarm")) == 1
    clock.advance(0.001)  # first retry after 2 s (the object was evicted meanwhile)
    await recorder.wait("alarm_retry", 2)
    assert [e.detail["delay"] for e in recorder.kinds("alarm_retry")] == [2.0, 4.0]
    clock.advance(4)
    await recorder.wait("alarm", 3)
    rows = await timer.fired()
    # Each failed attempt's row rolled back with it; the one that succeeded remains.
    assert rows == [{"retry": 2, "is_retry": 1, "scheduled": at, "name": "t", "alarm_inside": None}]
    assert await timer.pending() is None


async def test_an_alarm_that_always_fails_is_dropped_after_max_retries(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    policy = hub.RetryPolicy(max_retries=2, base_delay=1.0, jitter=0.0)
    app, recorder = await make_hub({"TIMER": Timer}, alarm_retry=policy)
    timer = app.env.TIMER.get_by_name("t")
    await timer.arm(ms(clock), fail_times=100)
    clock.advance(0)
    await recorder.wait("alarm_retry")
    clock.advance(1)
    await recorder.wait("alarm_retry", 2)
    clock.advance(2)
    (dropped,) = await recorder.wait("alarm_dropped")
    assert dropped.detail == {"retries": 2}
    assert await timer.pending() is None
    assert app.stats().alarms_scheduled == 0


async def test_an_alarm_handler_can_set_the_next_alarm(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, recorder = await make_hub({"TIMER": Timer})
    timer = app.env.TIMER.get_by_name("t")
    await timer.arm(ms(clock, 10), then_every=10)
    for count in range(1, 4):
        clock.advance(10)
        await recorder.wait("alarm", count)
    assert len(await timer.fired()) == 3
    assert await timer.pending() == ms(clock, 10)


async def test_alarms_fire_after_a_hub_restart(
    make_hub: MakeHub, clock: hub.FakeClock, tmp_path: Path
) -> None:
    first, _ = await make_hub({"TIMER": Timer}, data_dir=tmp_path / "d")
    await first.env.TIMER.get_by_name("t").arm(ms(clock, 60))
    await first.stop()
    second, recorder = await make_hub({"TIMER": Timer}, data_dir=tmp_path / "d")
    assert second.stats().alarms_scheduled == 1
    clock.advance(60)
    await recorder.wait("alarm")
    assert len(await second.env.TIMER.get_by_name("t").fired()) == 1


async def test_an_early_index_entry_left_by_a_crash_is_corrected_not_run(
    make_hub: MakeHub, clock: hub.FakeClock, tmp_path
) -> None:
    first, _ = await make_hub({"TIMER": Timer}, data_dir=tmp_path / "d")
    timer_id = first.env.TIMER.id_from_name("t")
    at = ms(clock, 100)
    await first.env.TIMER.get(timer_id).arm(at)
    # As if the hub died between writing an earlier hint and committing a later time.
    await first.host.registry.set_alarm("TIMER", timer_id.hex, clock.now() + 5)
    await first.stop()
    second, recorder = await make_hub({"TIMER": Timer}, data_dir=tmp_path / "d")
    clock.advance(5)
    await recorder.wait("activate")
    timer = second.env.TIMER.get(timer_id)
    assert await timer.fired() == []
    assert await timer.pending() == at
    clock.advance(95)
    await recorder.wait("alarm")
    assert [row["scheduled"] for row in await timer.fired()] == [at]


async def test_delete_all_removes_tables_keys_and_the_alarm(
    make_hub: MakeHub, clock: hub.FakeClock
) -> None:
    app, recorder = await make_hub({"TIMER": Timer})
    timer = app.env.TIMER.get_by_name("t")
    await timer.arm(ms(clock, 5), fail_times=1)
    assert await within(timer.wipe()) == {"tables": [], "kv": {}}
    assert await timer.pending() is None
    clock.advance(10)
    assert app.stats().alarms_scheduled == 0
    assert recorder.kinds("alarm") == []
