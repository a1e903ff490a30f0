"""When an active object may be evicted, and why it may not yet.

Rules:

1. An object is evictable when nothing holds it and it has been idle for
   ``idle_timeout`` seconds since the last hold was released.
2. A *hold* is a named reason to stay in memory: an event running, events queued, a
   ``block_concurrency_while`` in progress; the network front adds its own (an HTTP
   request open, ...). Holds are counted, so the same reason can be held several times.
3. Everything that keeps an object awake goes through ``hold`` / ``release``; the report
   in ``hub.stats()`` is read from here and nowhere else.

Pure: no asyncio, no I/O. The runtime feeds it times from its clock.
"""

from __future__ import annotations

__all__ = ["HOLD_TEXT", "IdleTracker"]

#: How each hold reads in a report; unknown reasons are shown by name.
HOLD_TEXT: dict[str, str] = {
    "event_running": "an event is running",
    "events_queued": "events are queued",
    "blocked": "block_concurrency_while is running",
    "open_request": "an HTTP request is open",
    "wait_until": "ctx.wait_until work is pending",
}


class IdleTracker:
    """Counts the holds on one object and remembers when it last went idle."""

    __slots__ = ("_holds", "last_activity")

    def __init__(self, now: float) -> None:
        self._holds: dict[str, int] = {}
        self.last_activity = now

    def hold(self, reason: str) -> None:
        """Add one hold for ``reason``."""
        self._holds[reason] = self._holds.get(reason, 0) + 1

    def release(self, reason: str, now: float) -> None:
        """Drop one hold for ``reason``; the idle period starts at ``now``."""
        count = self._holds.get(reason, 0)
        if count <= 0:
            raise ValueError(f"release of {reason!r} without a matching hold")
        if count == 1:
            del self._holds[reason]
        else:
            self._holds[reason] = count - 1
        self.last_activity = now

    @property
    def held(self) -> bool:
        """True while any hold is in place."""
        return bool(self._holds)

    @property
    def holds(self) -> dict[str, int]:
        """A copy of the current holds, by reason."""
        return dict(self._holds)

    def deadline(self, idle_timeout: float) -> float:
        """When the object becomes evictable if nothing else happens."""
        return self.last_activity + idle_timeout

    def evictable(self, now: float, idle_timeout: float) -> bool:
        """True when no hold is in place and the idle period has run out."""
        return not self._holds and now >= self.deadline(idle_timeout)

    def why_not_evictable(self, now: float, idle_timeout: float) -> list[str]:
        """Human-readable reasons the object stays in memory (empty when evictable)."""
        reasons = [
            f"{HOLD_TEXT.get(reason, reason)} ({count})"
            if count > 1
            else HOLD_TEXT.get(reason, reason)
            for reason, count in sorted(self._holds.items())
        ]
        if not reasons and now < self.deadline(idle_timeout):
            idle = now - self.last_activity
            reasons.append(f"idle {idle:.1f} s of {idle_timeout:.1f} s")
        return reasons
