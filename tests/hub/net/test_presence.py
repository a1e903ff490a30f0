"""Presence (protocol/SPEC.md §10): members with state, join/update/leave frames, read
without waking the object, no zombies after a dropped socket or a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served
from tests.hub.net.test_roost_v1 import frame, send, v1


class Lobby(hub.DurableObject):
    """``?name=`` joins with that name; messages ``typing`` / ``away`` / ``who``."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        ws = self.ctx.accept_websocket(request)
        if "name" in request.query:
            self.ctx.presence.set(ws, {"name": request.query["name"]})
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        presence = self.ctx.presence
        if message == "typing":
            presence.set(ws, {**presence.get(ws), "typing": True})
        elif message == "away":
            presence.clear(ws)
        elif message == "who":
            names = [state["name"] for _, state in presence.members()]
            ws.send(",".join(names))
        elif message == "fail":
            presence.set(ws, {"name": "never"})
            raise RuntimeError("rolled back, and so is the presence change")


class Badges(hub.DurableObject):
    """Presence is the attachment."""

    presence_from_attachment = True

    async def fetch(self, request: hub.Request) -> hub.Response:
        ws = self.ctx.accept_websocket(request)
        ws.serialize_attachment({"badge": request.query.get("badge", "none")})
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        ws.serialize_attachment({"badge": message})


async def join(served: Served, name: str | None, binding: str = "lobby") -> ClientConnection:
    query = f"?name={name}" if name is not None else ""
    return await v1(served, f"/objects/{binding}/main{query}")


async def watch(ws: ClientConnection) -> list[dict[str, Any]]:
    await send(ws, {"t": "presence_sub"})
    answer = await frame(ws)
    assert answer["t"] == "presence"
    members: list[dict[str, Any]] = answer["members"]
    return members


async def members_over_http(served: Served, binding: str = "lobby") -> Any:
    async with httpx.AsyncClient() as client:
        response = await client.get(served.url(f"/objects/{binding}/main/presence"))
    assert response.status_code == 200
    return response.json()


async def test_join_update_leave_reach_watchers(serve: Serve) -> None:
    served = await serve({"LOBBY": Lobby})
    ada = await join(served, "ada")
    assert await watch(ada) == [{"socket": 1, "state": {"name": "ada"}}]
    bob = await join(served, "bob")
    assert await frame(ada) == {"t": "join", "socket": 2, "state": {"name": "bob"}}
    await send(bob, {"t": "msg", "data": "typing"})
    typing = {"name": "bob", "typing": True}
    assert await frame(ada) == {"t": "update", "socket": 2, "state": typing}
    await send(bob, {"t": "msg", "data": "away"})
    assert await frame(ada) == {"t": "leave", "socket": 2}
    await send(bob, {"t": "msg", "data": "fail"})  # rolled back: no frame
    await send(ada, {"t": "msg", "data": "who"})
    assert await frame(ada) == {"t": "msg", "data": "ada"}
    await send(ada, {"t": "presence_unsub"})
    await send(ada, {"t": "ping"})
    assert await frame(ada) == {"t": "pong"}
    await join(served, "cy")
    await send(ada, {"t": "ping"})
    assert await frame(ada) == {"t": "pong"}  # no join frame after presence_unsub


async def test_a_dropped_socket_leaves_at_once(serve: Serve) -> None:
    served = await serve({"LOBBY": Lobby})
    ada = await join(served, "ada")
    bob = await join(served, "bob")
    assert [m["state"]["name"] for m in await watch(ada)] == ["ada", "bob"]
    bob.transport.abort()  # no close frame: 1006 on the hub's side
    assert await frame(ada) == {"t": "leave", "socket": 2}
    assert (await members_over_http(served))["count"] == 1


