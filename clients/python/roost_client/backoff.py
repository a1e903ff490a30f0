"""How long to wait before each reconnect attempt: exponential growth with jitter.

Pure: no I/O, no event loop; the random source is injected so tests are exact.

Rules:

1. Attempt ``n`` (1 for the first retry after a failure) waits
   ``base = min(max_delay, min_delay * factor ** (n - 1))`` scaled down by up to
   ``jitter``: ``base * (1 - jitter * r)`` with ``r = random()`` in ``[0, 1)``. So delays
   never exceed ``max_delay`` and, with ``jitter < 1``, never fall below
   ``(1 - jitter) * min_delay``; clients that lost the same hub spread out over time.
2. ``max_attempts`` consecutive failed attempts end the reconnecting (``None``: never).
   A connection that opened resets the count.
3. The names follow partysocket's options: ``minReconnectionDelay`` is ``min_delay``,
   ``maxReconnectionDelay`` is ``max_delay``, ``reconnectionDelayGrowFactor`` is
   ``factor``, ``maxRetries`` is ``max_attempts`` (seconds here, not milliseconds).
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """The reconnect delays of a connection (seconds).

    Args:
        min_delay: the base delay of the first retry.
        max_delay: no delay exceeds this.
        factor: each retry's base delay is this many times the previous one.
        jitter: the fraction (0 to 1) by which a delay may be randomly shortened.
        max_attempts: give up after this many consecutive failed attempts (None: never).
        random: the source of ``[0, 1)`` numbers (``random.random``; fixed in tests).
    """

    min_delay: float = 0.5
    max_delay: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5
    max_attempts: int | None = None
    random: Callable[[], float] = field(default=_random.random, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.min_delay <= self.max_delay:
            raise ValueError(
                f"delays must satisfy 0 <= min_delay <= max_delay, "
                f"got {self.min_delay!r} and {self.max_delay!r}"
            )
        if self.factor < 1:
            raise ValueError(f"factor must be at least 1, got {self.factor!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter!r}")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError(f"max_attempts must be at least 0, got {self.max_attempts!r}")

    def base(self, attempt: int) -> float:
        """The delay of retry ``attempt`` (1-based) before jitter."""
        if attempt < 1:
            raise ValueError(f"attempt must be at least 1, got {attempt!r}")
        if self.factor == 1 or self.min_delay == 0:
            return self.min_delay
        # Grow step by step so a huge attempt number never overflows a float power.
        delay = self.min_delay
        for _ in range(attempt - 1):
            delay *= self.factor
            if delay >= self.max_delay:
                return self.max_delay
        return min(delay, self.max_delay)

    def delay(self, attempt: int) -> float:
        """The delay before retry ``attempt`` (1-based), jitter applied."""
        return self.base(attempt) * (1 - self.jitter * self.random())

    def gives_up(self, failures: int) -> bool:
        """True when ``failures`` consecutive failed attempts are the last allowed."""
        return self.max_attempts is not None and failures >= self.max_attempts
