"""What an object's own SQL may do: the tables the authorizer of ``hub.storage.database``
reads (rule 3 there), and the actions of a statement that writes nothing (rule 8).

Pure data: no connection here.
"""

from __future__ import annotations

import sqlite3

__all__ = ["ALLOWED_PRAGMAS", "DENIED_ACTIONS", "READ_ACTIONS", "TABLE_ACTIONS"]

#: Pragmas ``sql.exec`` may run (the others change how the hub's connection works).
ALLOWED_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "foreign_keys",
        "defer_foreign_keys",
        "quick_check",
        "integrity_check",
        "optimize",
        "user_version",
        "page_count",
        "page_size",
        "freelist_count",
        "collation_list",
        "function_list",
    }
)
#: Actions whose arguments name tables, indexes or triggers (``_roost_*`` ones refused).
TABLE_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_CREATE_INDEX,
        sqlite3.SQLITE_DROP_INDEX,
        sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_DROP_TRIGGER,
        sqlite3.SQLITE_CREATE_VIEW,
        sqlite3.SQLITE_DROP_VIEW,
        sqlite3.SQLITE_ALTER_TABLE,
        sqlite3.SQLITE_ANALYZE,
        sqlite3.SQLITE_REINDEX,
        sqlite3.SQLITE_CREATE_VTABLE,
        sqlite3.SQLITE_DROP_VTABLE,
    }
)
#: What a statement that writes nothing is made of (``run`` skips counting its writes).
READ_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
#: Actions refused outright, with the reason given.
DENIED_ACTIONS = {
    sqlite3.SQLITE_TRANSACTION: "transaction control is not allowed in sql.exec; "
    "use ctx.storage.transaction_sync() or ctx.storage.transaction()",
    sqlite3.SQLITE_SAVEPOINT: "savepoints are not allowed in sql.exec; "
    "use ctx.storage.transaction_sync() or ctx.storage.transaction()",
    sqlite3.SQLITE_ATTACH: "ATTACH is not allowed: an object reaches only its own database",
    sqlite3.SQLITE_DETACH: "DETACH is not allowed: an object reaches only its own database",
}
