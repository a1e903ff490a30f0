"""The object the SDK's end-to-end tests talk to: it writes every message it handles to
its own SQLite, in order, so a test counts handler runs exactly; RPC methods read them.

Messages: ``echo:x`` answers ``x``; ``shout:x`` broadcasts ``x``; ``fail:x`` records
``x``, then raises (the write rolls back); anything else is recorded. Binary messages
are answered reversed. ``vars``: ``TOKEN`` (a required ``token`` query item, if set),
``STARTED`` and ``GATE`` (asyncio events ``block()`` signals and waits on).
"""

from __future__ import annotations

import asyncio
from typing import Any

import hub


class Ledger(hub.DurableObject):
    """Records messages; answers RPC about them."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS handled"
            " (n INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT NOT NULL)"
        )

    def _var(self, name: str) -> Any:
        return getattr(self.env, name, None)

    async def fetch(self, request: hub.Request) -> hub.Response:
        expected = self._var("TOKEN")
        if expected is not None and request.query.get("token") != expected:
            return hub.Response("bad token", status=403)
        ws = self.ctx.accept_websocket(request)
        ws.serialize_attachment({"who": request.query.get("who")})
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        if isinstance(message, bytes):
            ws.send(message[::-1])
            return
        verb, _, arg = message.partition(":")
        if verb == "echo":
            ws.send(arg)
        elif verb == "shout":
            self.ctx.broadcast(arg)
        else:
            self.ctx.storage.sql.exec("INSERT INTO handled (message) VALUES (?)", message)
            if verb == "fail":
                raise RuntimeError("failed on purpose")

    async def handled(self) -> list[str]:
        """Every message handled, in order."""
        return [
            str(row["message"])
            for row in self.ctx.storage.sql.exec("SELECT message FROM handled ORDER BY n")
        ]

    async def count(self) -> int:
        """How many handler runs committed."""
        row = self.ctx.storage.sql.exec("SELECT count(*) AS n FROM handled").one()
        return int(row["n"] or 0)

    async def add(self, a: int, b: int = 0) -> int:
        """``a + b``: checks argument types (annotations)."""
        return a + b

    async def boom(self) -> None:
        """Raises: the call fails with ``object_error``."""
        raise ValueError("boom on purpose")

    async def name(self) -> str:
        """The object's name (as the URL carried it)."""
        name = self.ctx.id.name
        assert name is not None
        return name

    async def attachments(self) -> list[Any]:
        """The attachment of every open socket."""
        return [ws.deserialize_attachment() for ws in self.ctx.get_websockets()]

    async def block(self) -> str:
        """Signal ``STARTED``, then wait until the test sets ``GATE``."""
        started: asyncio.Event = self._var("STARTED")
        gate: asyncio.Event = self._var("GATE")
        started.set()
        await gate.wait()
        return "released"

    def _secret(self) -> str:
        return "never over the wire"
