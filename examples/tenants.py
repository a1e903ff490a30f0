"""One database per organisation: an app server provisions them and uses the table client.

The hub serves database objects (docs/databases.md); the app server holds the admin key,
creates a database per organisation on sign-up, migrates it, and keeps its read-write
token; a browser of that organisation gets a read-only token, which SQLite itself keeps
from writing. Run the whole thing in one process with::

    python examples/tenants.py

(it signs up two organisations, prints what the app server sees and the page's address
for a browser of one of them, then serves until interrupted), or serve the hub alone
(``roost serve examples/tenants.py --admin-key $KEY``; the app turns database objects
on itself) and point ``Tenants(url, key)`` at it.

The page (tenants.html, served at ``GET /`` by ``route``, on the hub's own origin since
the hub answers no CORS preflight) is what a browser of an organisation opens, as
``/#org=NAME&token=READ_ONLY_TOKEN``: it lists the members with roost-client (served by
the hub at ``/_roost/client.js``), follows the members feed, and shows ``read_only`` when
asked to add a member.

Rules:

1. An organisation's name is the database's name: any string (it is data, never a path).
2. The app server keeps each organisation's read-write token; it never sends it to a
   browser. Browsers get a read-only token (``browser_token``), and subscribe to the
   ``members`` feed with it.
3. The schema is the numbered migrations below, applied once each (``migrate``): running
   ``signup`` again for an existing organisation is ``DatabaseExists``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import msgspec
import roost_client

import hub

#: The schema of every organisation's database, applied in order, each once.
MIGRATIONS = [
    (
        "0001_members",
        "CREATE TABLE members (email TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " role TEXT NOT NULL DEFAULT 'member', joined_at REAL NOT NULL DEFAULT (unixepoch()))",
    ),
    ("0002_members_role", "CREATE INDEX members_role ON members (role)"),
]


class Member(msgspec.Struct):
    """A row of ``members``."""

    email: str
    name: str
    role: str = "member"
    joined_at: float = 0.0


@dataclass
class Tenants:
    """The app server's side: one database per organisation."""

    url: str
    admin_key: str
    #: Organisation -> its read-write token (a real server keeps these in its secrets).
    tokens: dict[str, str] = field(default_factory=dict)

    def _db(self, org: str) -> roost_client.Database:
        return roost_client.database(self.url, org, token=self.tokens[org])

    async def signup(self, org: str, owner_email: str, owner_name: str) -> None:
        """Create the organisation's database, its schema and its first member."""
        async with roost_client.admin(self.url, self.admin_key) as admin:
            created = await admin.create_database(org)
        self.tokens[org] = created.token
        async with self._db(org) as db:
            await db.migrate(MIGRATIONS)
            await db.table("members").insert(
                {"email": owner_email, "name": owner_name, "role": "owner"}
            )

    async def invite(self, org: str, email: str, name: str) -> None:
        """Add a member."""
        async with self._db(org) as db:
            await db.table("members", Member).insert(Member(email, name))

    async def members(self, org: str, *, domain: str | None = None) -> list[Member]:
        """The members, owners first then by name; only those of ``domain`` if given."""
        async with self._db(org) as db:
            query = db.table("members", Member).order_by("role", desc=True).order_by("name")
            if domain is not None:
                query = query.where(email={"like": f"%@{domain}"})
            return await query.all()

    async def promote(self, org: str, email: str) -> bool:
        """Make a member an owner; False if there is no such member."""
        async with self._db(org) as db:
            return await db.table("members").where(email=email).update({"role": "owner"}) == 1

    async def browser_token(self, org: str) -> str:
        """A read-only token for the organisation's pages (they subscribe to members)."""
        async with roost_client.admin(self.url, self.admin_key) as admin:
            return (await admin.create_token(org, read_only=True)).token

    async def close(self, org: str) -> None:
        """Delete the organisation's database (its sockets close, its file goes)."""
        async with roost_client.admin(self.url, self.admin_key) as admin:
            await admin.delete_database(org)
        self.tokens.pop(org, None)


PAGE = (Path(__file__).parent / "tenants.html").read_bytes()
HTML = {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}


def route(request: hub.Request) -> hub.Response | None:
    """``GET /`` is the members page; everything else is the hub's (``/db/``, ``/_roost/``)."""
    if request.path != "/" or request.is_websocket:
        return None
    if request.method not in ("GET", "HEAD"):
        return hub.Response("method not allowed", status=405, headers={"allow": "GET, HEAD"})
    return hub.Response(PAGE, headers=HTML)


def page_url(url: str, org: str, token: str) -> str:
    """The members page of ``org`` for a browser holding the read-only ``token``: both in
    the fragment, which browsers never send (out of access logs)."""
    return f"{url}/#{urlencode({'org': org, 'token': token})}"


#: ``roost serve examples/tenants.py --admin-key KEY`` serves this.
app = hub.Hub(objects={}, databases=True, router=route)


async def main() -> None:
    key = os.environ.get("ROOST_ADMIN_KEY") or secrets.token_urlsafe(24)
    async with app.serve(port=0, admin_key=key) as server:
        tenants = Tenants(server.url, key)
        await tenants.signup("Acme Corp", "ann@acme.com", "Ann")
        await tenants.signup("Globex", "hank@globex.com", "Hank")
        await tenants.invite("Acme Corp", "bob@acme.com", "Bob")
        await tenants.invite("Acme Corp", "eve@example.org", "Eve")
        for member in await tenants.members("Acme Corp", domain="acme.com"):
            print(f"Acme Corp: {member.name} <{member.email}> {member.role}")
        print("Globex:", [m.name for m in await tenants.members("Globex")])
        token = await tenants.browser_token("Acme Corp")
        print("a browser of Acme Corp opens", page_url(server.url, "Acme Corp", token))
        print("(Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
