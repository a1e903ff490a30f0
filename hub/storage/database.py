"""One object's SQLite file: opening it, its transactions, and what its own SQL may touch.

Rules:

1. Exactly one thread touches a connection: the event loop thread that runs the
   object's activation task (``check_same_thread`` stays on). Calls are synchronous,
   like the anchor's same-thread SQL.
2. Every event runs inside one transaction opened with ``begin()`` and ended with
   ``commit()`` or ``rollback()``; nested transactions are SAVEPOINTs.
3. The object's own SQL runs in *user mode*: the authorizer refuses transaction
   control, ATTACH/DETACH, pragmas outside a short allow-list, and any table, index or
   trigger named ``_roost_*`` (the hub's own tables). This protects against accidents,
   not against the object's author: the author's code runs in this process.
4. Internal statements carry a ``-- roost`` suffix so a user statement of the same text
   never shares a prepared (and so already authorized) statement with them.
5. One process at a time: opening takes an exclusive ``flock`` on the file (SQLite's own
   locks are POSIX record locks, which this does not touch) and closing releases it, so
   two workers can never both run one object. The kernel drops the lock of a process
   that died, so a crash never leaves an object locked.
6. WAL mode; ``synchronous=NORMAL`` survives a process crash (kill -9) with every
   committed transaction intact; ``durability="full"`` sets ``synchronous=FULL`` so a
   commit also survives power loss, at the price of an fsync on every commit.
7. With backups on, a ``Shipper`` (``hub.backup``) sees the file before it opens (a
   requested restore happens then, in place, under the lock), ships what every COMMIT
   wrote, and takes SQLite's checkpoints over.
8. ``sql.exec`` is the hot path (``exec``): one reused cursor, since
   ``Connection.execute`` makes and registers a new one per statement (~0.3 µs of a
   ~2 µs point query). What the authorizer saw when ``exec`` compiled a statement is
   kept per query text (``_plans``): its column names, and whether it only reads. A
   statement only compiles again (SQLite's re-prepare after a schema change, or
   sqlite3's cache dropping it) under the authorizer, which tells ``exec`` to learn it
   again; until then neither ``cursor.description`` nor, for one that only reads,
   ``total_changes`` is read. Its statements read every row before ``exec`` returns,
   so the cursor never holds a statement open; after an error it is replaced, in case
   its statement stopped half-way. ``SqlStorage.exec`` is bound to ``exec`` itself and
   a cursor has no ``__init__``: a Python frame costs about as much as the rest of the
   wrapper (measured in instructions per statement).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hub.backup.shipper import CHECKPOINTS_OFF
from hub.errors import SqlError
from hub.storage.cursor import Names, SqlCursor
from hub.storage.layout import (
    APPLICATION_ID,
    APPLICATION_ID_BYTES,
    MIGRATIONS,
    OPENING_FACTS,
    RESERVED_PREFIX,
    SCHEMA,
    SCHEMA_VERSION,
    WAL_MODE,
    file_feed_seq,
)
from hub.storage.rules import ALLOWED_PRAGMAS, DENIED_ACTIONS, READ_ACTIONS, TABLE_ACTIONS
from hub.storage.script import is_multi_statement, split_statements

if TYPE_CHECKING:
    from hub.backup.shipper import Shipper

__all__ = ["Durability", "ObjectBusyError", "ObjectDatabase", "SqlValue"]

Durability = Literal["normal", "full"]
SqlValue = int | float | str | bytes | None
UserResult = tuple[list[tuple[SqlValue, ...]], list[str]]
#: Compiled statements a connection keeps (Python's sqlite3 cache, by query text).
CACHED_STATEMENTS = 256
#: Query texts ``exec`` keeps what it learnt of (``_plans``): more than the statement
#: cache holds, so the statements in the cache stay known.
KNOWN_STATEMENTS = 4 * CACHED_STATEMENTS

#: ``_plans``' entry of a statement that writes and returns no rows (its column names).
_WRITES: Names = ()
#: The rows of such a statement: shared, since a cursor never changes its rows.
_NO_ROWS: list[tuple[SqlValue, ...]] = []
#: ``sys.getrefcount`` of ``_last`` in ``exec`` when only ``_last``, ``exec``'s local
#: and the call's argument hold it. CPython up to 3.13 with the GIL counts every one of
#: those references; 3.14 may borrow the argument's (a lower count) and a free-threaded
#: build splits the count, so there -1 turns the reuse off (every cursor is new).
_UNHELD = (
    3 if sys.version_info < (3, 14) and not sysconfig.get_config_var("Py_GIL_DISABLED") else -1
)
_refcount = sys.getrefcount


class ObjectBusyError(OSError):
    """Another process (or activation) has the object's file open: try again later."""


