"""Objects with change feeds and presence for the SDK's end-to-end tests (SPEC §9, §10).

``TodoList`` feeds its table ``todos``: RPC methods insert, update and delete rows,
``trim()`` drops every kept change (a subscriber resuming from before gets ``reset``).
A socket opened with ``?name=N`` joins the presence as ``{"name": N}``; the message
``presence:JSON`` sets the sender's state (``presence:null`` leaves).

``Rows`` feeds its table ``rows`` for the SIGKILL test: ``insert(n)`` is idempotent
(the row number is the primary key), so a writer may retry a call it does not know the
fate of.

``app`` serves both (``roost serve tests/roost_client/apps/todos.py``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import hub


class TodoList(hub.DurableObject):
    """A todo list whose clients follow the table ``todos`` and see who is there."""

    feeds = ("todos",)

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS todos"
            " (id INTEGER PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0)"
        )

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Accept the socket; ``?name=N`` makes it a member of the presence."""
        ws = self.ctx.accept_websocket(request)
        if "name" in request.query:
            self.ctx.presence.set(ws, {"name": request.query["name"]})
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """``presence:JSON`` sets the sender's presence state."""
        if isinstance(message, str) and message.startswith("presence:"):
            self.ctx.presence.set(ws, json.loads(message.removeprefix("presence:")))

    async def add(self, title: str) -> int:
        """Insert a todo; its id."""
        cursor = self.ctx.storage.sql.exec(
            "INSERT INTO todos (title) VALUES (?) RETURNING id", title
        )
        new_id = cursor.one()["id"]
        assert isinstance(new_id, int)
        return new_id

    async def add_many(self, titles: list[str]) -> list[int]:
        """Insert several todos in one event (one live ``changes`` frame)."""
        return [await self.add(title) for title in titles]

    async def set_done(self, id: int, done: bool) -> None:
        """Mark a todo done or not."""
        self.ctx.storage.sql.exec("UPDATE todos SET done = ? WHERE id = ?", int(done), id)

    async def rename(self, id: int, title: str) -> None:
        """Change a todo's title."""
        self.ctx.storage.sql.exec("UPDATE todos SET title = ? WHERE id = ?", title, id)

    async def remove(self, id: int) -> None:
        """Delete a todo."""
        self.ctx.storage.sql.exec("DELETE FROM todos WHERE id = ?", id)

    async def todos(self) -> list[dict[str, Any]]:
        """Every row, in id order, as the feed shows rows."""
        return [
            {"id": row["id"], "title": row["title"], "done": row["done"]}
            for row in self.ctx.storage.sql.exec("SELECT id, title, done FROM todos ORDER BY id")
        ]

    async def seq(self) -> int:
        """The seq of the newest change of the feed (0: none yet)."""
        return self.ctx.storage.feeds.last_seq()

    async def trim(self) -> int:
        """Drop every kept change; how many were dropped."""
        return self.ctx.storage.feeds.trim(keep=0, now_ms=time.time() * 1000)


class Rows(hub.DurableObject):
    """Numbered rows, inserted at most once each, fed as ``rows``."""

    feeds = ("rows",)

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"
        )

    async def insert(self, n: int, body: str) -> None:
        """Row ``n``, unless it is there already (so a retry never doubles it)."""
        self.ctx.storage.sql.exec("INSERT OR IGNORE INTO rows (id, body) VALUES (?, ?)", n, body)

    async def rows(self) -> list[dict[str, Any]]:
        """Every row, in id order."""
        return [
            {"id": row["id"], "body": row["body"]}
            for row in self.ctx.storage.sql.exec("SELECT id, body FROM rows ORDER BY id")
        ]

    async def seq(self) -> int:
        """The seq of the newest change of the feed."""
        return self.ctx.storage.feeds.last_seq()


app = hub.Hub({"TODO_LIST": TodoList, "ROWS": Rows})
