"""A loop turn's broadcasts are written together (hub/net/fanout.py) and every socket
still gets exactly what it would get one broadcast at a time, in order.

The object runs a script of steps in one event, so every step falls in one loop turn
(one batch): broadcasts to all, to a tag, to all but the sender, a direct ``ws.send``
between them, a tag change, a close.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

import hub
import protocol
from hub.net.connection import Connection
from hub.net.fanout import Batch
from hub.net.front import Front
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served
from tests.hub.net.test_roost_v1 import frame, send, v1


class Burst(hub.DurableObject):
    """Runs a JSON list of ``[verb, argument]`` steps in one event."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        tags = [tag for tag in request.query.get("tags", "").split(",") if tag]
        return hub.Response.websocket(self.ctx.accept_websocket(request, tags=tags))

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        ctx = self.ctx
        for verb, arg in orjson.loads(message):
            if verb == "all":
                ctx.broadcast(arg)
            elif verb == "bytes":
                ctx.broadcast(arg.encode())
            elif verb == "others":
                ctx.broadcast(arg, exclude=[ws])
            elif verb == "red":
                ctx.broadcast(arg, tag="red")
            elif verb == "send":
                ws.send(arg)
            elif verb == "settags":
                ctx.set_tags(ws, arg.split(","))
            elif verb == "close":
                ws.close(1000, arg)
            elif verb == "presence":
                ctx.presence.set(ws, {"n": arg})


def script(*steps: tuple[str, str]) -> str:
    return orjson.dumps(list(steps)).decode()


async def room(served: Served, *tags: str) -> list[ClientConnection]:
    return [await served.connect(f"/objects/burst/b?tags={t}") for t in tags]


async def received(client: ClientConnection, count: int) -> list[str | bytes]:
    return [await within(client.recv()) for _ in range(count)]


async def test_one_turn_of_broadcasts_arrives_whole_and_in_order(serve: Serve) -> None:
    served = await serve({"BURST": Burst})
    writer, red, blue = await room(served, "red", "red", "blue")
    await writer.send(
        script(
            ("all", "1"),
            ("others", "2"),
            ("send", "3"),
            ("all", "4"),
            ("bytes", "5"),
            ("others", "6"),
        )
    )
    assert await received(writer, 4) == ["1", "3", "4", b"5"]
    for client in (red, blue):
        assert await received(client, 5) == ["1", "2", "4", b"5", "6"]
    await writer.send(script(("send", "end")))
    assert await within(writer.recv()) == "end"  # nothing more reached the writer


async def test_a_tag_between_broadcasts_and_a_tag_change_keep_each_socket_s_order(
    serve: Serve,
) -> None:
    served = await serve({"BURST": Burst})
    writer, red, blue = await room(served, "blue", "red", "blue")
    await writer.send(
        script(
            ("all", "a"),
            ("red", "b"),
            ("all", "c"),
            ("settags", "red"),
            ("red", "d"),
            ("send", "e"),
            ("all", "f"),
        )
    )
    # The tag change applies at once; the broadcasts leave after the event committed
    # (output gate), so all of them see the writer tagged red.
    assert await received(writer, 6) == ["a", "b", "c", "d", "e", "f"]
    assert await received(red, 5) == ["a", "b", "c", "d", "f"]
    assert await received(blue, 3) == ["a", "c", "f"]


async def test_a_socket_closed_in_the_turn_gets_what_came_before_its_close(serve: Serve) -> None:
    served = await serve({"BURST": Burst})
    writer, other = await room(served, "x", "x")
    await writer.send(script(("all", "before"), ("close", "bye"), ("all", "after")))
    assert await within(writer.recv()) == "before"
    try:
        await within(writer.recv())
    except websockets.ConnectionClosedOK as closed:
        assert closed.rcvd is not None and closed.rcvd.reason == "bye"
    else:
        raise AssertionError("the socket was not closed")
    assert await received(other, 2) == ["before", "after"]


async def test_roost_v1_and_compressed_sockets_in_a_batch_get_their_own_frames(
    serve: Serve,
) -> None:
    served = await serve({"BURST": Burst}, serve_options={"compression": True})
    writer = await served.connect("/objects/burst/b")
    v1 = await served.connect("/objects/burst/b", subprotocols=[protocol.SUBPROTOCOL])
    await v1.send(protocol.encode(protocol.Hello(session="s" * 32)).decode())
    await within(v1.recv())  # welcome
    deflated = await served.connect("/objects/burst/b", compression="deflate")
    await writer.send(script(("all", "one"), ("others", "two"), ("bytes", "three")))
    assert await received(writer, 2) == ["one", b"three"]
    assert await received(deflated, 3) == ["one", "two", b"three"]
    texts = await received(v1, 3)
    assert [orjson.loads(t)["data"] for t in texts[:2]] == ["one", "two"]
    assert texts[2] == b"three"


