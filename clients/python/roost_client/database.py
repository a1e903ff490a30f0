"""Database objects from Python: ``roost_client.database(url, name, token=...)``.

::

    db = roost_client.database("http://127.0.0.1:8787", "org_acme", token=token)
    await db.query("SELECT * FROM users WHERE id = ?", "u1")
    users = db.table("users", User)                    # rows typed by msgspec
    await users.insert({"id": "u1", "email": "ann@acme.com"})
    ann = await users.where(email={"like": "%@acme.com"}).first()
    async for change in db.subscribe("users", where={"id": "u1"}):
        ...

Verbs go over HTTP (``POST /db/{name}/{verb}``, docs/databases.md) through a small
keep-alive client (``roost_client.http``); subscriptions over ``roost.v1`` on
``/db/{name}?token=`` with the SDK's own feed machinery (resume without gap or repeat).
Errors are the SDK's classes by code (``Unauthorized``, ``ReadOnly``, ``QueryError``,
``ResultTooLarge``, ``NoSuchDatabase``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar, overload
from urllib.parse import quote

import orjson

from roost_client.answers import result_of
from roost_client.closing import Closing
from roost_client.connection import Connection
from roost_client.feed import Change
from roost_client.http import HttpClient
from roost_client.subscriptions import Subscription
from roost_client.tables import Table
from roost_client.where import Where, where_conditions

__all__ = ["Database", "MigrateResult", "QueryResult", "Subscribed", "database", "path_of"]

T = TypeVar("T")
Migrations = Sequence[tuple[str, str]] | Mapping[str, str]


def path_of(name: str) -> str:
    """``name`` as one percent-encoded path segment."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a database name is a non-empty string, got {name!r}")
    return quote(name, safe="")


