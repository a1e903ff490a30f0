"""Hibernatable WebSockets over real sockets: accept, tags, attachments, broadcast,
the output gate, eviction with parked sockets, the termination matrix and limits."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve


async def test_accept_with_tags_and_attachment_reaches_the_object(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect("/objects/room/r?tags=alpha,beta,alpha&who=ada&greet=ada")
    assert await within(ws.recv()) == "welcome ada"  # sent by fetch, after the 101
    await ws.send("whoami")
    assert orjson.loads(await within(ws.recv())) == {
        "att": {"who": "ada"},
        "tags": ["alpha", "beta"],
    }


async def test_messages_reach_websocket_message_as_text_or_bytes(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    await ws.send("echo:hello")
    assert await within(ws.recv()) == "hello"
    await ws.send(b"\x01\x02\x03")
    assert await within(ws.recv()) == b"\x03\x02\x01"


async def test_broadcast_reaches_every_open_socket_or_those_with_a_tag(serve: Serve) -> None:
    served = await serve()
    red = await served.connect("/objects/room/r?tags=red")
    blue = await served.connect("/objects/room/r?tags=blue")
    both = await served.connect("/objects/room/r?tags=red,blue")
    await red.send("broadcast:all")
    for client in (red, blue, both):
        assert await within(client.recv()) == "all"
    await blue.send("tagged:red:only red")
    assert await within(red.recv()) == "only red"
    assert await within(both.recv()) == "only red"
    await red.send("others:not me")
    assert await within(blue.recv()) == "not me"
    assert await within(both.recv()) == "not me"
    await red.send("echo:me")
    assert await within(red.recv()) == "me"  # "not me" never reached red


async def test_tags_are_mutable(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect("/objects/room/r?tags=old")
    await ws.send("settags:new,other")
    assert await within(ws.recv()) == "new,other"
    await ws.send("count:old")
    assert await within(ws.recv()) == "0"
    await ws.send("count:new")
    assert await within(ws.recv()) == "1"


async def test_output_gate_drops_sends_of_a_failed_handler_and_rolls_back(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    await ws.send("fail:lost")
    await ws.send("write:kept")
    assert await within(ws.recv()) == "wrote kept"  # "never lost" was never sent
    await ws.send("rows")
    assert await within(ws.recv()) == "kept"


async def test_hundreds_of_sockets_stay_parked_across_eviction_and_wake_the_object(
    serve: Serve,
) -> None:
    served = await serve()
    clients = [
        await served.connect(f"/objects/room/big?who=u{i}&tags=t{i % 2}") for i in range(300)
    ]
    await clients[0].send("write:before")
    assert await within(clients[0].recv()) == "wrote before"
    assert await served.app.hibernate("ROOM", "big")
    assert not served.app.is_active("ROOM", "big")
    while not served.events.empty():
        served.events.get_nowait()
    await clients[150].send("count")
    assert await served.next_event("construct") == ("construct", "big")  # the constructor ran
    assert await within(clients[150].recv()) == "300"
    await clients[7].send("whoami")
    assert orjson.loads(await within(clients[7].recv())) == {"att": {"who": "u7"}, "tags": ["t1"]}
    await clients[1].send("broadcast:hello all")
    received = await within(asyncio.gather(*(client.recv() for client in clients)))
    assert received == ["hello all"] * 300
    await clients[2].send("rows")
    assert await within(clients[2].recv()) == "before"


async def test_get_websockets_never_returns_closed_sockets(serve: Serve) -> None:
    served = await serve()
    first = await served.connect()
    second = await served.connect()
    await first.close()
    await served.next_event("close")
    await second.send("count")
    assert await within(second.recv()) == "1"


async def test_client_close_frame_gives_its_code_and_a_clean_close(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    await within(ws.close(4001, "bye now"))
    assert await served.next_event("close") == ("close", 4001, "bye now", True, 3)
    assert ws.close_code == 4001  # the hub completed the handshake, echoing the code


async def test_empty_close_frame_reports_1005_and_is_not_echoed(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    ws.transport.write(Frame(Opcode.CLOSE, b"").serialize(mask=True))
    assert await served.next_event("close") == ("close", 1005, "", True, 3)
    with pytest.raises(ConnectionClosed) as closed:
        await within(ws.recv())
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1005  # no reserved code sent


async def test_tcp_drop_reports_1006_not_clean(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    ws.transport.abort()
    assert await served.next_event("close") == ("close", 1006, "", False, 3)


async def test_protocol_error_reports_an_error_and_closes_1002(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    ws.transport.write(b"\x83\x80\x00\x00\x00\x00")  # reserved opcode 3, masked, empty
    assert await served.next_event("error") == ("error", "WebSocketProtocolError", 1002)
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1002


async def test_invalid_utf8_text_closes_1007(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    ws.transport.write(Frame(Opcode.TEXT, b"\xff\xfe").serialize(mask=True))
    assert await served.next_event("error") == ("error", "InvalidUtf8Error", 1007)
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1007


async def test_oversize_message_reports_an_error_and_closes_1009(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(message_bytes=1024))
    ws = await served.connect(max_size=None)
    await ws.send("x" * 1025)
    assert await served.next_event("error") == ("error", "MessageTooBigError", 1009)
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1009


async def test_handlers_run_for_evicted_objects(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    assert await served.app.hibernate("ROOM", "r")
    await within(ws.close(4002, "gone"))
    assert await served.next_event("close") == ("close", 4002, "gone", True, 3)
    assert served.lifecycle.kinds("activate")[-1].object_id.name == "r"


async def test_object_close_starts_the_handshake(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    await ws.send("close:4100:done")
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert (ws.close_code, ws.close_reason) == (4100, "done")


async def test_auto_response_answers_without_waking_the_object(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    await ws.send("autoresponse:ping=pong")
    await ws.send("autotime")
    assert await within(ws.recv()) == "none"
    assert await served.app.hibernate("ROOM", "r")
    activations = len(served.lifecycle.kinds("activate"))
    await ws.send("ping")
    assert await within(ws.recv()) == "pong"
    assert not served.app.is_active("ROOM", "r")
    assert len(served.lifecycle.kinds("activate")) == activations
    await ws.send("autotime")
    assert await within(ws.recv()) == "set"


async def test_a_slow_consumer_is_closed_and_the_room_goes_on(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(outbox_bytes=256 * 1024))
    fast = await served.connect()
    await served.connect(max_queue=1)  # reads a message or two, then stops reading
    closes: list[tuple[object, ...]] = []
    # Each broadcast is read by the fast client before the next one is sent; the slow
    # one fills its kernel buffers and then its send buffer, however large they are.
    for _ in range(4000):
        await fast.send("broadcast:" + "x" * 65536)
        assert len(await within(fast.recv())) == 65536
        while not served.events.empty():
            event = served.events.get_nowait()
            if event[0] == "close":
                closes.append(event)
        if closes:
            break
    assert [event[1:4] for event in closes] == [(1008, "slow consumer", False)]
    await fast.send("count")
    assert await within(fast.recv()) == "1"


async def test_the_event_timeout_cancels_a_hung_handler(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    await ws.send("timeout:50")
    await ws.send("hang")
    await ws.send("rows")
    assert await within(ws.recv()) == ""  # the hung handler's write rolled back


async def test_objects_without_fetch_accept_upgrades_with_no_tags(serve: Serve) -> None:
    class Bare(hub.DurableObject):
        async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
            ws.send(f"{message}|{self.ctx.get_tags(ws)}")

    served = await serve({"BARE": Bare})
    ws = await served.connect("/objects/bare/b")
    await ws.send("hi")
    assert await within(ws.recv()) == "hi|[]"


async def test_fetch_can_refuse_an_upgrade(serve: Serve) -> None:
    served = await serve()
    with pytest.raises(InvalidStatus) as refused:
        await served.connect("/objects/room/r?deny=1")
    assert refused.value.response.status_code == 403
    assert refused.value.response.body == b"no entry"


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/objects/room/r?tags=" + ",".join(f"t{i}" for i in range(11)), 500, b"too many tags"),
        ("/objects/room/r?tags=" + "x" * 257, 500, b"tag too large"),
        ("/objects/nothing/r", 404, b"unknown_binding"),
    ],
)
@pytest.mark.parametrize("routed", [False, True], ids=["served-at-once", "router-in-a-task"])
async def test_bad_upgrades_get_a_status_and_a_stable_code(
    serve: Serve, path: str, status: int, fragment: bytes, routed: bool
) -> None:
    # Without a router an upgrade is served at once, with one in a task
    # (hub/net/dispatch.py): the same answers either way.
    served = await serve(router=(lambda request: None) if routed else None)
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(path)
    assert refused.value.response.status_code == status
    assert fragment in refused.value.response.body


async def test_sockets_per_object_are_limited(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(sockets_per_object=2))
    await served.connect()
    await served.connect()
    with pytest.raises(InvalidStatus) as refused:
        await served.connect()
    assert b"too many sockets" in refused.value.response.body
    await served.connect("/objects/room/other")  # another object is unaffected


async def test_outgoing_limits_are_clear_errors_to_the_handler(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(message_bytes=1024, attachment_bytes=64))
    ws = await served.connect()
    await ws.send("big:2000")
    await ws.send("attach:" + "y" * 100)
    await ws.send("close:4000:" + "z" * 124)
    await ws.send("echo:still open")
    assert await within(ws.recv()) == "still open"


async def test_a_handshake_without_a_key_is_refused_by_the_protocol(serve: Serve) -> None:
    served = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.server.port)
    writer.write(
        b"GET /objects/room/r HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    status_line = await within(reader.readline())
    assert status_line.startswith(b"HTTP/1.1 400")
    writer.close()
    assert served.lifecycle.kinds("activate") == []  # the object was never woken


async def test_compression_is_off_by_default_and_can_be_enabled(serve: Serve) -> None:
    served = await serve()
    plain = await served.connect(compression="deflate")
    assert plain.protocol.extensions == []
    compressed_hub = await serve(serve_options={"compression": True})
    compressed = await within(
        websockets.connect(compressed_hub.server.ws_url + "/objects/room/r", compression="deflate")
    )
    compressed_hub.clients.append(compressed)
    assert len(compressed.protocol.extensions) == 1
    await compressed.send("broadcast:" + "long text " * 50)
    assert await within(compressed.recv()) == "long text " * 50


class Farewell(hub.DurableObject):
    """Says who left: the closed socket's tags and attachment are still readable."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.set_websocket_auto_response("ping", "pong")  # fine with or without a front

    async def fetch(self, request: hub.Request) -> hub.Response:
        ws = self.ctx.accept_websocket(request, tags=[f"user:{request.query['user']}"])
        ws.serialize_attachment({"user": request.query["user"]})
        return hub.Response.websocket(ws)

    async def websocket_close(
        self, ws: hub.WebSocket, code: int, reason: str, was_clean: bool
    ) -> None:
        left = (ws.deserialize_attachment(), self.ctx.get_tags(ws), ws.ready_state)
        self.env.EVENTS.put_nowait(("close", *left))

    async def websocket_error(self, ws: hub.WebSocket, error: Exception) -> None:
        self.env.EVENTS.put_nowait(("error", ws.deserialize_attachment(), self.ctx.get_tags(ws)))

    async def ready(self) -> tuple[str, str] | None:
        return self.ctx.get_websocket_auto_response()


async def test_close_and_error_handlers_can_still_tell_who_left(serve: Serve) -> None:
    served = await serve({"FAREWELL": Farewell})
    ada = await served.connect("/objects/farewell/f?user=ada")
    bob = await served.connect("/objects/farewell/f?user=bob")
    assert await served.app.hibernate("FAREWELL", "f")
    await within(ada.close())
    assert await served.next_event("close") == ("close", {"user": "ada"}, ["user:ada"], 3)
    bob.transport.write(b"\x83\x80\x00\x00\x00\x00")
    assert await served.next_event("error") == ("error", {"user": "bob"}, ["user:bob"])


async def test_settings_made_before_the_hub_is_served_reach_the_front(serve: Serve) -> None:
    served = await serve({"FAREWELL": Farewell})
    await served.server.stop()
    await served.app.start()  # running, not served: the constructor still works
    stub = served.app.env.FAREWELL.get_by_name("early")
    assert await stub.ready() == ("ping", "pong")
    async with served.app.serve(port=0) as server:
        ws = await within(
            websockets.connect(server.ws_url + "/objects/farewell/early?user=ada", compression=None)
        )
        await ws.send("ping")
        assert await within(ws.recv()) == "pong"
        await ws.close()
    await served.app.stop()