async def test_reading_presence_does_not_wake_the_object(serve: Serve) -> None:
    served = await serve({"LOBBY": Lobby})
    await join(served, "ada")
    await join(served, "bob")
    assert await served.app.hibernate("LOBBY", "main")
    assert await members_over_http(served) == {
        "count": 2,
        "members": [
            {"socket": 1, "state": {"name": "ada"}},
            {"socket": 2, "state": {"name": "bob"}},
        ],
    }
    watcher = await v1(served, "/objects/room/elsewhere")  # another object's socket
    await send(watcher, {"t": "presence_sub"})
    assert await frame(watcher) == {"t": "presence", "members": []}
    assert not served.app.is_active("LOBBY", "main")


async def test_sockets_without_state_are_not_members(serve: Serve) -> None:
    served = await serve({"LOBBY": Lobby})
    anonymous = await join(served, None)
    assert await watch(anonymous) == []
    plain = await served.connect("/objects/lobby/main?name=plain")  # plain sockets count
    assert await frame(anonymous) == {"t": "join", "socket": 2, "state": {"name": "plain"}}
    await plain.close()
    assert await frame(anonymous) == {"t": "leave", "socket": 2}


async def test_presence_from_attachment(serve: Serve) -> None:
    served = await serve({"BADGES": Badges})
    first = await v1(served, "/objects/badges/main?badge=gold")
    assert await watch(first) == [{"socket": 1, "state": {"badge": "gold"}}]
    await send(first, {"t": "msg", "data": "silver"})
    assert await frame(first) == {"t": "update", "socket": 1, "state": {"badge": "silver"}}


async def test_unknown_objects_and_bindings_over_http(serve: Serve) -> None:
    served = await serve({"LOBBY": Lobby})
    assert await members_over_http(served) == {"count": 0, "members": []}
    async with httpx.AsyncClient() as client:
        response = await client.get(served.url("/objects/nope/main/presence"))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_binding"
        # Only GET is the presence list; other methods reach the object's fetch.
        posted = await client.post(served.url("/objects/lobby/main/presence"))
        assert posted.status_code == 500  # Lobby.fetch accepts only upgrades


async def test_a_restart_does_not_resurrect_members(serve: Serve, tmp_path: Path) -> None:
    data = tmp_path / "shared"
    first = await serve({"LOBBY": Lobby}, data_dir=data)
    await join(first, "ada")
    assert (await members_over_http(first))["count"] == 1
    await first.server.stop(1012)
    second = await serve({"LOBBY": Lobby}, data_dir=data)
    assert await members_over_http(second) == {"count": 0, "members": []}
    ws = await join(second, "bob")
    assert [m["state"] for m in await watch(ws)] == [{"name": "bob"}]


async def test_presence_state_over_the_limit_fails_the_event(serve: Serve) -> None:
    served = await serve({"LOBBY": Lobby}, limits=hub.Limits(attachment_bytes=64))
    with pytest.raises(InvalidStatus) as refused:
        await join(served, "x" * 100)  # ctx.presence.set raises in fetch
    assert refused.value.response.status_code == 500
    assert await members_over_http(served) == {"count": 0, "members": []}


async def test_frames_are_valid_json_for_any_state(serve: Serve) -> None:
    served = await serve({"LOBBY": Lobby})
    ws = await join(served, 'é \\" 😀')
    members = await watch(ws)
    assert members[0]["state"] == {"name": 'é \\" 😀'}
    assert orjson.loads(orjson.dumps(members)) == members
    await within(ws.close())


async def test_a_closing_socket_does_not_wake_an_object_without_close_handlers(
    serve: Serve,
) -> None:
    served = await serve({"LOBBY": Lobby})
    ada = await join(served, "ada")
    bob = await join(served, "bob")
    assert len(await watch(ada)) == 2
    assert await served.app.hibernate("LOBBY", "main")
    bob.transport.abort()
    assert await frame(ada) == {"t": "leave", "socket": 2}
    await send(ada, {"t": "ping"})
    assert await frame(ada) == {"t": "pong"}
    assert not served.app.is_active("LOBBY", "main")  # Lobby has no websocket_close
