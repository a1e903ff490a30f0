"""A chat: rooms by name, history, typing, presence, and a page to use it from a browser.

Every room is one ``ChatRoom`` object, so a room's messages and sockets live in one
place and its events never interleave. Run it with ``python examples/chat.py`` (or
``roost serve examples/chat.py``) and open http://127.0.0.1:8787/ in two browsers.

Rules:

1. Nothing lives on the instance. The room is evicted when idle while its sockets stay
   open (hibernation) and the constructor runs again on the next message, so messages
   are rows in the room's SQLite and who is connected is each socket's attachment and
   ``user:<name>`` tag.
2. A client says who it is once, in the URL (``?user=ada``); the room never trusts a name
   sent in a message, it reads the socket's attachment.
3. A bad frame from a client gets an error frame on that socket only and the socket
   stays open; the room and everyone else go on.

The wire, JSON text frames (plus ``ping``, answered ``pong`` by the front without
waking the room). The page (chat.html) sends them over ``roost.v1`` with roost-client,
which the hub serves at ``/_roost/client.js``: each is the ``data`` of a ``msg`` frame,
handled exactly once across reconnects; a plain WebSocket client sends them as they
are::

    client -> room   {"type": "message", "text": "hi"}
                     {"type": "typing"}
    room -> client   {"type": "welcome", "room": ..., "user": ..., "messages": [...]}
                     {"type": "message", "id": 7, "user": "ada", "text": "hi", "sent_at": ms}
                     {"type": "typing", "user": "ada"}          (to everyone but ada)
                     {"type": "presence", "users": ["ada", "bob"]}
                     {"type": "error", "code": "bad_message" | "too_long", "message": ...}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import unquote

import hub

__all__ = ["MAX_NAME", "MAX_TEXT", "ChatMessage", "ChatRoom", "app", "route"]

#: Longest user or room name, in characters.
MAX_NAME = 32
#: Longest message text, in characters.
MAX_TEXT = 2000
#: Messages a client gets as history when it joins.
HISTORY = 50
#: Frames longer than this are refused before they are parsed.
MAX_FRAME = 4 * MAX_TEXT + 256

ROOM_PREFIX = "/objects/chat-room/"
PAGE = (Path(__file__).parent / "chat.html").read_bytes()
HTML = {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}

ErrorCode = Literal["bad_message", "too_long"]


class ChatMessage(TypedDict):
    """One stored message, as it goes on the wire."""

    id: int
    user: str
    text: str
    sent_at: int


def valid_name(name: str) -> bool:
    """A user or room name: 1 to ``MAX_NAME`` printable characters, no edge spaces."""
    return 0 < len(name) <= MAX_NAME and name.isprintable() and name == name.strip()


def encode(frame: object) -> str:
    """One JSON text frame."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class ChatRoom(hub.DurableObject):
    """One chat room: its messages in SQLite, its users in socket attachments."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        # Runs on every activation, after each wake too: cheap and idempotent.
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS messages ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " user TEXT NOT NULL,"
            " text TEXT NOT NULL,"
            " sent_at INTEGER NOT NULL)"
        )
        # Kept by the front for every socket of the room, across hibernation.
        ctx.set_websocket_auto_response("ping", "pong")

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Serve the page (plain GET) or join the room (WebSocket with ``?user=``)."""
        if request.path.rstrip("/").count("/") != 3:
            return hub.Response("not found", status=404)
        user = request.query.get("user")
        if user is not None and not valid_name(user):
            return hub.Response(
                f"bad user name: expected 1 to {MAX_NAME} printable characters", status=400
            )
        if not request.is_websocket:
            if request.method != "GET":
                return hub.Response("method not allowed", status=405, headers={"allow": "GET"})
            # Without ?user= the page asks for a name first.
            return hub.Response(PAGE, headers=HTML)
        if user is None:
            return hub.Response("missing ?user=NAME", status=400)
        return self._join(request, user)

    def _join(self, request: hub.Request, user: str) -> hub.Response:
        ctx = self.ctx
        ws = ctx.accept_websocket(request, tags=[f"user:{user}"])
        ws.serialize_attachment({"user": user, "joined_at": _now_ms()})
        # Both leave after the 101 (output gate): welcome first, then presence.
        welcome = {
            "type": "welcome",
            "room": ctx.id.name,
            "user": user,
            "messages": self._history(),
        }
        ws.send(encode(welcome))
        self._send_presence()
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Store and broadcast a message, or tell the others that this user types."""
        user = _user_of(ws)
        if user is None:  # not a socket this room accepted with a name
            ws.close(4000, "no user")
            return
        if isinstance(message, bytes):
            self._error(ws, "bad_message", "expected a JSON text frame, got binary")
            return
        if len(message) > MAX_FRAME:
            self._error(ws, "too_long", f"frame too long: expected at most {MAX_FRAME} chars")
            return
        try:
            frame = json.loads(message)
        except ValueError:
            self._error(ws, "bad_message", "expected a JSON object")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "typing":
            self.ctx.broadcast(encode({"type": "typing", "user": user}), exclude=[ws])
        elif kind == "message":
            self._post(ws, user, frame.get("text"))
        else:
            self._error(ws, "bad_message", 'expected "type": "message" or "typing"')

    async def websocket_close(
        self, ws: hub.WebSocket, code: int, reason: str, was_clean: bool
    ) -> None:
        """Tell the others who is still here (the closed socket is already gone)."""
        self._send_presence()

    async def websocket_error(self, ws: hub.WebSocket, error: Exception) -> None:
        """A protocol error closed the socket: the same as a close for presence."""
        self._send_presence()

    def _post(self, ws: hub.WebSocket, user: str, text: object) -> None:
        if not isinstance(text, str) or not text.strip():
            self._error(ws, "bad_message", 'expected a non-empty string "text"')
            return
        if len(text) > MAX_TEXT:
            self._error(ws, "too_long", f"text too long: expected at most {MAX_TEXT} chars")
            return
        sent_at = _now_ms()
        row = self.ctx.storage.sql.exec(
            "INSERT INTO messages (user, text, sent_at) VALUES (?, ?, ?) RETURNING id",
            user,
            text,
            sent_at,
        ).one()
        stored: ChatMessage = {
            "id": int(row["id"] or 0),
            "user": user,
            "text": text,
            "sent_at": sent_at,
        }
        self.ctx.broadcast(encode({"type": "message", **stored}))

    def _history(self) -> list[ChatMessage]:
        rows = self.ctx.storage.sql.exec(
            "SELECT id, user, text, sent_at FROM"
            " (SELECT * FROM messages ORDER BY id DESC LIMIT ?) ORDER BY id",
            HISTORY,
        )
        return [
            {
                "id": int(row["id"] or 0),
                "user": str(row["user"]),
                "text": str(row["text"]),
                "sent_at": int(row["sent_at"] or 0),
            }
            for row in rows
        ]

    def _send_presence(self) -> None:
        users = {_user_of(ws) for ws in self.ctx.get_websockets()}
        self.ctx.broadcast(encode({"type": "presence", "users": sorted(u for u in users if u)}))

    @staticmethod
    def _error(ws: hub.WebSocket, code: ErrorCode, message: str) -> None:
        ws.send(encode({"type": "error", "code": code, "message": message}))


def _user_of(ws: hub.WebSocket) -> str | None:
    attachment = ws.deserialize_attachment()
    user = attachment.get("user") if isinstance(attachment, dict) else None
    return user if isinstance(user, str) else None


def _now_ms() -> int:
    return int(time.time() * 1000)


def route(request: hub.Request) -> hub.Response | None:
    """``GET /`` goes to the lobby; a bad room name never reaches (creates) an object."""
    path = request.path
    if path == "/" and not request.is_websocket:
        return hub.Response(None, status=302, headers={"location": f"{ROOM_PREFIX}lobby"})
    if path.startswith(ROOM_PREFIX):
        room = unquote(path[len(ROOM_PREFIX) :].split("/", 1)[0])
        if not valid_name(room):
            # Raised, not returned: the hub answers it (400, code "invalid_id") for plain
            # requests and WebSocket upgrades alike.
            raise hub.InvalidIdError(
                f"bad room name: expected 1 to {MAX_NAME} printable characters"
            )
    return None


app = hub.Hub(objects={"CHAT_ROOM": ChatRoom}, data_dir=".roost", router=route)


async def main(host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve the chat until interrupted."""
    async with app.serve(host=host, port=port) as server:
        print(f"chat on {server.url}/  (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
