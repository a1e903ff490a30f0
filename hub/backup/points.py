"""``ctx.storage``'s point-in-time calls, over the object's shipper and history.

Rules:

1. A bookmark names a committed state: ``get_current_bookmark`` is the state as of the
   last commit (the running event's own writes are not in it yet).
2. ``get_bookmark_for_time(t)`` is the last state at or before ``t``; a time before
   the history begins (or after now) is an error, not a guess.
3. ``on_next_session_restore_bookmark(b)`` checks ``b`` is in this object's history,
   has the next open of the object restore it, and returns the bookmark of the state
   now, which undoes it. The restore takes effect when the object next starts: call
   ``ctx.abort()`` right after (as on Cloudflare), or wait for its eviction.
"""

from __future__ import annotations

from hub.backup.history import Bookmark, BookmarkError
from hub.backup.shipper import Shipper, request_restore
from hub.errors import StorageError

__all__ = ["PointInTime"]


class PointInTime:
    """The bookmark calls of one object (``None`` shipper: backups are off)."""

    def __init__(self, shipper: Shipper | None) -> None:
        self._shipper = shipper

    def _live(self) -> Shipper:
        if self._shipper is None:
            raise StorageError(
                "point-in-time recovery needs backups: hub.Hub(backup=True) (the default)"
                " or roost serve without --no-backup"
            )
        return self._shipper

    def current(self) -> str:
        """The bookmark of the state as last committed (rule 1)."""
        shipper = self._live()
        shipper.flush()  # the commits of the last moments are named too
        last = shipper.last
        if last is None:
            raise StorageError("the object's history has not begun")
        return str(last)

    def for_time(self, time_ms: int, now_ms: int) -> str:
        """The bookmark of the last state at or before ``time_ms`` (rule 2)."""
        shipper = self._live()
        shipper.flush()
        history = shipper.history
        if time_ms > now_ms:
            raise StorageError(f"{time_ms} ms is in the future: no bookmark for it yet")
        found = history.at_time(time_ms)
        if found is None:
            first = next(history.bookmarks(), None)
            oldest = "none" if first is None else f"{first.time_ms} ms"
            raise StorageError(f"no history at {time_ms} ms: the oldest point is {oldest}")
        return str(found)

    def restore_next(self, bookmark: str) -> str:
        """Have the next start restore ``bookmark``; the bookmark that undoes it (rule 3)."""
        shipper = self._live()
        try:
            wanted = Bookmark.parse(bookmark)
        except BookmarkError as exc:
            raise StorageError(str(exc)) from None
        if wanted not in set(shipper.history.bookmarks()):
            raise StorageError(f"bookmark {bookmark} is not in this object's history")
        undo = self.current()
        request_restore(shipper.history, wanted)
        return undo
