"""The inspector's endpoints on a real hub: one object's sockets, presence, feeds and
alarm, and the event tail; reading never wakes an object; the admin key and bad input.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
import websockets

import hub
from hub.net.inspector import SHOWN_BYTES
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served

#: The alarm the board sets: far enough never to fire during a test (epoch ms).
ALARM_MS = 4_102_444_800_000


class Board(hub.DurableObject):
    """Notes in a feed table; each socket's attachment is its presence."""

    feeds = ("notes",)
    presence_from_attachment = True

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"
        )

    async def fetch(self, request: hub.Request) -> hub.Response:
        tags = [tag for tag in request.query.get("tags", "").split(",") if tag]
        ws = self.ctx.accept_websocket(request, tags=tags)
        user = request.query.get("user", "anon")
        ws.serialize_attachment({"user": user, "bio": "x" * int(request.query.get("bio", "0"))})
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        if message == "alarm":
            await self.ctx.storage.set_alarm(ALARM_MS)
        elif message == "fail":
            raise RuntimeError("failed on purpose")
        else:
            self.ctx.storage.sql.exec("INSERT INTO notes (text) VALUES (?)", message)
        ws.send(f"ok {message!s}")

    async def alarm(self, info: hub.AlarmInfo) -> None:
        pass

    async def spawn(self) -> str:
        """Make an unnamed board with one note; its hex id."""
        namespace = self.env.BOARD
        unnamed = namespace.new_unique_id()
        await namespace.get(unnamed).note("from a stub")
        return unnamed.hex

    def note(self, text: str) -> None:
        self.ctx.storage.sql.exec("INSERT INTO notes (text) VALUES (?)", text)


