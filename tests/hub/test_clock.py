"""The fake clock runs due timers in time order, and only when advanced."""

from __future__ import annotations

import pytest

from hub.clock import FakeClock


def test_timers_run_in_time_order_with_now_at_their_time() -> None:
    clock = FakeClock(start=0.0)
    seen: list[tuple[str, float]] = []
    clock.call_at(5.0, lambda: seen.append(("b", clock.now())))
    clock.call_at(2.0, lambda: seen.append(("a", clock.now())))
    clock.call_at(50.0, lambda: seen.append(("late", clock.now())))
    clock.advance(10.0)
    assert seen == [("a", 2.0), ("b", 5.0)]
    assert clock.now() == 10.0
    assert clock.pending == 1


def test_cancelled_timers_do_not_run() -> None:
    clock = FakeClock(start=0.0)
    seen: list[int] = []
    handle = clock.call_at(1.0, lambda: seen.append(1))
    handle.cancel()
    clock.advance(5.0)
    assert seen == []


def test_a_timer_set_by_a_timer_runs_in_the_same_advance_when_due() -> None:
    clock = FakeClock(start=0.0)
    seen: list[float] = []
    clock.call_at(1.0, lambda: clock.call_at(3.0, lambda: seen.append(clock.now())))
    clock.advance(4.0)
    assert seen == [3.0]


def test_time_never_runs_backwards() -> None:
    with pytest.raises(ValueError):
        FakeClock().advance(-1)