class ObjectDatabase:
    """The SQLite connection of one object and the transaction around each event."""

    def __init__(
        self, path: Path, durability: Durability = "normal", shipper: Shipper | None = None
    ) -> None:
        self.path = path
        #: Ships every commit to the object's backup history (``hub.backup``), if on.
        self.shipper = shipper
        # Opened as it is first (a wake: no stat before the open), made if it is not there.
        try:
            self._lock = os.open(path, os.O_RDWR)
            self.created = False
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            self.created = True
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise ObjectBusyError(f"{path.name} is open in another process") from None
        try:
            #: The newest feed seq before a restore replaced the file (see FeedLog.restored).
            self.replaced_seq = 0
            if shipper is not None:
                if shipper.restore_pending:
                    self.replaced_seq = file_feed_seq(path)
                shipper.prepare()  # may restore the file (rule 7)
                self.created = self.created and not os.fstat(self._lock).st_size
            self._conn = sqlite3.connect(
                path, isolation_level=None, cached_statements=CACHED_STATEMENTS
            )
            wrote = self._setup(durability, checkpoints_off=shipper is not None)
            if shipper is not None:
                shipper.opened(self._conn, checkpoints_off=True)
                if wrote:
                    shipper.committed()  # the schema it made or migrated
        except BaseException:
            os.close(self._lock)
            raise

    def _setup(self, durability: Durability, *, checkpoints_off: bool) -> bool:
        """Connection settings (with ``checkpoints_off``, the shipper's too: rule 7), the
        hub's schema (made or migrated), the meta; whether it wrote anything."""
        self._user_mode = False
        self._denied: str | None = None
        #: The table a user ``DROP TABLE`` being prepared drops: the hub's triggers on it
        #: (a feed's) are dropped with it, and only then may the statement touch them.
        self._dropping: str | None = None
        self._savepoints = 0
        #: Transactions and savepoints rolled back so far: a cache of what the file says
        #: (``hub.databases.catalog``'s tokens) is stale once this moves.
        self.rollbacks = 0
        #: ``begin()`` was called and BEGIN is not issued yet (see ``begin``).
        self._deferred = False
        #: The facts ``fact`` reads, kept until they are written or rolled back.
        self._facts: dict[str, SqlValue] | None = None
        conn = self._conn
        #: The one cursor ``exec`` reuses (rule 8).
        self._cursor = conn.cursor()
        #: What ``exec`` learnt of user statements it ran, by query text (rule 8): the
        #: column names of one that only reads, ``_WRITES`` for one that writes and
        #: returns no rows, None for the others (run the slow way).
        self._plans: dict[str, Names | None] = {}
        #: The cursor ``exec`` returned last. Nothing else holds it once its caller let
        #: it go (``exec(...).one()``): the next ``exec`` then fills it again instead of
        #: making one (an allocation and a deallocation, the largest cost of ``exec``
        #: after the statement itself). It keeps its rows until then. Whether anything
        #: else holds it is its reference count (``_UNHELD``).
        self._last = SqlCursor()
        #: What the authorizer saw while a user statement compiled: None (no compile:
        #: it came from the cache), True (reads only), False (a write).
        self._compiled: bool | None = None
        # The file's header says whether it is in WAL mode already (persistent) and ours:
        # a wake then skips two statements. A header older than the log (a crash) can
        # only make ``fresh`` true again, and that path is idempotent.
        header = os.pread(self._lock, 100, 0)
        if header[18:20] != WAL_MODE:
            conn.execute("PRAGMA journal_mode=WAL")
        # One script: a statement run by ``execute`` costs ~4 µs more (the statement
        # cache) on a wake, and these never run again on this connection.
        sync = "FULL" if durability == "full" else "NORMAL"
        settings = f"PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON"
        conn.executescript(f"{settings}; {CHECKPOINTS_OFF}" if checkpoints_off else settings)
        fresh = header[68:72] != APPLICATION_ID_BYTES
        if fresh and conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
            fresh = False  # set in the log, not yet in the file
        if fresh:
            conn.execute("BEGIN IMMEDIATE -- roost")
            for statement in SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute("COMMIT -- roost")
        #: The hub's per-object facts (name, alarm, schema), read once at open, and the
        #: newest change-log seq then (0: none; see ``FeedLog.last_seq``).
        self.meta, self.opened_seq = self._read_opening_facts()
        migrated = self._migrate(int(self.meta.get("schema") or 1))
        conn.set_authorizer(self._authorize)
        return fresh or migrated

    def _read_opening_facts(self) -> tuple[dict[str, SqlValue], int]:
        """The meta and the change log's newest seq in one statement (one less on every
        wake). A file without ``sqlite_sequence`` (made before schema 3, whose migration
        creates the change log: empty then) reads the meta alone."""
        try:
            rows = self._conn.execute(OPENING_FACTS).fetchall()
        except sqlite3.OperationalError as exc:
            if "sqlite_sequence" not in str(exc):
                raise
            return self.read_meta(), 0
        seq = 0
        meta: dict[str, SqlValue] = {}
        for key, value in rows:
            if key is None:
                seq = int(value)
            else:
                meta[str(key)] = value
        return meta, seq

    def _migrate(self, version: int) -> bool:
        if version >= SCHEMA_VERSION:
            return False
        self._conn.execute("BEGIN IMMEDIATE -- roost")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                self._conn.execute(statement)
        self.write_meta("schema", SCHEMA_VERSION)
        self._conn.execute("COMMIT -- roost")
        self.meta["schema"] = SCHEMA_VERSION
        return True

    # -- transactions -------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        """True between ``begin()`` and ``commit()`` / ``rollback()``."""
        return self._deferred or self._conn.in_transaction

    @property
    def in_savepoint(self) -> bool:
        """True inside a nested transaction (``transaction`` / ``transaction_sync``)."""
        return self._savepoints > 0

    def begin(self) -> None:
        """Open the event's transaction.

        BEGIN is issued with the event's first statement (``_begin_now``), and an event
        that never touches storage commits nothing: most socket messages and calls of
        a busy object skip two statements. The same isolation as a deferred BEGIN,
        which takes no snapshot and no lock before its first statement either.
        """
        self._deferred = True
        self._savepoints = 0

    def _begin_now(self) -> None:
        """Issue the BEGIN that ``begin()`` put off (before any statement of the event)."""
        if self._deferred:
            self._deferred = False
            self._conn.execute("BEGIN -- roost")

    def commit(self) -> None:
        """Commit the event's transaction (``SqlError`` when SQLite refuses, e.g. a
        deferred foreign key violation; the transaction is then still open)."""
        if self._deferred:
            self._deferred = False  # no statement ran: nothing to commit
            return
        try:
            self._conn.execute("COMMIT -- roost")
        except sqlite3.Error as exc:
            raise SqlError(f"commit failed: {_describe(exc)}") from exc
        if self.shipper is not None:
            self.shipper.committed()

    def rollback(self) -> None:
        """Roll back the event's transaction, if one is open."""
        self._deferred = False
        self._facts = None
        if self._conn.in_transaction:
            self.rollbacks += 1
            self._conn.execute("ROLLBACK -- roost")

    def open_savepoint(self) -> str:
        """Start a nested transaction and return its name."""
        self._begin_now()
        self._savepoints += 1
        name = f"roost_sp{self._savepoints}"
        self._conn.execute(f"SAVEPOINT {name} -- roost")
        return name

    def close_savepoint(self, name: str, *, rollback: bool) -> None:
        """End the nested transaction ``name``, keeping or undoing its writes."""
        try:
            if rollback:
                self._facts = None
                self.rollbacks += 1
                self._conn.execute(f"ROLLBACK TO {name} -- roost")
            self._conn.execute(f"RELEASE {name} -- roost")
        finally:
            self._savepoints -= 1

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: released on success, rolled back on exception."""
        name = self.open_savepoint()
        try:
            yield
        except BaseException:
            self.close_savepoint(name, rollback=True)
            raise
        self.close_savepoint(name, rollback=False)

    # -- statements ---------------------------------------------------------------

    def internal(self, query: str, params: tuple[SqlValue, ...] = ()) -> sqlite3.Cursor:
        """Run one of the hub's own statements (never user SQL)."""
        self._begin_now()
        return self._conn.execute(query, params)

    def internal_many(self, query: str, rows: Sequence[tuple[SqlValue, ...]]) -> None:
        """Run one of the hub's own statements for each row."""
        self._begin_now()
        self._conn.executemany(query, rows)

    def exec(self, query: str, *params: object) -> SqlCursor:
        """``sql.exec`` itself (``SqlStorage`` binds it; rule 8): one statement of the
        object's own SQL under the authorizer, its rows read, with the rows it wrote
        (triggers and the change log of feed tables included). A text of several
        statements runs them in order when no parameters are given (``_exec_script``).

        The hot path of an object's storage, so it is one frame and keeps the
        authorizer's state at rest between statements: ``_compiled`` and ``_dropping``
        are None unless a statement was compiled just now. A statement ``exec`` has
        compiled before (``_plans``) and that is not compiled again now (no authorizer
        call: it came from the statement cache) is what it was then: its column names
        are the ones kept (``cursor.description`` is not read), and one that only reads
        writes nothing (``total_changes`` is not read either).
        """
        if self._deferred:
            self._begin_now()
        try:
            plan = self._plans[query]
        except KeyError:  # not run by ``exec`` yet (or forgotten)
            plan = None
        if plan:
            # Fast path: a statement known to read only (``plan`` is its column names).
            # The same as below without counting writes; a compile now cannot make it
            # write (the same text), so only its columns are read again then.
            self._user_mode = True
            try:
                rows = self._cursor.execute(query, params).fetchall()
            except Exception as exc:
                self._user_mode = False
                return self._exec_failed(query, params, exc)
            self._user_mode = False
            if self._compiled is not None:
                plan = self._learn(query)
            result = self._last
            if _refcount(result) > _UNHELD:  # held elsewhere: see ``_last``
                result = self._last = SqlCursor()
            result._names = plan
            result._rows = rows
            result._pos = 0
            result.rows_written = 0
            return result
        before = self._conn.total_changes
        cursor = self._cursor
        self._user_mode = True
        try:
            cursor.execute(query, params)
            rows = _NO_ROWS if plan is _WRITES else cursor.fetchall()
        except Exception as exc:
            self._user_mode = False
            return self._exec_failed(query, params, exc)
        self._user_mode = False
        result = self._last
        if _refcount(result) > _UNHELD:  # held elsewhere: see ``_last``
            result = self._last = SqlCursor()
        result._rows = rows
        result._pos = 0
        result.rows_written = self._conn.total_changes - before
        if plan is None or self._compiled is not None:
            # Not known, or compiled just now: its column names are read (and kept).
            plan = self._learn(query)
        result._names = plan
        return result

    def _learn(self, query: str) -> Names:
        """The column names of the statement ``exec`` ran just now, and what ``_plans``
        keeps of it: when it was compiled just now (the authorizer's state then goes
        back to rest), a statement that only reads (its names) or writes and returns no
        rows (``_WRITES``); else None: run the slow way (writes counted, names read)."""
        description = self._cursor.description
        names: Names = _WRITES if description is None else tuple(c[0] for c in description)
        compiled = self._compiled
        if compiled is not None:
            self._compiled = self._dropping = None
        plans = self._plans
        if len(plans) >= KNOWN_STATEMENTS:
            plans.clear()
        if compiled and names:  # reads only
            plans[query] = names
        elif compiled is False and description is None:  # writes, returns no rows
            plans[query] = _WRITES
        else:  # writes and returns rows, or not compiled now: nothing learnt
            plans[query] = None
        return names

    def _exec_failed(self, query: str, params: tuple[object, ...], exc: Exception) -> SqlCursor:
        """``exec``'s slow path: a text of several statements runs as a script; any
        other failure raises ``SqlError`` (or the exception, when not about the SQL)."""
        self._compiled = self._dropping = None
        self._cursor = self._conn.cursor()  # its statement may have stopped half-way
        if is_multi_statement(exc):
            if params:
                raise SqlError(
                    "parameters are only allowed with a single statement, "
                    f"got {len(params)} parameters for several statements"
                ) from None
            return self._exec_script(query)
        error = self._user_error(query, exc)
        if error is None:
            raise exc
        raise error from exc

    def _exec_script(self, script: str) -> SqlCursor:
        statements = split_statements(script)
        if not statements:
            raise SqlError("no statement to run")
        before = self._conn.total_changes
        for statement in statements:
            cursor = self.exec(statement)
        cursor.rows_written = self._conn.total_changes - before
        return cursor

    def user(self, query: str, params: tuple[object, ...]) -> UserResult:
        """Run one statement of the object's own SQL under the authorizer; all its rows
        and its column names."""
        rows, names, _cursor = self.user_cursor(query, params)
        return rows, names

    def user_cursor(
        self, query: str, params: tuple[object, ...]
    ) -> tuple[list[tuple[SqlValue, ...]], list[str], sqlite3.Cursor]:
        """``user``, plus the finished cursor (its ``rowcount`` and ``lastrowid``)."""
        return self._user_run(query, params, None, read_only=False)

    def user_statement(
        self,
        query: str,
        params: Sequence[object],
        max_rows: int | None = None,
        *,
        read_only: bool = False,
    ) -> tuple[list[tuple[SqlValue, ...]], list[str], int, int]:
        """``user`` with a bound and the count of changed rows: at most ``max_rows + 1``
        rows are read (the caller tells "over the limit" by the extra row), the third
        item is the rows the statement itself changed (``cursor.rowcount``: trigger
        writes not counted; 0 for a statement that is not DML) and the fourth the
        connection's last inserted rowid after it (0: none yet). ``read_only`` runs it
        under ``PRAGMA query_only``, so SQLite refuses any write (``SQLITE_READONLY``)."""
        rows, names, cursor = self._user_run(query, params, max_rows, read_only=read_only)
        changed = max(cursor.rowcount, 0)
        # sqlite3 reads sqlite3_last_insert_rowid() after every statement: no SELECT for it.
        last_rowid = cursor.lastrowid or 0
        cursor.close()  # a statement cut short must not stay open across the commit
        return rows, names, changed, last_rowid

    def _user_run(
        self,
        query: str,
        params: Sequence[object],
        max_rows: int | None,
        *,
        read_only: bool,
    ) -> tuple[list[tuple[SqlValue, ...]], list[str], sqlite3.Cursor]:
        if not isinstance(query, str):
            raise SqlError(f"query must be a str, got {type(query).__name__}")
        self._begin_now()
        if read_only:
            self._conn.execute("PRAGMA query_only = ON")
        self._user_mode = True
        try:
            cursor = self._conn.execute(query, tuple(params))
            rows = cursor.fetchall() if max_rows is None else cursor.fetchmany(max_rows + 1)
            description = cursor.description
            return rows, [column[0] for column in description] if description else [], cursor
        except Exception as exc:
            error = self._user_error(query, exc)
            if error is None:
                raise
            raise error from exc
        finally:
            self._user_mode = False
            if self._compiled is not None:  # compiled just now: back to rest (``exec``)
                # The text may be one ``exec`` knows: its columns may have changed.
                self._plans.pop(query, None)
                self._compiled = self._dropping = None
            if read_only:
                self._conn.execute("PRAGMA query_only = OFF")

    def _user_error(self, query: object, exc: Exception) -> SqlError | None:
        """What a failed user statement raises: SQLite's refusal (or the authorizer's
        reason) as ``SqlError``; None for an exception that is not about the SQL."""
        if not isinstance(query, str):
            return SqlError(f"query must be a str, got {type(query).__name__}")
        if isinstance(exc, sqlite3.Error | sqlite3.Warning):
            denied, self._denied = self._denied, None
            return SqlError(denied or _describe(exc))
        if isinstance(exc, OverflowError | ValueError):
            return SqlError(f"cannot bind parameter: {exc}")
        return None

    @property
    def last_insert_rowid(self) -> int:
        """The rowid of the last row inserted by this connection (0: none yet)."""
        return int(self._conn.execute("SELECT last_insert_rowid() -- roost").fetchone()[0])

    @property
    def total_changes(self) -> int:
        """Rows written by this connection so far (triggers included)."""
        return self._conn.total_changes

    @property
    def size(self) -> int:
        """The database size in bytes (pages in use times page size)."""
        self._begin_now()
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(page_size)

    def close(self) -> None:
        """Roll back anything uncommitted and close the connection."""
        try:
            self.rollback()
            if self.shipper is not None:
                self.shipper.closing()
        finally:
            try:
                self._conn.close()
                if self.shipper is not None:
                    self.shipper.closed()
            finally:
                os.close(self._lock)  # releases the flock, whatever failed before

    # -- meta ----------------------------------------------------------------------

    def read_meta(self) -> dict[str, SqlValue]:
        """All of the hub's per-object facts (name, alarm) in one read."""
        self._begin_now()
        rows = self._conn.execute("SELECT key, value FROM _roost_meta -- roost").fetchall()
        return {str(key): value for key, value in rows}

    def fact(self, key: str) -> SqlValue:
        """One per-object fact as the running transaction sees it (None: not set). The
        facts are read once and kept: every write of them goes through ``write_meta``,
        which drops the copy, as a rollback does."""
        facts = self._facts
        if facts is None:
            facts = self._facts = self.read_meta()
        return facts.get(key)

    def write_meta(self, key: str, value: SqlValue) -> None:
        """Set (or with None, clear) one per-object fact inside the current transaction."""
        self._facts = None
        self._begin_now()
        if value is None:
            self._conn.execute("DELETE FROM _roost_meta WHERE key = ? -- roost", (key,))
        else:
            self._conn.execute(
                "INSERT INTO _roost_meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value -- roost",
                (key, value),
            )

    # -- the authorizer ----------------------------------------------------------------

    def _authorize(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        _db: str | None,
        source: str | None,
    ) -> int:
        if not self._user_mode:
            return sqlite3.SQLITE_OK
        if action in READ_ACTIONS:
            if self._compiled is None:
                self._compiled = True
        else:
            self._compiled = False
        reason = DENIED_ACTIONS.get(action)
        if reason is None and action == sqlite3.SQLITE_PRAGMA:
            pragma = (arg1 or "").lower()
            if pragma not in ALLOWED_PRAGMAS:
                reason = f"PRAGMA {pragma} is not allowed in sql.exec"
        elif reason is None and action in TABLE_ACTIONS:
            if action == sqlite3.SQLITE_DROP_TABLE:
                self._dropping = arg1  # its feed triggers go with it (checked next)
            own_trigger = source is not None and source.startswith(RESERVED_PREFIX)
            own_trigger = own_trigger or (
                action == sqlite3.SQLITE_DROP_TRIGGER
                and arg2 is not None
                and arg2 == self._dropping
                and not arg2.lower().startswith(RESERVED_PREFIX)
            )
            for name in (arg1, arg2):
                if name and name.lower().startswith(RESERVED_PREFIX) and not own_trigger:
                    reason = f"{name!r} is reserved: names starting with {RESERVED_PREFIX!r}"
                    reason += " belong to the hub"
                    break
        if reason is None:
            return sqlite3.SQLITE_OK
        self._denied = reason
        return sqlite3.SQLITE_DENY


def _describe(exc: sqlite3.Error | sqlite3.Warning) -> str:
    kind = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return f"{exc} ({kind})"
