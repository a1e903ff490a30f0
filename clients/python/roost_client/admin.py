"""Provisioning databases with the admin key: ``roost_client.admin(url, admin_key)``.

::

    admin = roost_client.admin("http://127.0.0.1:8787", admin_key)
    created = await admin.create_database("org_acme")     # created.token: keep it
    reader = await admin.create_token("org_acme", read_only=True)
    await admin.revoke_token("org_acme", reader.token_id)
    await admin.delete_database("org_acme")

Every call is one request of docs/databases.md ("Admin API"); errors are the SDK's
classes by code (``DatabaseExists``, ``NoSuchDatabase``, ``Unauthorized``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson

from roost_client.answers import result_of
from roost_client.closing import Closing
from roost_client.database import (
    MigrateResult,
    Migrations,
    Restored,
    migrations_body,
    path_of,
    restore_body,
)
from roost_client.http import HttpClient

__all__ = ["Admin", "DatabaseInfo", "IssuedToken", "admin"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token of a database (shown once: the hub keeps only its hash)."""

    name: str
    token: str
    token_id: str
    read_only: bool
    #: Token ids revoked by the same call (``revoke_others``).
    revoked: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """One database of the list."""

    name: str
    created: float
    size: int
    tokens: int


class Admin(Closing):
    """The databases' admin API of one hub."""

    def __init__(self, url: str, admin_key: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._key = admin_key
        self._http = HttpClient(self.url, timeout=timeout)

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self._http.request(
            method,
            f"/_roost/databases{path}",
            None if body is None else orjson.dumps(body),
            {"Authorization": f"Bearer {self._key}"},
        )
        return result_of(response)

    async def create_database(self, name: str, *, read_only: bool = False) -> IssuedToken:
        """Create database ``name`` and its first token (``DatabaseExists`` if it exists)."""
        path_of(name)
        result = await self._request("POST", "", {"name": name, "read_only": read_only})
        return IssuedToken(name, result["token"], result["token_id"], result["read_only"])

    async def list_databases(self) -> list[DatabaseInfo]:
        """Every database, by name (read without waking them)."""
        result = await self._request("GET", "")
        return [
            DatabaseInfo(d["name"], d["created"], d["size"], d["tokens"])
            for d in result["databases"]
        ]

    async def database_info(self, name: str) -> dict[str, Any]:
        """Creation time, size and tokens (ids, read-only flags) of one database."""
        return await self._request("GET", f"/{path_of(name)}")

    async def create_token(
        self, name: str, *, read_only: bool = False, revoke_others: bool = False
    ) -> IssuedToken:
        """A new token of ``name``; ``revoke_others`` revokes every other one (rotation)."""
        body = {"read_only": read_only, "revoke_others": revoke_others}
        result = await self._request("POST", f"/{path_of(name)}/tokens", body)
        return IssuedToken(
            name, result["token"], result["token_id"], result["read_only"], result["revoked"]
        )

    async def revoke_token(self, name: str, token_id: str) -> None:
        """Revoke one token: its next call is refused, its sockets are closed (4401)."""
        await self._request("DELETE", f"/{path_of(name)}/tokens/{quote(token_id, safe='')}")

    async def migrate(self, name: str, migrations: Migrations) -> MigrateResult:
        """Apply ``[(name, sql), ...]`` to database ``name`` in order, each once."""
        result = await self._request(
            "POST", f"/{path_of(name)}/migrate", migrations_body(migrations)
        )
        return MigrateResult(result["applied"], result["skipped"])

    async def restore_database(self, name: str, at: float | datetime | str) -> Restored:
        """Restore database ``name`` to ``at`` (epoch seconds, an aware datetime or a
        bookmark); restoring the answer's ``undo`` undoes it."""
        result = await self._request("POST", f"/{path_of(name)}/restore", restore_body(at))
        return Restored(result["restored"], result["undo"])

    async def delete_database(self, name: str) -> None:
        """Delete ``name``: its sockets close (4404), its file goes, its tokens stop."""
        await self._request("DELETE", f"/{path_of(name)}")

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()


def admin(url: str, admin_key: str, *, timeout: float = 30.0) -> Admin:
    """The admin client of the hub at ``url`` (``http://host:port``)."""
    return Admin(url, admin_key, timeout=timeout)
