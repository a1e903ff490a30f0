"""Events delivered to an object through its input gate.

This is the seam between whatever produces work for an object (stubs, the alarm
scheduler, and next the network front) and the object host: producers build an event
and submit it; the object's activation task handles events one at a time and answers
on the event's ``reply`` future after the event's writes are committed (output gate).

Events carry only JSON-compatible builtins and ids, never objects of the caller, so the
same events can later cross a process boundary.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AlarmFire", "Event", "RpcCall"]


@dataclass(slots=True)
class RpcCall:
    """Call a public method; ``reply`` gets the builtins result or an ``RpcError``."""

    method: str
    args: list[Any]
    kwargs: dict[str, Any]
    reply: asyncio.Future[Any]
    #: Hex ids of the objects waiting on this call, for deadlock detection.
    chain: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class AlarmFire:
    """Run the object's ``alarm()`` if its stored alarm is due.

    The retry count is the scheduler's to keep (it outlives evictions), so the event
    itself carries nothing.
    """


Event = RpcCall | AlarmFire
