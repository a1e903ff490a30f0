"""When an object may be evicted, and the reasons reported when it may not."""

from __future__ import annotations

import pytest

from hub.hibernation import IdleTracker


def test_idle_object_becomes_evictable_after_the_timeout() -> None:
    tracker = IdleTracker(now=100.0)
    assert not tracker.evictable(109.9, idle_timeout=10.0)
    assert tracker.evictable(110.0, idle_timeout=10.0)
    assert tracker.why_not_evictable(110.0, 10.0) == []


def test_a_hold_blocks_eviction_and_its_release_restarts_the_idle_period() -> None:
    tracker = IdleTracker(now=0.0)
    tracker.hold("event_running")
    assert not tracker.evictable(1000.0, 10.0)
    assert tracker.why_not_evictable(1000.0, 10.0) == ["an event is running"]
    tracker.release("event_running", now=1000.0)
    assert not tracker.evictable(1005.0, 10.0)
    assert tracker.deadline(10.0) == 1010.0
    assert tracker.evictable(1010.0, 10.0)


def test_holds_are_counted_and_reported_with_counts() -> None:
    tracker = IdleTracker(now=0.0)
    tracker.hold("events_queued")
    tracker.hold("events_queued")
    tracker.hold("open_request")
    tracker.hold("custom_reason")
    assert tracker.why_not_evictable(0.0, 10.0) == [
        "custom_reason",
        "events are queued (2)",
        "an HTTP request is open",
    ]
    tracker.release("events_queued", 1.0)
    assert tracker.holds == {"events_queued": 1, "open_request": 1, "custom_reason": 1}


def test_idle_but_young_object_reports_how_long_it_has_been_idle() -> None:
    tracker = IdleTracker(now=0.0)
    assert tracker.why_not_evictable(2.5, 10.0) == ["idle 2.5 s of 10.0 s"]


def test_release_without_hold_is_a_bug_and_raises() -> None:
    with pytest.raises(ValueError, match="without a matching hold"):
        IdleTracker(now=0.0).release("event_running", 1.0)
