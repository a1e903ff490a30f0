"""One client statement, run as the object's own SQL, past the feeds' triggers.

Rules:

1. Statements run under the storage's user mode (the authorizer), bounded to
   ``max_rows + 1`` rows, and under ``PRAGMA query_only`` for a read-only grant
   (``ObjectDatabase.user_statement``).
2. A feed table's triggers name every column, so SQLite refuses to drop one of them
   (``error in trigger _roost_feed_... after drop column``). Such a statement runs once
   more, in a savepoint, with that table's triggers dropped, and the triggers are made
   again for the new columns right after it: a client (or a migration) may drop a
   column of a feed table like any other. The table never stops being a feed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hub.errors import SqlError
from hub.storage.database import ObjectDatabase, SqlValue
from hub.storage.feeds import FeedLog

__all__ = ["run_statement"]

_BLOCKED_BY_FEED = re.compile(
    r"error in trigger _roost_feed_(.+)_(?:insert|update|rekey|delete) after drop column"
)

#: Rows, column names, rows changed and the last inserted rowid after the statement.
Outcome = tuple[list[tuple[SqlValue, ...]], list[str], int, int]


def run_statement(
    db: ObjectDatabase,
    sql: str,
    params: Sequence[object] = (),
    max_rows: int | None = None,
    *,
    read_only: bool = False,
) -> Outcome:
    """Rows, column names, rows changed and the last inserted rowid after one statement
    (``SqlError`` if refused)."""
    try:
        return db.user_statement(sql, params, max_rows, read_only=read_only)
    except SqlError as exc:
        blocked = _BLOCKED_BY_FEED.search(str(exc))
        feeds = FeedLog(db)
        if read_only or blocked is None or blocked.group(1) not in feeds.tables():
            raise
    table = blocked.group(1)
    with db.savepoint():
        feeds.drop_triggers(table)
        outcome = db.user_statement(sql, params, max_rows)
        feeds.enable(table)
    return outcome
