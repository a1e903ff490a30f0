"""The alarm event of an activation: run ``alarm()`` when the stored alarm is due, and
retry it with backoff when it raises.

Rules:

1. Only the alarm stored in the object's own file counts: an index entry that fired
   early, or for an alarm since deleted, is corrected and runs nothing.
2. While ``alarm()`` runs, ``get_alarm()`` is None unless the handler sets a new one.
3. A raising ``alarm()`` is retried by the host's retry policy; once the policy gives
   up, the alarm is dropped from the file and the index.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub.alarms import AlarmInfo
from hub.errors import HubStoppingError
from hub.logs import extra

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from hub.errors import RpcError
    from hub.runtime.activation import Activation
    from hub.runtime.events import AlarmFire

__all__ = ["handle_alarm", "refuse_alarm", "retry_alarm", "run_alarm"]

log = logging.getLogger("roost.runtime")

#: An alarm this close to due (ms) runs: timers may fire a hair early.
_ALARM_SLACK_MS = 10


async def handle_alarm(act: Activation) -> None:
    """Run the object's due alarm in its own transaction, or schedule a retry."""
    host = act.host
    stored = act.committed_alarm
    now_ms = host.clock.now() * 1000
    if stored is None or stored > now_ms + _ALARM_SLACK_MS:
        await host.scheduler.committed(act.id, stored)
        return
    retry_count = host.scheduler.retry_count(act.id, stored)
    info = AlarmInfo(retry_count=retry_count, scheduled_time=stored)

    async def body() -> None:
        await act.storage.delete_alarm()
        await act.instance.alarm(info)  # type: ignore[union-attr]

    try:
        # Always re-sync: the scheduler already handed this alarm out.
        await act.transact(body, (act.id.hex,), sync_alarm=True)
    except Exception:
        log.warning(
            "alarm of %r raised (attempt %d)",
            act.id,
            retry_count + 1,
            exc_info=True,
            extra=extra("error", act.id, handler="alarm", retry_count=retry_count),
        )
        await retry_alarm(act, info)
    host.emit("alarm", act.id, retry_count=retry_count)


async def retry_alarm(act: Activation, info: AlarmInfo) -> None:
    """Schedule the next attempt of a failed alarm, or drop it after the last one."""
    host = act.host
    retry = info.retry_count + 1
    delay = host.retry_policy.delay(retry)
    if delay is not None:
        when = host.clock.now() + delay
        await host.scheduler.retry(act.id, when, retry, info.scheduled_time)
        host.emit("alarm_retry", act.id, retry_count=retry, delay=round(delay, 3))
        return
    log.error("alarm of %r dropped after %d retries", act.id, info.retry_count)
    host.emit("alarm_dropped", act.id, retries=info.retry_count)
    storage = act.open_storage
    if storage is None:
        await host.scheduler.committed(act.id, None)
        return

    async def drop() -> None:
        if storage.read_alarm() == info.scheduled_time:
            await storage.delete_alarm()

    try:
        await act.transact(drop, (act.id.hex,))
    except Exception:
        log.exception("could not drop the alarm of %r", act.id)


async def run_alarm(act: Activation, fire: AlarmFire) -> None:
    """The ``AlarmFire`` event: ``handle_alarm``."""
    await handle_alarm(act)


def refuse_alarm(act: Activation, fire: AlarmFire, error: RpcError) -> Awaitable[None] | None:
    """An alarm the object cannot run now is retried, unless the hub stops (it stays due
    in the file and the index and fires again after a restart)."""
    if isinstance(error, HubStoppingError):
        return None
    return _retry_refused_alarm(act)


async def _retry_refused_alarm(act: Activation) -> None:
    stored = act.committed_alarm
    at = stored if stored is not None else round(act.host.clock.now() * 1000)
    retry = act.host.scheduler.retry_count(act.id, at)
    await retry_alarm(act, AlarmInfo(retry_count=retry, scheduled_time=at))
