"""The front's side of database objects: ``/db/...`` and ``/_roost/databases...``.

Rules:

1. A request for a database whose file does not exist is answered ``no_such_database``
   here, without waking (and so without creating) an object: names are data, and a
   probe of random names must not fill the disk.
2. Data calls carry the client's token to the object (``db_call``), which checks it;
   this side only reads it from the request (``Authorization: Bearer`` for HTTP,
   ``?token=`` or the header for a WebSocket).
3. Provisioning needs the hub's admin key; a hub without one refuses it (401).
4. The admin list reads each database's file read-only in a thread: no object wakes.
5. Deleting: the object forgets its tokens, drops its tables and closes its sockets;
   then it is evicted and its files are removed here. Everything crosses the front/host
   seam as ``call_wire`` and ``hibernate``, so it works with ``--workers`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hub.databases.catalog import read_listing
from hub.databases.database_object import check_admin_arguments
from hub.databases.settings import BINDING
from hub.errors import (
    InvalidArgumentsError,
    InvalidIdError,
    MethodNotAllowedError,
    NoSuchDatabaseError,
    TokenRejectedError,
    UnauthorizedError,
)
from hub.storage.layout import object_path

if TYPE_CHECKING:
    from hub.http import Request
    from hub.ids import ObjectId
    from hub.net.front import Front
    from hub.net.routes import DatabaseAdminRoute, DatabaseRoute

__all__ = ["MAX_NAME_BYTES", "DatabaseGate", "bearer", "restart"]

#: The longest database name, in UTF-8 bytes.
MAX_NAME_BYTES = 512
_READ_VERBS = frozenset({"stats", "health"})
#: Database names whose id and path a gate keeps (then it starts over).
_KNOWN_NAMES = 4096

Answer = tuple[int, dict[str, Any]]


async def restart(front: Front, object_id: ObjectId) -> None:
    """After a ``restore`` answer: evict the database and start it again at once, so
    the restore is done (and its subscribers told to reset) before anything else."""
    await front.host.hibernate(object_id)
    await front.host.call_wire(object_id, "db_admin", ["info", {}], {})


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def _body(request: Request, raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidArgumentsError("request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidArgumentsError("request body must be a JSON object")
    return payload


class DatabaseGate:
    """Database routes of one front; ``data_dir`` is where the object files live."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        #: Name -> (id, file) of databases asked for lately: an id is a SHA-256 of the
        #: name and a path three joins, on every request otherwise. Only what never
        #: changes is kept; whether the file exists is asked every time (rule 1).
        self._known: dict[str, tuple[ObjectId, str]] = {}

    def object_id(self, front: Front, name: str) -> ObjectId:
        """The id of database ``name`` (``InvalidIdError`` for an over-long name)."""
        return self._lookup(front, name)[0]

    def existing(self, front: Front, name: str) -> ObjectId:
        """The id of database ``name``; ``NoSuchDatabaseError`` when it has no file."""
        object_id, path = self._lookup(front, name)
        if not os.path.exists(path):
            raise NoSuchDatabaseError(f"no database {name[:200]!r}")
        return object_id

    def _lookup(self, front: Front, name: str) -> tuple[ObjectId, str]:
        known = self._known.get(name)
        if known is None:
            if len(name.encode()) > MAX_NAME_BYTES:
                raise InvalidIdError(f"database name over {MAX_NAME_BYTES} bytes")
            object_id = front.host.object_id(BINDING, name)
            known = object_id, str(object_path(self.data_dir, object_id.hex))
            if len(self._known) >= _KNOWN_NAMES:
                self._known.clear()
            self._known[name] = known
        return known

    # -- data ----------------------------------------------------------------------------

    async def call(
        self, front: Front, route: DatabaseRoute, request: Request, raw: bytes
    ) -> Answer:
        """A data call over HTTP: ``POST /db/{name}/{verb}`` (``GET`` for stats, health)."""
        assert route.verb is not None
        if request.method != "POST" and not (request.method == "GET" and route.verb in _READ_VERBS):
            raise MethodNotAllowedError(f"{route.verb} takes POST, got {request.method!r}")
        object_id = self.existing(front, route.name)
        token = bearer(request)
        if token is None:
            raise TokenRejectedError("a database token is required: Authorization: Bearer <token>")
        kwargs = _body(request, raw) if request.method == "POST" else {}
        front.counters.rpc_calls += 1
        result = await front.host.call_wire(object_id, "db_call", [token, route.verb, kwargs], {})
        if route.verb == "restore":
            await restart(front, object_id)
        return 200, result

    # -- provisioning ----------------------------------------------------------------------

    async def admin(
        self, front: Front, route: DatabaseAdminRoute, request: Request, raw: bytes
    ) -> Answer:
        """One ``/_roost/databases`` request (the admin key is checked here)."""
        if front.admin_key is None:
            raise UnauthorizedError(
                "database provisioning needs an admin key: roost serve --admin-key"
            )
        given = (bearer(request) or "").encode()
        if not secrets.compare_digest(given, front.admin_key.encode()):
            raise UnauthorizedError("admin key required: Authorization: Bearer <key>")
        if route.action == "list":
            return 200, {"databases": await self.listing(front)}
        body = _body(request, raw)
        if route.action == "create":
            name = body.pop("name", None)
            if not isinstance(name, str) or not name:
                raise InvalidArgumentsError('create takes {"name": "<a non-empty string>"}')
            check_admin_arguments("create", body)  # before the object (and its file) exists
            object_id = self.object_id(front, name)
            result = await front.host.call_wire(object_id, "db_admin", ["create", body], {})
            return 201, result
        assert route.name is not None
        object_id = self.existing(front, route.name)
        if route.action == "revoke":
            body = {"token_id": route.token_id}
        result = await front.host.call_wire(object_id, "db_admin", [route.action, body], {})
        if route.action == "delete":
            await front.host.hibernate(object_id)
            self._remove(object_id)
        if route.action == "restore":
            await restart(front, object_id)
        return (201 if route.action == "token" else 200), result

    def _remove(self, object_id: ObjectId) -> None:
        path = object_path(self.data_dir, object_id.hex)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")

    async def listing(self, front: Front) -> list[dict[str, Any]]:
        """Name, creation time, size and token count of every database (no wake)."""
        rows = [
            (hex_id, name)
            for binding, hex_id, name in await front.host.list_objects()
            if binding == BINDING and name is not None
        ]
        data_dir = self.data_dir

        def read() -> list[dict[str, Any]]:
            found = []
            for hex_id, name in rows:
                path = object_path(data_dir, hex_id)
                facts = read_listing(path) if path.exists() else None
                if facts is not None:
                    found.append(
                        {
                            "name": name,
                            "created": facts["created"],
                            "size": path.stat().st_size,
                            "tokens": facts["tokens"],
                        }
                    )
            return sorted(found, key=lambda row: row["name"])

        return await asyncio.to_thread(read)
