"""The built-in class bound to ``DATABASE``: one logical database per object.

Rules:

1. Every data call brings its token and is checked against the database's own tokens
   before it runs (``Catalog.check``), so revoking a token refuses its next call at
   once; revoking (or deleting) also closes the sockets opened with it (close codes
   4401 and 4404, docs/databases.md).
2. ``db_call`` (data) and ``db_admin`` (provisioning) are its only RPC methods. The
   front reaches them only from ``/db/...`` (with a token) and ``/_roost/databases``
   (with the admin key): the generic object routes refuse the ``DATABASE`` binding.
   An app's own objects may call them through ``env.DATABASE`` (server-side code is
   trusted).
3. A WebSocket is accepted only with a valid token; its attachment holds the token id,
   which ``feed_allowed`` checks again for every subscription.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from hub.databases.catalog import Catalog
from hub.databases.engine import Engine
from hub.databases.restore import request_restore
from hub.databases.settings import DatabaseSettings
from hub.errors import (
    DatabaseExistsError,
    InvalidArgumentsError,
    MethodNotFoundError,
    NoSuchTokenError,
    NotFoundError,
    ReadOnlyError,
)
from hub.http import Request, Response
from hub.net.answers import error_body
from hub.object import DurableObject

if TYPE_CHECKING:
    from hub.runtime.context import DurableObjectState
    from hub.runtime.stub import Env
    from hub.runtime.websocket import WebSocket

__all__ = [
    "CLOSE_DELETED",
    "CLOSE_REVOKED",
    "DatabaseObject",
    "check_admin_arguments",
    "database_class",
]

#: Close codes of sockets whose token was revoked / whose database was deleted.
CLOSE_REVOKED = 4401
CLOSE_DELETED = 4404

Result = dict[str, Any]

#: The body members each admin action takes (``migrate``'s are checked by the verb).
_ADMIN_ARGUMENTS: dict[str, set[str]] = {
    "create": {"read_only"},
    "token": {"read_only", "revoke_others"},
    "revoke": {"token_id"},
    "migrate": {"migrations"},
    "restore": {"at", "bookmark"},
}


def check_admin_arguments(action: str, kwargs: dict[str, Any]) -> None:
    """Refuse an admin body with unknown members or a ``read_only`` not a bool
    (``InvalidArgumentsError``). The gate checks it before waking the object, so a
    malformed ``create`` leaves no file behind; the object checks it again."""
    unknown = set(kwargs) - _ADMIN_ARGUMENTS.get(action, set())
    if unknown:
        raise InvalidArgumentsError(f"{action} takes no {sorted(unknown)!r}")
    read_only = kwargs.get("read_only", False)
    if not isinstance(read_only, bool):
        raise InvalidArgumentsError(f"read_only must be true or false, got {read_only!r}")


class DatabaseObject(DurableObject):
    """A database object (docs/databases.md); bound to ``DATABASE`` by ``Hub(databases=...)``."""

    settings: ClassVar[DatabaseSettings] = DatabaseSettings()

    def __init__(self, ctx: DurableObjectState, env: Env) -> None:
        super().__init__(ctx, env)
        db = ctx.storage.database
        self._catalog = Catalog(db)
        self._engine = Engine(db, ctx.storage.feeds, self.settings)

    @property
    def _name(self) -> str:
        return self.ctx.id.name or self.ctx.id.hex

    # -- data ---------------------------------------------------------------------------

    async def db_call(self, token: str, verb: str, kwargs: dict[str, Any]) -> Result:
        """Run one verb for the holder of ``token``."""
        catalog = self._catalog
        catalog.require(self._name)
        grant = catalog.check(token)
        if verb == "health":
            self.ctx.storage.database.internal("SELECT 1 -- roost")
            return {"status": "ok", "name": self._name}
        if verb == "stats":
            return self._stats()
        if verb == "restore":
            if grant.read_only:
                raise ReadOnlyError("this token is read-only: restore writes")
            return await request_restore(self.ctx.storage, kwargs)
        result = self._engine.run(verb, kwargs, read_only=grant.read_only)
        if self._engine.wrote:
            self._save_totals(last_write=time.time())
        return result

    def _save_totals(self, *, last_write: float | None = None) -> None:
        db, engine = self.ctx.storage.database, self._engine
        meta = db.read_meta()
        db.write_meta("db_rows_read", int(meta.get("db_rows_read") or 0) + engine.rows_read)
        db.write_meta(
            "db_rows_written", int(meta.get("db_rows_written") or 0) + engine.rows_written
        )
        engine.rows_read = engine.rows_written = 0
        if last_write is not None:
            db.write_meta("db_last_write", last_write)

    def _stats(self) -> Result:
        db, engine = self.ctx.storage.database, self._engine
        meta = db.read_meta()
        return {
            "name": self._name,
            "created": meta.get("db_created"),
            "size": db.size,
            "tables": engine.table_counts(),
            "rows_read": int(meta.get("db_rows_read") or 0) + engine.rows_read,
            "rows_written": int(meta.get("db_rows_written") or 0) + engine.rows_written,
            "feed_seq": self.ctx.storage.feeds.last_seq(),
            "bookmark": self._bookmark(),
            "last_write": meta.get("db_last_write"),
        }

    def _bookmark(self) -> str | None:
        """The current bookmark (None when backups are off)."""
        shipper = self.ctx.storage.database.shipper
        if shipper is not None:
            shipper.flush()
        last = None if shipper is None else shipper.last
        return None if last is None else str(last)

    async def fetch(self, request: Request) -> Response:
        """Accept a WebSocket from a token holder (``?token=`` or a Bearer header)."""
        self._catalog.require(self._name)
        if not request.is_websocket:
            status, body = error_body(NotFoundError("database verbs are POST /db/{name}/{verb}"))
            return Response(body, status=status, headers={"Content-Type": "application/json"})
        token = request.query.get("token")
        if token is None:
            header = request.headers.get("authorization", "")
            token = header[7:] if header[:7].lower() == "bearer " else ""
        grant = self._catalog.check(token)
        ws = self.ctx.accept_websocket(request)
        ws.serialize_attachment({"token_id": grant.token_id})
        return Response.websocket(ws)

    async def websocket_message(self, ws: WebSocket, message: str | bytes) -> None:
        """Application messages mean nothing to a database: acknowledged and ignored."""

    def feed_allowed(self, ws: WebSocket, table: str) -> bool:
        """Subscriptions need the socket's token to be still in force."""
        attachment = ws.deserialize_attachment()
        token_id = attachment.get("token_id") if isinstance(attachment, dict) else None
        return self._catalog.exists and self._catalog.still_valid(token_id)

    # -- provisioning ---------------------------------------------------------------------

    async def db_admin(self, action: str, kwargs: dict[str, Any]) -> Result:
        """Provisioning (the admin API): create, info, token, revoke, migrate, delete."""
        catalog, name = self._catalog, self._name
        check_admin_arguments(action, kwargs)
        read_only = kwargs.get("read_only", False)
        if action == "create":
            if catalog.exists:
                raise DatabaseExistsError(f"database {name[:200]!r} exists already")
            created = catalog.create()
            self._engine.sync_feeds()
            return {**self._issue(read_only), "created": created}
        catalog.require(name)
        if action == "info":
            meta = self.ctx.storage.database.read_meta()
            return {
                "name": name,
                "created": meta.get("db_created"),
                "size": self.ctx.storage.database.size,
                "tokens": catalog.describe_tokens(),
            }
        if action == "token":
            revoke_others = kwargs.get("revoke_others", False)
            if not isinstance(revoke_others, bool):
                raise InvalidArgumentsError(
                    f"revoke_others must be true or false, got {revoke_others!r}"
                )
            others = catalog.token_ids() if revoke_others else []
            self._revoke(others)
            return {**self._issue(read_only), "revoked": others}
        if action == "revoke":
            token_id = kwargs.get("token_id")
            if token_id not in catalog.token_ids():
                raise NoSuchTokenError(
                    f"no token {str(token_id)[:40]!r} in database {name[:200]!r}"
                )
            self._revoke([str(token_id)])
            return {"revoked": token_id}
        if action == "restore":
            return await request_restore(self.ctx.storage, kwargs)
        if action == "migrate":
            result = self._engine.run("migrate", kwargs, read_only=False)
            self._save_totals(last_write=time.time())
            return result
        if action == "delete":
            await self.ctx.storage.delete_all()
            catalog.mark_deleted()
            for ws in self.ctx.get_websockets():
                ws.close(CLOSE_DELETED, "database deleted")
            return {"deleted": name}
        raise MethodNotFoundError(f"no admin action {action[:80]!r}")

    def _issue(self, read_only: bool) -> Result:
        minted = self._catalog.add_token(read_only)
        return {
            "name": self._name,
            "token": minted.token,
            "token_id": minted.token_id,
            "read_only": read_only,
        }

    def _revoke(self, token_ids: list[str]) -> None:
        self._catalog.revoke(token_ids)
        gone = set(token_ids)
        for ws in self.ctx.get_websockets():
            attachment = ws.deserialize_attachment()
            if isinstance(attachment, dict) and attachment.get("token_id") in gone:
                ws.close(CLOSE_REVOKED, "token revoked")


def database_class(settings: DatabaseSettings) -> type[DatabaseObject]:
    """The class to bind to ``DATABASE`` with these settings."""
    return type("DatabaseObject", (DatabaseObject,), {"settings": settings})