def migrations_body(migrations: Migrations) -> dict[str, Any]:
    """The ``migrate`` arguments for ``[(name, sql), ...]`` or ``{name: sql}``."""
    pairs = migrations.items() if isinstance(migrations, Mapping) else migrations
    return {"migrations": [{"name": name, "sql": sql} for name, sql in pairs]}


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What one statement returned (``rows`` as lists, in ``columns`` order)."""

    columns: list[str]
    rows: list[list[Any]]
    rows_read: int
    rows_written: int
    last_insert_rowid: int | None

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}``."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def restore_body(at: float | datetime | str) -> dict[str, Any]:
    """The ``restore`` arguments for a time (epoch seconds, aware datetime) or bookmark."""
    if isinstance(at, str):
        return {"bookmark": at}
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("a restore time must be timezone-aware (datetime.now(UTC))")
        return {"at": at.timestamp()}
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise TypeError(f"restore takes epoch seconds, a datetime or a bookmark, got {at!r}")
    return {"at": float(at)}


@dataclass(frozen=True, slots=True)
class Restored:
    """A restore: the bookmark restored, and the one that undoes it."""

    restored: str
    undo: str


@dataclass(frozen=True, slots=True)
class MigrateResult:
    """The migrations applied by this call, and those applied before (skipped)."""

    applied: list[str]
    skipped: list[str]


def _query_result(value: dict[str, Any]) -> QueryResult:
    return QueryResult(
        value["columns"],
        value["rows"],
        value["rows_read"],
        value["rows_written"],
        value.get("last_insert_rowid"),
    )


class Database(Closing):
    """One database, reached with its token. ``async with`` closes its connections."""

    def __init__(self, url: str, name: str, *, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.name = name
        self._path = f"/db/{path_of(name)}"
        self._token = token
        self._http = HttpClient(self.url, timeout=timeout)
        self._socket: Connection | None = None

    def __repr__(self) -> str:
        return f"<Database {self.name!r} at {self.url}>"

    async def call(self, verb: str, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one verb with its keyword arguments and return its result (the
        methods below are this with types)."""
        response = await self._http.request(
            "POST",
            f"{self._path}/{quote(verb, safe='')}",
            orjson.dumps(kwargs or {}),
            {"Authorization": f"Bearer {self._token}"},
        )
        return result_of(response)

    async def query(self, sql: str, *params: Any) -> QueryResult:
        """Run one statement with ``?`` parameters."""
        return _query_result(await self.call("query", {"sql": sql, "params": list(params)}))

    async def batch(
        self, statements: Sequence[str | tuple[str, Sequence[Any]]]
    ) -> list[QueryResult]:
        """Run statements (``sql`` or ``(sql, params)``) in one transaction: all or none."""
        items = [
            {"sql": s, "params": []} if isinstance(s, str) else {"sql": s[0], "params": list(s[1])}
            for s in statements
        ]
        result = await self.call("batch", {"statements": items})
        return [_query_result(r) for r in result["results"]]

    async def migrate(self, migrations: Migrations) -> MigrateResult:
        """Apply ``[(name, sql), ...]`` (or ``{name: sql}``) in order, each once."""
        result = await self.call("migrate", migrations_body(migrations))
        return MigrateResult(result["applied"], result["skipped"])

    async def stats(self) -> dict[str, Any]:
        """Size, tables with row counts, rows read and written, feed seq, last write."""
        return await self.call("stats")

    async def health(self) -> dict[str, Any]:
        """``{"status": "ok", "name": ...}`` once the database answered a query."""
        return await self.call("health")

    async def restore(self, at: float | datetime | str) -> Restored:
        """Restore the database to a point in time: epoch seconds, an aware datetime, or
        a bookmark (``stats()["bookmark"]``). Needs a read-write token. Open sockets
        stay; feed subscribers reset and resubscribe. Restoring ``.undo`` undoes it."""
        result = await self.call("restore", restore_body(at))
        return Restored(result["restored"], result["undo"])

    @overload
    def table(self, name: str) -> Table[dict[str, Any]]: ...
    @overload
    def table(self, name: str, row_type: type[T]) -> Table[T]: ...
    def table(self, name: str, row_type: type[Any] | None = None) -> Table[Any]:
        """The chainable client of table ``name`` (rows as ``row_type`` when given)."""
        return Table(self.call, name, row_type)

    def subscribe(
        self,
        table: str,
        *,
        where: Where | None = None,
        columns: Sequence[str] | None = None,
        snapshot: bool = True,
        since: int | None = None,
    ) -> Subscribed:
        """The change feed of ``table`` over ``roost.v1`` (``async for change in ...``):
        the matching rows first (op ``snapshot``), then every insert, update and delete.
        ``snapshot=False``: only the changes made after the subscription is opened (its
        first ``async for`` step or ``async with``: it reads ``stats().feed_seq`` then,
        and none is lost while the ``sub`` is on its way); ``since``: the changes after
        that seq. ``where`` as
        ``Table.where`` (``roost_client.where``): the object form ``{column: value,
        column: {op: value}, "or": [...]}`` or a list of conditions."""
        conditions = where_conditions(where)
        if since is not None:
            snapshot = False
        return Subscribed(self, table, conditions, columns, snapshot, since)

    async def socket(self) -> Connection:
        """The ``roost.v1`` connection of this database (opened on first use)."""
        if self._socket is None:
            from roost_client import connect  # the package imports this module

            ws_url = "ws" + self.url[4:] if self.url.startswith("http") else self.url
            self._socket = await connect(f"{ws_url}{self._path}", token=self._token)
        return self._socket

    async def aclose(self) -> None:
        """Close the HTTP connections and the ``roost.v1`` socket."""
        await self._http.aclose()
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close()


class Subscribed:
    """``db.subscribe(...)``: an async iterator of ``Change`` (and ``async with``)."""

    def __init__(
        self,
        db: Database,
        table: str,
        where: list[Any],
        columns: Sequence[str] | None,
        snapshot: bool,
        since: int | None,
    ) -> None:
        self._db = db
        self._args = (table, where, columns, snapshot, since)
        self._sub: Subscription | None = None

    async def _opened(self) -> Subscription:
        if self._sub is None:
            table, where, columns, snapshot, since = self._args
            if not snapshot and since is None:
                # Changes from now on, with none lost while the ``sub`` is on its way.
                since = int((await self._db.stats())["feed_seq"])
            conn = await self._db.socket()
            self._sub = conn.subscribe(
                table, where=where, columns=columns, snapshot=snapshot, since=since
            )
        return self._sub

    def __aiter__(self) -> Subscribed:
        return self

    async def __anext__(self) -> Change:
        return await (await self._opened()).__anext__()

    async def close(self) -> None:
        """End the subscription (the database's socket stays open for others)."""
        if self._sub is not None:
            await self._sub.close()

    async def __aenter__(self) -> Subscribed:
        await self._opened()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def database(url: str, name: str, *, token: str, timeout: float = 30.0) -> Database:
    """The client of database ``name`` on the hub at ``url`` (``http://host:port``)."""
    return Database(url, name, token=token, timeout=timeout)
