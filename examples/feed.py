"""A shared todo list whose clients stay in sync through the table's change feed.

Every list is one ``TodoList`` object with one SQL table, ``todos``, declared as a feed
table (protocol/SPEC.md §9). Run it with ``python examples/feed.py`` (or
``roost serve examples/feed.py``) and open http://127.0.0.1:8787/ in two browsers; the
page subscribes with roost-client, which the hub serves at ``/_roost/client.js``.

Rules:

1. Clients change the list only by calling the object's methods (``add``, ``toggle``,
   ``rename``, ``remove``, ``clear_done``) and learn every change only from the feed:
   the method's answer is not used to update the page, so every client, the one that
   made the change included, sees the same changes in the same order.
2. A change exists if and only if its write committed; it carries a ``seq``. A client
   that reconnects subscribes again with ``since`` = the highest ``seq`` it saw and
   gets exactly what it missed (or ``reset``, and then takes a fresh snapshot).
3. Bad arguments never reach the table: the method raises before it writes, and the
   caller gets an ``error`` frame (SPEC §7): ``invalid_arguments`` when the arguments
   do not match the annotations (``add(42)``, checked before the method runs),
   ``object_error`` when the method refuses them (an empty or too long title, an
   unknown id; the message says which), ``method_not_found`` for anything else.

The wire, ``roost.v1`` frames (``->`` client to hub, ``<-`` hub to client; roost-client
gives each ``sub`` a fresh id from its call ids, written ``S1``, ``S2`` here)::

    -> {"t": "hello", "session": S}
    -> {"t": "sub", "id": S1, "table": "todos", "snapshot": true}
    <- {"t": "snapshot", "id": S1, "seq": 4, "rows": [{"id": 1, "title": "milk",
        "done": 0, "created_at": 1700000000000}, ...]}
    <- {"t": "subscribed", "id": S1, "seq": 4}
    -> {"t": "call", "id": 9007199254740990, "method": "add", "args": ["bread"]}
    <- {"t": "result", "id": 9007199254740990, "result": 2}
    <- {"t": "changes", "id": S1, "changes": [{"seq": 5, "op": "insert", "row": {...}}]}
    (after a reconnect)
    -> {"t": "sub", "id": S2, "table": "todos", "since": 5}
    <- {"t": "changes", ...}  (what was missed)  <- {"t": "subscribed", "id": S2, "seq": 9}

The methods are also plain HTTP RPC (``POST /objects/todo-list/{list}/rpc/{method}``)::

    $ curl -d '{"args": ["milk"]}' http://127.0.0.1:8787/objects/todo-list/home/rpc/add
    {"result":1}
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from urllib.parse import unquote

import hub

__all__ = ["MAX_NAME", "MAX_TITLE", "MAX_TODOS", "TodoList", "app", "route"]

#: Longest list name, in characters.
MAX_NAME = 32
#: Longest title, in characters (after stripping spaces at either end).
MAX_TITLE = 200
#: Most todos one list holds.
MAX_TODOS = 1000

LIST_PREFIX = "/objects/todo-list/"
PAGE = (Path(__file__).parent / "feed.html").read_bytes()
HTML = {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}


def valid_name(name: str) -> bool:
    """A list name: 1 to ``MAX_NAME`` printable characters, no edge spaces."""
    return 0 < len(name) <= MAX_NAME and name.isprintable() and name == name.strip()


class TodoList(hub.DurableObject):
    """One todo list: its rows in SQLite, every change of them in the feed."""

    feeds = ("todos",)

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        # Runs on every activation, after each wake too: cheap and idempotent. The feed
        # is enabled after the constructor (hub.DurableObject), so the table exists by
        # then. AUTOINCREMENT: a deleted todo's id is never given to a new one, so a
        # late toggle or rename from another client cannot hit the wrong todo.
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS todos ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " title TEXT NOT NULL,"
            " done INTEGER NOT NULL DEFAULT 0,"
            " created_at INTEGER NOT NULL)"
        )

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Serve the page (plain GET) or accept a ``roost.v1`` WebSocket."""
        if request.path.rstrip("/").count("/") != 3:
            return hub.Response("not found", status=404)
        if not request.is_websocket:
            if request.method != "GET":
                return hub.Response("method not allowed", status=405, headers={"allow": "GET"})
            return hub.Response(PAGE, headers=HTML)
        offered = request.headers.get("sec-websocket-protocol", "")
        if "roost.v1" not in (p.strip() for p in offered.split(",")):
            # A plain socket could neither subscribe nor call: say so at the upgrade.
            return hub.Response("expected the roost.v1 subprotocol", status=400)
        return hub.Response.websocket(self.ctx.accept_websocket(request))

    def add(self, title: str) -> int:
        """Add a todo (not done); its id."""
        title = _checked_title(title)
        sql = self.ctx.storage.sql
        count = int(sql.exec("SELECT count(*) AS n FROM todos").one()["n"] or 0)
        if count >= MAX_TODOS:
            raise ValueError(f"the list is full: {count} todos, expected at most {MAX_TODOS}")
        row = sql.exec(
            "INSERT INTO todos (title, created_at) VALUES (?, ?) RETURNING id",
            title,
            int(time.time() * 1000),
        ).one()
        return int(row["id"] or 0)

    def toggle(self, id: int) -> None:
        """Mark a todo done, or not done again."""
        self._one("UPDATE todos SET done = 1 - done WHERE id = ? RETURNING id", id)

    def rename(self, id: int, title: str) -> None:
        """Give a todo a new title."""
        title = _checked_title(title)
        self._one("UPDATE todos SET title = ? WHERE id = ? RETURNING id", title, id)

    def remove(self, id: int) -> None:
        """Delete a todo."""
        self._one("DELETE FROM todos WHERE id = ? RETURNING id", id)

    def clear_done(self) -> int:
        """Delete every done todo; how many there were."""
        deleted = self.ctx.storage.sql.exec("DELETE FROM todos WHERE done = 1 RETURNING id")
        return len(deleted.to_array())

    def _one(self, query: str, *params: object) -> None:
        """Run a write of one todo (``id`` is the last parameter); it must exist."""
        if not self.ctx.storage.sql.exec(query, *params).to_array():
            raise LookupError(f"no todo with id {params[-1]!r}")


def _checked_title(title: str) -> str:
    stripped = title.strip()
    if not stripped:
        raise ValueError(f"empty title: expected 1 to {MAX_TITLE} characters once stripped")
    if len(stripped) > MAX_TITLE:
        raise ValueError(
            f"title too long: {len(stripped)} characters, expected at most {MAX_TITLE}"
        )
    return stripped


def route(request: hub.Request) -> hub.Response | None:
    """``GET /`` goes to the ``home`` list; a bad list name never reaches an object."""
    path = request.path
    if path == "/" and not request.is_websocket:
        return hub.Response(None, status=302, headers={"location": f"{LIST_PREFIX}home"})
    if path.startswith(LIST_PREFIX):
        name = unquote(path[len(LIST_PREFIX) :].split("/", 1)[0])
        if not valid_name(name):
            # Raised, not returned: the hub answers it (400, code "invalid_id").
            raise hub.InvalidIdError(
                f"bad list name: expected 1 to {MAX_NAME} printable characters"
            )
    return None


app = hub.Hub(objects={"TODO_LIST": TodoList}, data_dir=".roost", router=route)


async def main(host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve the lists until interrupted."""
    async with app.serve(host=host, port=port) as server:
        print(f"todo lists on {server.url}/  (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
