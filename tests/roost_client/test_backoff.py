"""Reconnect delays: exponential growth, a ceiling, jitter from an injected source."""

from __future__ import annotations

import pytest
from roost_client import Backoff


def test_without_jitter_delays_grow_by_the_factor_up_to_the_ceiling() -> None:
    backoff = Backoff(min_delay=0.5, max_delay=5.0, factor=2.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_shortens_a_delay_by_at_most_its_fraction() -> None:
    def shortest() -> float:
        return 0.999999

    longest = Backoff(min_delay=1.0, max_delay=8.0, jitter=0.5, random=lambda: 0.0)
    short = Backoff(min_delay=1.0, max_delay=8.0, jitter=0.5, random=shortest)
    assert [longest.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    for n in (1, 2, 3, 4, 5):
        assert longest.base(n) * 0.5 <= short.delay(n) < longest.base(n) * 0.5 + 1e-5


def test_full_jitter_may_reach_zero_but_never_exceeds_the_base() -> None:
    draws = iter([0.0, 0.25, 0.5, 0.75])
    backoff = Backoff(min_delay=4.0, max_delay=4.0, jitter=1.0, random=lambda: next(draws))
    assert [backoff.delay(1) for _ in range(4)] == [4.0, 3.0, 2.0, 1.0]


def test_a_huge_attempt_number_stays_at_the_ceiling() -> None:
    backoff = Backoff(min_delay=0.1, max_delay=30.0, factor=1.3, jitter=0.0)
    assert backoff.delay(10_000_000) == 30.0


def test_factor_one_keeps_the_minimum() -> None:
    backoff = Backoff(min_delay=2.0, max_delay=9.0, factor=1.0, jitter=0.0)
    assert backoff.delay(50) == 2.0


def test_gives_up_after_max_attempts_consecutive_failures() -> None:
    assert [Backoff(max_attempts=3).gives_up(n) for n in (1, 2, 3, 4)] == [
        False,
        False,
        True,
        True,
    ]
    assert not Backoff().gives_up(10**9)


@pytest.mark.parametrize(
    "options",
    [
        {"min_delay": -1.0},
        {"min_delay": 3.0, "max_delay": 2.0},
        {"factor": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"max_attempts": -1},
    ],
)
def test_nonsense_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**options)  # type: ignore[arg-type]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="attempt must be at least 1, got 0"):
        Backoff().delay(0)
