"""Time for the runtime: the one place that reads the wall clock or sets timers.

Eviction and alarms take their time from a ``Clock``. ``SystemClock`` is the real one;
``FakeClock`` lets tests (the hub's and its users') move time by hand, so nothing
sleeps for real and nothing depends on how busy the machine is.

Times are seconds since the Unix epoch as floats.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "TimerHandle"]


class TimerHandle(Protocol):
    """A scheduled callback that can still be cancelled."""

    def cancel(self) -> None:
        """Stop the callback from running (no effect once it ran)."""


class Clock(Protocol):
    """The source of time and timers for the runtime."""

    def now(self) -> float:
        """Seconds since the epoch."""

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` on the event loop once ``now() >= when``."""


class SystemClock:
    """The wall clock with timers on the running asyncio loop."""

    def now(self) -> float:
        """Seconds since the epoch (``time.time()``)."""
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Schedule ``callback`` with ``loop.call_later`` for the time left until ``when``."""
        delay = max(0.0, when - time.time())
        return asyncio.get_running_loop().call_later(delay, callback)


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told to.

    ``advance(seconds)`` runs every due timer in time order, synchronously, with
    ``now()`` set to each timer's own time while it runs. Callbacks typically wake a
    task; await what that task does (an event, a future) rather than sleeping.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """The fake current time."""
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Register ``callback`` to run when ``advance`` reaches ``when``."""
        timer = _FakeTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and run the timers that fall due."""
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards: got {seconds!r} seconds")
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
        self._now = target

    @property
    def pending(self) -> int:
        """How many timers are still scheduled (cancelled ones excluded)."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)
