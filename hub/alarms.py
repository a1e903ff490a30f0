"""The alarm schedule and its retry policy.

Rules:

1. Each object has at most one pending alarm time in the schedule; setting it again
   replaces it (the schedule also carries the retry count of that attempt).
2. ``pop_due(now)`` hands out each due alarm once, earliest first.
3. A failed ``alarm()`` is retried ``max_retries`` times, the n-th retry after
   ``base_delay * factor**(n-1)`` seconds plus up to ``jitter`` of that, then dropped.

Pure: no asyncio, no I/O. ``hub.runtime.scheduler`` drives it with a clock.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

__all__ = ["AlarmInfo", "AlarmSchedule", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class AlarmInfo:
    """What ``alarm(info)`` is told about this attempt (times in epoch milliseconds)."""

    retry_count: int
    scheduled_time: int

    @property
    def is_retry(self) -> bool:
        """True when an earlier attempt for the same alarm raised."""
        return self.retry_count > 0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a failing ``alarm()`` is tried again."""

    max_retries: int = 6
    base_delay: float = 2.0
    factor: float = 2.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries!r}")
        if self.base_delay < 0 or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(
                "expected base_delay >= 0, factor >= 1 and 0 <= jitter <= 1, got "
                f"{self.base_delay!r}, {self.factor!r}, {self.jitter!r}"
            )

    def delay(self, retry_count: int, rng: random.Random | None = None) -> float | None:
        """Seconds before retry number ``retry_count`` (1-based), or None to give up."""
        if retry_count < 1:
            raise ValueError(f"retry_count starts at 1, got {retry_count!r}")
        if retry_count > self.max_retries:
            return None
        base = self.base_delay * self.factor ** (retry_count - 1)
        spread = (rng or random).random() * self.jitter
        return base * (1 + spread)


class AlarmSchedule:
    """Pending alarm times by object key, with the earliest always at hand."""

    def __init__(self) -> None:
        self._due: dict[str, tuple[float, int]] = {}
        self._heap: list[tuple[float, str]] = []

    def set(self, key: str, when: float, retry_count: int = 0) -> None:
        """Schedule (or reschedule) ``key`` at ``when``."""
        self._due[key] = (when, retry_count)
        heapq.heappush(self._heap, (when, key))

    def remove(self, key: str) -> None:
        """Forget ``key``'s alarm, if any."""
        self._due.pop(key, None)

    def get(self, key: str) -> tuple[float, int] | None:
        """``(when, retry_count)`` for ``key``, or None."""
        return self._due.get(key)

    def __len__(self) -> int:
        return len(self._due)

    def next_time(self) -> float | None:
        """The earliest pending time, or None when nothing is scheduled."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[str, float, int]]:
        """Remove and return ``(key, when, retry_count)`` for every alarm due at ``now``."""
        due: list[tuple[str, float, int]] = []
        self._drop_stale()
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            entry = self._due.get(key)
            if entry is not None and entry[0] == when:
                del self._due[key]
                due.append((key, when, entry[1]))
            self._drop_stale()
        return due

    def _drop_stale(self) -> None:
        # Heap entries are never removed in place; an entry is stale once its key was
        # removed or rescheduled to another time.
        while self._heap:
            when, key = self._heap[0]
            entry = self._due.get(key)
            if entry is not None and entry[0] == when:
                return
            heapq.heappop(self._heap)