async def test_a_presence_frame_between_broadcasts_keeps_its_place(serve: Serve) -> None:
    # The presence frame is queued on the watcher while a batch is open: the watcher
    # takes the frames the batch owes it first (Connection.queue_frame).
    served = await serve({"BURST": Burst})
    watcher = await v1(served, "/objects/burst/b")
    await send(watcher, {"t": "presence_sub"})
    assert (await frame(watcher))["t"] == "presence"
    writer = await served.connect("/objects/burst/b")
    await writer.send(script(("all", "a"), ("presence", "x"), ("all", "b")))
    got = [await frame(watcher) for _ in range(3)]
    assert got == [
        {"t": "msg", "data": "a"},
        {"t": "join", "socket": 2, "state": {"n": "x"}},
        {"t": "msg", "data": "b"},
    ]


# -- rule 2, driven through the front's commands in one synchronous block ---------------
# An event's broadcasts leave after its commit, so an object cannot put a tag change or
# an upgrade between two of its broadcasts of one turn; a busy object's next event can.
# These tests make that turn happen on purpose: the front's commands, called back to back.


def burst_key(served: Served) -> str:
    return served.app.object_id("BURST", "b").hex


def ids_by_tag(front: Front, key: str) -> dict[str, int]:
    return {record.tags[0]: record.socket_id for record in front.table.open_sockets(key)}


async def test_a_tag_change_flushes_a_batch_that_filters_on_a_tag(serve: Serve) -> None:
    served = await serve({"BURST": Burst})
    red, blue = await room(served, "red", "blue")
    front, key = served.server.front, burst_key(served)
    ids = ids_by_tag(front, key)
    # One turn: a broadcast to "red", the blue socket turns red, red gives up its tag,
    # and another broadcast to "red": its recipients are the sockets tagged red now.
    front.commands.broadcast(key, "1", "red", ())
    front.commands.set_tags(ids["blue"], ["red"])
    front.commands.set_tags(ids["red"], ["green"])
    front.commands.broadcast(key, "2", "red", ())
    front.commands.broadcast(key, "end", None, ())
    assert await received(red, 2) == ["1", "end"]
    assert await received(blue, 2) == ["2", "end"]


async def test_a_socket_whose_upgrade_completes_in_the_turn_gets_only_later_broadcasts(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = await serve({"BURST": Burst})
    (first,) = await room(served, "first")
    front, key = served.server.front, burst_key(served)
    complete = Front.open_socket

    def open_socket(self: Front, conn: Connection, socket_id: int, object_id: hub.ObjectId) -> None:
        # The upgrade completes in the same turn as two broadcasts of its object.
        self.commands.broadcast(key, "before", None, ())
        complete(self, conn, socket_id, object_id)
        self.commands.broadcast(key, "after", None, ())

    monkeypatch.setattr(Front, "open_socket", open_socket)
    second = await served.connect("/objects/burst/b?tags=second")
    monkeypatch.undo()
    front.commands.broadcast(key, "end", None, ())
    assert await received(first, 3) == ["before", "after", "end"]
    assert await received(second, 2) == ["after", "end"]


@dataclass(eq=False)
class FakeConnection:
    """What a batch reads and calls of a connection (a fake at the seam)."""

    socket_id: int
    v1: bool = False
    batch: Batch | None = None
    written: list[bytes] = field(default_factory=list)

    def write_shared(self, data: bytes) -> None:
        self.written.append(data)


def test_a_batch_writes_shared_bytes_and_owes_early_takers_only_what_is_later() -> None:
    plain = [FakeConnection(1), FakeConnection(2), FakeConnection(3)]
    v1 = [FakeConnection(4, v1=True)]
    batch = Batch(None, plain, v1, [], {1, 2, 3, 4})  # type: ignore[arg-type]
    assert batch.add(b"A", b"a", ()) == 4
    assert batch.take(plain[0]) == [b"A"]  # type: ignore[arg-type]
    assert batch.add(b"B", b"b", {2}) == 3
    assert batch.add(b"C", b"c", ()) == 4
    batch.flush()
    assert [c.written for c in plain] == [[b"BC"], [b"AC"], [b"ABC"]]
    assert v1[0].written == [b"abc"]
    assert plain[1].written[0] is not plain[2].written[0]
