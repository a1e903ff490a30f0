"""The exactly-once record: the highest message id handled per roost.v1 session.

Rules (protocol/SPEC.md §5):

1. The record lives in the object's own file and is written in the transaction of the
   event that handled the message, so it commits exactly when the handler's writes do.
2. A message whose id is not above the session's record is a duplicate.
3. Sessions idle for more than ``RETENTION`` seconds are forgotten (SPEC §5.5), by
   ``forget_idle`` in the transaction of a message being recorded, at most once per
   ``SWEEP_INTERVAL`` per activation (the caller keeps the time): the table stays as
   small as the object's recent sessions, and no message pays for a scan more often.
"""

from __future__ import annotations

from hub.storage.database import ObjectDatabase

__all__ = ["RETENTION", "SWEEP_INTERVAL", "SessionLog"]

#: Seconds a session's record is kept after its last message (SPEC §5.5: at least 24 h).
RETENTION = 24 * 3600.0
#: Seconds between two sweeps of idle sessions in one activation.
SWEEP_INTERVAL = 3600.0


class SessionLog:
    """Reads and writes ``_roost_sessions`` inside the current transaction."""

    __slots__ = ("_db",)

    def __init__(self, db: ObjectDatabase) -> None:
        self._db = db

    def last_id(self, session: str) -> int:
        """The highest message id handled for ``session`` (0 when none)."""
        row = self._db.internal(
            "SELECT last_id FROM _roost_sessions WHERE session = ? -- roost", (session,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def record(self, session: str, message_id: int, now: float) -> None:
        """Mark ``message_id`` of ``session`` handled (ids only go up)."""
        self._db.internal(
            "INSERT INTO _roost_sessions (session, last_id, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (session) DO UPDATE SET"
            " last_id = max(last_id, excluded.last_id), updated_at = excluded.updated_at"
            " -- roost",
            (session, message_id, now),
        )

    def forget_idle(self, now: float) -> None:
        """Drop the records of sessions idle for longer than ``RETENTION``."""
        self._db.internal(
            "DELETE FROM _roost_sessions WHERE updated_at < ? -- roost", (now - RETENTION,)
        )
