"""What the host can tell of one object without waking it (``HostPort.inspect``).

Rules:

1. Nothing here submits an event or opens the object's database connection: liveness
   comes from the host's activations, the alarm's next firing from the scheduler, and
   feeds and the stored alarm from the object's file read-only (``hub.storage.peek``),
   so inspecting an evicted object leaves it evicted.
2. The file is read on the event loop thread, between events: it is small reads of a
   few rows, and no activation of this process opens or closes the file meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.runtime.ports import ObjectFacts
from hub.storage.peek import PeekError, peek

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.runtime.host import ObjectHost

__all__ = ["inspect"]


def inspect(host: ObjectHost, object_id: ObjectId) -> ObjectFacts:
    """The facts of ``object_id`` as ``host`` knows them (see the module's rules)."""
    live = next((obj for obj in host.stats().objects if obj.id == object_id.hex), None)
    scheduled = host.scheduler.pending(object_id)
    try:
        facts = peek(host.path_for(object_id))
    except PeekError as exc:
        return ObjectFacts(live, True, None, None, None, None, scheduled, file_error=str(exc))
    if facts is None:
        return ObjectFacts(live, False, [], 0, 0, None, scheduled)
    return ObjectFacts(
        live,
        True,
        facts.feeds,
        facts.last_seq,
        facts.trimmed_through,
        facts.alarm_ms,
        scheduled,
    )