async def get(served: Served, path: str, key: str | None = None) -> httpx.Response:
    headers = {} if key is None else {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient() as client:
        return await within(client.get(served.url(path), headers=headers))


async def board(serve: Serve, **serve_options: Any) -> Served:
    return await serve({"BOARD": Board}, serve_options=serve_options)


async def say(ws: websockets.ClientConnection, text: str) -> None:
    await ws.send(text)
    assert await within(ws.recv()) == f"ok {text}"


async def test_one_object_with_its_sockets_tags_attachments_presence_feeds_and_alarm(
    serve: Serve,
) -> None:
    served = await board(serve)
    ada = await served.connect("/objects/board/b?user=ada&tags=team:red,admin")
    bob = await served.connect(f"/objects/board/b?user=bob&bio={SHOWN_BYTES}")
    v1 = await served.connect(
        "/objects/board/b?user=cy", subprotocols=[websockets.Subprotocol("roost.v1")]
    )
    await v1.send(json.dumps({"t": "hello", "session": "0123456789abcdef0123456789abcdef"}))
    assert json.loads(await within(v1.recv()))["t"] == "welcome"
    await v1.send(json.dumps({"t": "sub", "id": 1, "table": "notes"}))
    while json.loads(await within(v1.recv()))["t"] != "subscribed":
        pass
    for text in ("one", "two", "alarm"):
        await say(ada, text)

    answer = await get(served, "/_roost/objects/board/b")
    assert answer.status_code == 200
    found = answer.json()
    assert (found["binding"], found["name"], found["state"]) == ("BOARD", "b", "active")
    assert found["id"] == served.app.object_id("BOARD", "b").hex
    assert found["not_evictable"] and found["not_evictable"][0].startswith("idle")
    assert [ws["tags"] for ws in found["sockets"]] == [["team:red", "admin"], [], []]
    assert [ws["protocol"] for ws in found["sockets"]] == ["plain", "plain", "roost.v1"]
    assert [ws["subscriptions"] for ws in found["sockets"]] == [0, 0, 1]
    first, second, third = found["sockets"]
    assert first["attachment"] == {
        "bytes": len(b'{"user":"ada","bio":""}'),
        "value": {"user": "ada", "bio": ""},
        "truncated": False,
    }
    assert first["presence"] == first["attachment"]  # presence_from_attachment
    assert second["attachment"]["truncated"] is True  # over SHOWN_BYTES: cut, as text
    assert second["attachment"]["text"] == '{"user":"bob","bio":"' + "x" * (SHOWN_BYTES - 21)
    assert third["attachment"]["value"] == {"user": "cy", "bio": ""}
    assert found["presence"] == 3
    assert found["feeds"] == {
        "seq": 2,
        "trimmed_through": 0,
        "tables": [{"table": "notes", "seq": 2}],
    }
    assert found["alarm"] == {"at_ms": ALARM_MS, "next_firing": ALARM_MS / 1000, "retry_count": 0}
    assert found["file_error"] is None
    await bob.close()


async def test_reading_an_evicted_object_never_wakes_it(serve: Serve) -> None:
    served = await board(serve)
    ws = await served.connect("/objects/board/sleepy?user=ada&tags=t")
    for text in ("one", "alarm"):
        await say(ws, text)
    assert await served.app.hibernate("BOARD", "sleepy")
    activations = len(served.lifecycle.kinds("activate"))

    for path in ("/_roost/objects/board/sleepy", "/_roost/objects", "/_roost/events?wait=0"):
        assert (await get(served, path)).status_code == 200
    found = (await get(served, "/_roost/objects/board/sleepy")).json()

    assert len(served.lifecycle.kinds("activate")) == activations
    assert not served.app.is_active("BOARD", "sleepy")
    assert found["state"] == "evicted"
    assert (found["not_evictable"], found["queued"]) == (None, None)
    (parked,) = found["sockets"]  # still open, kept by the front
    assert (parked["state"], parked["tags"]) == ("open", ["t"])
    assert parked["attachment"]["value"] == {"user": "ada", "bio": ""}
    assert found["feeds"]["tables"] == [{"table": "notes", "seq": 1}]  # from the file
    assert found["alarm"]["at_ms"] == ALARM_MS
    await say(ws, "two")  # and the object still wakes for a message
    again = (await get(served, "/_roost/objects/board/sleepy")).json()
    assert (again["state"], again["feeds"]["seq"]) == ("active", 2)


async def test_an_object_never_used_is_new_and_gets_no_file(serve: Serve) -> None:
    served = await board(serve)
    found = (await get(served, "/_roost/objects/board/nobody%2Fhere")).json()
    assert (found["name"], found["state"], found["sockets"]) == ("nobody/here", "new", [])
    assert found["feeds"] == {"seq": 0, "trimmed_through": 0, "tables": []}
    assert found["alarm"] == {"at_ms": None, "next_firing": None, "retry_count": None}
    assert served.lifecycle.kinds("activate") == []
    object_id = served.app.object_id("BOARD", "nobody/here")
    assert not served.app.host.path_for(object_id).exists()


async def test_an_unnamed_object_is_opened_and_hibernated_by_its_id(serve: Serve) -> None:
    served = await board(serve)
    async with httpx.AsyncClient() as client:
        made = await within(client.post(served.url("/objects/board/maker/rpc/spawn"), json={}))
    hex_id = made.json()["result"]
    listed = (await get(served, "/_roost/objects")).json()
    assert {"id": hex_id, "name": None} in [
        {"id": obj["id"], "name": obj["name"]} for obj in listed["active"]
    ]

    found = (await get(served, f"/_roost/ids/board/{hex_id}")).json()
    assert (found["binding"], found["name"], found["id"]) == ("BOARD", None, hex_id)
    assert found["feeds"]["tables"] == [{"table": "notes", "seq": 1}]
    async with httpx.AsyncClient() as client:
        answer = await within(client.post(served.url(f"/_roost/ids/board/{hex_id}/hibernate")))
    assert answer.json() == {"hibernated": True}
    assert (await get(served, f"/_roost/ids/board/{hex_id}")).json()["state"] == "evicted"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/_roost/objects/no-such/b", 404, "unknown_binding"),
        ("/_roost/objects/Board/b", 404, "unknown_binding"),
        ("/_roost/objects/board/%FF", 400, "invalid_id"),
        ("/_roost/objects/board/", 400, "invalid_id"),
        ("/_roost/objects/board/" + "n" * 3000, 400, "invalid_id"),
        ("/_roost/ids/board/" + "0" * 64, 400, "invalid_id"),  # not an id of BOARD
        ("/_roost/ids/board/XYZ", 400, "invalid_id"),
        ("/_roost/ids/no-such/" + "0" * 64, 404, "unknown_binding"),
        ("/_roost/events?after=x", 400, "bad_request"),
        ("/_roost/events?after=-1", 400, "bad_request"),
        ("/_roost/events?wait=nan", 400, "bad_request"),
    ],
)
async def test_bad_input_gets_a_clear_error(
    serve: Serve, path: str, status: int, code: str
) -> None:
    served = await board(serve)
    answer = await get(served, path)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)


