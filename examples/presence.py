"""Who is online: a room's members and their status, from the hub's presence list.

Every room is one ``PresenceRoom`` object. Run it with ``python examples/presence.py``
(or ``roost serve examples/presence.py``) and open http://127.0.0.1:8787/ in two
browsers; the page speaks ``roost.v1`` (protocol/SPEC.md) through roost-client, which
the hub serves at ``/_roost/client.js`` (``connection.presence``).

Rules:

1. The room keeps nothing: who is here is the hub's presence list (SPEC §10), which
   lives with the sockets in the hub's front. A socket that drops leaves the list at
   once, and reading the list never wakes the room, so an idle room stays hibernated
   however many people watch it.
2. A client says who it is once, in the URL (``?name=ada``); the name goes into the
   socket's attachment and the room never trusts a name sent in a message.
3. A bad message gets an error on that socket only; the socket stays open.

The wire (``roost.v1`` frames; ``->`` client to hub, ``<-`` hub to client)::

    -> {"t": "hello", "session": S}          <- {"t": "welcome", "session": S, "socket": 7}
    -> {"t": "presence_sub"}                 <- {"t": "presence", "members": [
                                                    {"socket": 7, "state":
                                                     {"name": "ada", "status": "online"}}]}
                                             <- {"t": "join" | "update", "socket": N,
                                                 "state": {"name": ..., "status": ...}}
                                             <- {"t": "leave", "socket": N}
    -> {"t": "msg", "data": {"status": "away"}, "id": 1}  (online, away or busy)
                                             <- {"t": "ack", "id": 1}
                                             <- {"t": "msg", "data": "{\\"type\\": \\"error\\",
                                                 \\"code\\": \\"bad_status\\", ...}"}

The same list over plain HTTP, answered by the front without waking the room::

    $ curl http://127.0.0.1:8787/objects/presence-room/lobby/presence
    {"count":1,"members":[{"socket":7,"state":{"name":"ada","status":"online"}}]}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import unquote

import hub

__all__ = ["MAX_NAME", "STATUSES", "PresenceRoom", "State", "app", "route"]

#: Longest user or room name, in characters.
MAX_NAME = 32
Status = Literal["online", "away", "busy"]

#: What a member may say about itself.
STATUSES: tuple[Status, ...] = ("online", "away", "busy")
#: Frames longer than this are refused before they are parsed.
MAX_FRAME = 256

ROOM_PREFIX = "/objects/presence-room/"
PAGE = (Path(__file__).parent / "presence.html").read_bytes()
HTML = {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}


class State(TypedDict):
    """A member's presence state, as every watcher sees it."""

    name: str
    status: Status


def valid_name(name: str) -> bool:
    """A user or room name: 1 to ``MAX_NAME`` printable characters, no edge spaces."""
    return 0 < len(name) <= MAX_NAME and name.isprintable() and name == name.strip()


class PresenceRoom(hub.DurableObject):
    """One room: its members are the sockets that carry a presence state."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Serve the page (plain GET) or join the room (WebSocket with ``?name=``)."""
        if request.path.rstrip("/").count("/") != 3:
            return hub.Response("not found", status=404)
        name = request.query.get("name")
        if name is not None and not valid_name(name):
            return hub.Response(
                f"bad name: expected 1 to {MAX_NAME} printable characters", status=400
            )
        if not request.is_websocket:
            if request.method != "GET":
                return hub.Response("method not allowed", status=405, headers={"allow": "GET"})
            return hub.Response(PAGE, headers=HTML)  # without ?name= it asks for one
        if name is None:
            return hub.Response("missing ?name=NAME", status=400)
        ws = self.ctx.accept_websocket(request)
        ws.serialize_attachment({"name": name})  # kept across hibernation (Rule 2)
        # Published when this event commits, so the 101 and the join leave together.
        self.ctx.presence.set(ws, State(name=name, status="online"))
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """``{"status": "away"}``: change this socket's status."""
        name = _name_of(ws)
        if name is None:  # not a socket this room accepted with a name
            ws.close(4000, "no name")
            return
        status = _status_in(message)
        if status is None:
            _error(ws, "bad_status", 'expected {"status": "online" | "away" | "busy"}')
            return
        self.ctx.presence.set(ws, State(name=name, status=status))


def _status_in(message: str | bytes) -> Status | None:
    if isinstance(message, bytes) or len(message) > MAX_FRAME:
        return None
    try:
        frame = json.loads(message)
    except ValueError:
        return None
    status = frame.get("status") if isinstance(frame, dict) else None
    for known in STATUSES:
        if status == known:
            return known
    return None


def _name_of(ws: hub.WebSocket) -> str | None:
    attachment = ws.deserialize_attachment()
    name = attachment.get("name") if isinstance(attachment, dict) else None
    return name if isinstance(name, str) else None


def _error(ws: hub.WebSocket, code: Literal["bad_status"], message: str) -> None:
    # Over roost.v1 this arrives as {"t": "msg", "data": "<this JSON text>"} (SPEC §4.3).
    ws.send(json.dumps({"type": "error", "code": code, "message": message}))


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


app = hub.Hub(objects={"PRESENCE_ROOM": PresenceRoom}, data_dir=".roost", router=route)


async def main(host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve the rooms until interrupted."""
    async with app.serve(host=host, port=port) as server:
        print(f"presence on {server.url}/  (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
