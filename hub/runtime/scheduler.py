"""The alarm scheduler: one timer for the whole hub, fed by the index in ``hub.db``.

Rules:

1. The in-memory ``AlarmSchedule`` mirrors the index; both change only through
   ``move_earlier`` / ``committed`` / ``retry``, which the activations call around their
   commits, and ``start``, which loads the index.
2. A due alarm becomes an ``AlarmFire`` event for its object, which activates the object
   if it is evicted. The object decides from its own file whether anything is due.
3. Retry counts live here, not in the activation, so they survive an eviction between
   attempts (not a hub restart: after a restart the count starts again at 0).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub.alarms import AlarmSchedule
from hub.clock import TimerHandle
from hub.errors import HubStoppingError, OverloadedError, UnknownBindingError
from hub.ids import ObjectId
from hub.runtime.events import AlarmFire

if TYPE_CHECKING:
    from hub.runtime.host import ObjectHost

__all__ = ["AlarmScheduler"]

log = logging.getLogger("roost.alarms")

#: Wait before offering an alarm again to an object whose queue was full.
_OVERLOAD_BACKOFF = 1.0


class AlarmScheduler:
    """Keeps the next alarm timer armed and delivers due alarms to their objects."""

    def __init__(self, host: ObjectHost) -> None:
        self._host = host
        self._schedule = AlarmSchedule()
        self._ids: dict[str, ObjectId] = {}
        self._retries: dict[str, tuple[int, int]] = {}
        self._timer: TimerHandle | None = None
        self._timer_at: float | None = None
        self._running = False

    def __len__(self) -> int:
        return len(self._schedule)

    async def start(self) -> None:
        """Load the index and arm the timer."""
        self._running = True
        for binding, hex_id, at in await self._host.registry.load_alarms():
            if not self._host.owns(hex_id):
                continue  # another worker's object
            try:
                object_id = self._host.parse_id(binding, hex_id)
            except UnknownBindingError:
                log.warning("alarm of unknown binding %r kept in the index", binding)
                continue
            self._ids[hex_id] = object_id
            self._schedule.set(hex_id, at)
        self._arm()

    def stop(self) -> None:
        """Disarm the timer; the index keeps every alarm for the next start."""
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None

    async def move_earlier(self, object_id: ObjectId, at_ms: int) -> None:
        """Before a commit: make sure the index fires no later than ``at_ms``."""
        await self._host.registry.set_alarm(object_id.binding, object_id.hex, at_ms / 1000)

    async def committed(self, object_id: ObjectId, at_ms: int | None) -> None:
        """After a commit: the object's alarm is now exactly ``at_ms`` (or none)."""
        key = object_id.hex
        self._retries.pop(key, None)
        if at_ms is None:
            self._schedule.remove(key)
            self._ids.pop(key, None)
            await self._host.registry.delete_alarm(key)
        else:
            self._ids[key] = object_id
            self._schedule.set(key, at_ms / 1000)
            await self._host.registry.set_alarm(object_id.binding, key, at_ms / 1000)
        self._arm()

    async def retry(self, object_id: ObjectId, when: float, retry_count: int, at_ms: int) -> None:
        """Try the alarm stored for ``at_ms`` again at ``when`` (epoch seconds)."""
        key = object_id.hex
        self._retries[key] = (at_ms, retry_count)
        self._ids[key] = object_id
        self._schedule.set(key, when, retry_count)
        await self._host.registry.set_alarm(object_id.binding, key, when)
        self._arm()

    def pending(self, object_id: ObjectId) -> tuple[float, int] | None:
        """``(epoch seconds, retry count)`` of the object's next firing, or None."""
        return self._schedule.get(object_id.hex)

    def retry_count(self, object_id: ObjectId, at_ms: int) -> int:
        """Attempts that already failed for the alarm stored at ``at_ms``."""
        entry = self._retries.get(object_id.hex)
        return entry[1] if entry is not None and entry[0] == at_ms else 0

    def _arm(self) -> None:
        if not self._running:
            return
        due = self._schedule.next_time()
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, due
        if due is not None:
            self._timer = self._host.clock.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        now = self._host.clock.now()
        for key, _when, retry_count in self._schedule.pop_due(now):
            object_id = self._ids[key]
            try:
                self._host.submit(object_id, AlarmFire())
            except OverloadedError:
                self._schedule.set(key, now + _OVERLOAD_BACKOFF, retry_count)
            except HubStoppingError:
                return  # the index keeps it for the next start
        self._arm()