async def test_the_page_is_public_and_every_endpoint_needs_the_key(serve: Serve) -> None:
    served = await board(serve, admin_key="s3cret")
    for path in ("/_roost/", "/_roost"):
        page = await get(served, path)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>Roost inspector</title>" in page.text
        assert "script-src 'sha256-" in page.headers["content-security-policy"]
        assert "s3cret" not in page.text
    for path in ("/_roost/objects/board/b", "/_roost/events?wait=0"):
        for key in (None, "nope"):
            denied = await get(served, path, key)
            assert (denied.status_code, denied.json()["error"]["code"]) == (401, "unauthorized")
        assert (await get(served, path, "s3cret")).status_code == 200


async def test_the_event_tail_shows_accepts_evictions_activations_errors_and_closes(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="roost")
    served = await board(serve)
    key = served.app.object_id("BOARD", "t").hex
    ws = await served.connect("/objects/board/t?user=ada")
    await say(ws, "hello")
    start = (await get(served, "/_roost/events?wait=0")).json()
    kinds = [(event["kind"], event["object"]) for event in start["events"]]
    assert ("activate", key) in kinds
    accept = next(event for event in start["events"] if event["kind"] == "accept")
    assert (accept["object"], accept["socket"]) == (key, 1)

    # A reader waiting for the next event gets the wake-up of the evicted object.
    assert await served.app.hibernate("BOARD", "t")
    after = (await get(served, f"/_roost/events?after={start['last']}&wait=0")).json()
    assert [(e["kind"], e["detail"]) for e in after["events"]] == [
        ("evict", {"binding": "BOARD", "name": "t", "reason": "forced"})
    ]
    waiting = asyncio.create_task(get(served, f"/_roost/events?after={after['last']}"))
    await say(ws, "wake up")
    woken = (await waiting).json()
    assert [(e["seq"], e["kind"], e["object"]) for e in woken["events"]] == [
        (after["last"] + 1, "activate", key)
    ]

    await ws.send("fail")
    await ws.close()
    rest: list[dict[str, Any]] = []
    last = woken["last"]
    while not {"error", "close"} <= {event["kind"] for event in rest}:
        page = (await get(served, f"/_roost/events?after={last}")).json()
        rest += page["events"]
        last = page["last"]
    error = next(event for event in rest if event["kind"] == "error")
    assert (error["level"], error["object"], error["socket"]) == ("warning", key, 1)
    assert "Board.websocket_message raised (RuntimeError)" in error["message"]
    assert next(event for event in rest if event["kind"] == "close")["socket"] == 1


async def test_a_waiting_reader_is_answered_when_the_hub_stops(serve: Serve) -> None:
    served = await board(serve, shutdown_timeout=60)
    last = (await get(served, "/_roost/events?wait=0")).json()["last"]
    async with httpx.AsyncClient() as client:
        waiting = asyncio.create_task(
            client.get(served.url(f"/_roost/events?after={last}&wait=20"))
        )
        while served.server.front.requests_in_flight == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        await within(served.server.stop())  # not held up for 20 s by the reader
        answer = await within(waiting)
    assert (answer.status_code, answer.json()["events"]) == (200, [])
