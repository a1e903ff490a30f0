"""The pure alarm schedule and retry policy."""

from __future__ import annotations

import random

import pytest

from hub.alarms import AlarmInfo, AlarmSchedule, RetryPolicy


def test_due_alarms_come_out_once_earliest_first() -> None:
    schedule = AlarmSchedule()
    schedule.set("b", 20.0)
    schedule.set("a", 10.0)
    schedule.set("c", 30.0)
    assert schedule.next_time() == 10.0
    assert schedule.pop_due(25.0) == [("a", 10.0, 0), ("b", 20.0, 0)]
    assert schedule.pop_due(25.0) == []
    assert schedule.next_time() == 30.0
    assert len(schedule) == 1


def test_setting_again_replaces_the_time() -> None:
    schedule = AlarmSchedule()
    schedule.set("a", 10.0)
    schedule.set("a", 50.0, retry_count=2)
    assert schedule.pop_due(20.0) == []
    assert schedule.get("a") == (50.0, 2)
    assert schedule.pop_due(50.0) == [("a", 50.0, 2)]


def test_removed_alarms_never_fire() -> None:
    schedule = AlarmSchedule()
    schedule.set("a", 10.0)
    schedule.remove("a")
    schedule.remove("missing")
    assert schedule.next_time() is None
    assert schedule.pop_due(100.0) == []


def test_retry_delays_double_from_two_seconds_then_give_up() -> None:
    policy = RetryPolicy(jitter=0.0)
    assert [policy.delay(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    assert policy.delay(7) is None


def test_jitter_adds_at_most_its_share() -> None:
    policy = RetryPolicy(jitter=0.25)
    rng = random.Random(7)
    delays = [policy.delay(3, rng) for _ in range(200)]
    assert all(d is not None and 8.0 <= d <= 10.0 for d in delays)
    assert len(set(delays)) > 100


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(factor=0.5)
    with pytest.raises(ValueError):
        RetryPolicy().delay(0)


def test_alarm_info_says_whether_it_is_a_retry() -> None:
    assert not AlarmInfo(retry_count=0, scheduled_time=1).is_retry
    assert AlarmInfo(retry_count=1, scheduled_time=1).is_retry
