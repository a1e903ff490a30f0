"""Point-in-time restore of a database object (``restore`` verb and admin action).

Rules:

1. ``{"at": epoch seconds}`` or ``{"bookmark": B}`` (exactly one) names the point; the
   answer is ``{"restored": B, "undo": U}``, where restoring ``U`` undoes it.
2. The object only requests the restore (``ctx.storage.on_next_session_restore_bookmark``);
   the front then hibernates it, so the restore is done before the next call runs, and
   its sockets stay open while its feed subscribers reset (``hub.backup``).
3. A read-only token cannot restore (``read_only``); the admin key can.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hub.errors import InvalidArgumentsError, StorageError

if TYPE_CHECKING:
    from hub.storage.storage import Storage

__all__ = ["request_restore"]


async def request_restore(storage: Storage, kwargs: dict[str, Any]) -> dict[str, str]:
    """Have the next start restore the point ``kwargs`` names (rules 1-2)."""
    unknown = set(kwargs) - {"at", "bookmark"}
    if unknown or len(kwargs) != 1:
        raise InvalidArgumentsError('restore takes {"at": <epoch seconds>} or {"bookmark": "..."}')
    at, bookmark = kwargs.get("at"), kwargs.get("bookmark")
    try:
        if at is not None:
            if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
                raise InvalidArgumentsError(f"at must be epoch seconds, got {at!r}")
            bookmark = await storage.get_bookmark_for_time(at * 1000)
        if not isinstance(bookmark, str):
            raise InvalidArgumentsError(f"bookmark must be a string, got {bookmark!r}")
        undo = await storage.on_next_session_restore_bookmark(bookmark)
    except StorageError as exc:
        raise InvalidArgumentsError(str(exc)) from None
    return {"restored": bookmark, "undo": undo}
