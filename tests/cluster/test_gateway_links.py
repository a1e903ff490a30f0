"""``hub.cluster.gateway.Workers``, the gateway's ``HostPort``, over real links to
workers that the test plays by hand.

The gateway is real: a ``Workers`` and the ``Front`` it serves, its worker links over
``socket.socketpair()``; where sockets matter, a real WebSocket client connects to the
front over TCP. Each worker is a recorder at the far end of its link: it says ``hello``,
reads what the gateway sends it in order, and answers as a worker would.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import socket
import weakref
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import websockets

from hub.clock import SystemClock
from hub.cluster.gateway import Workers
from hub.cluster.messages import WIRE_VERSION, error_to_wire
from hub.cluster.wire import Link, Message
from hub.errors import (
    HubStoppingError,
    OverloadedError,
    RemoteError,
    RpcError,
    UnauthorizedError,
    UnknownBindingError,
)
from hub.http import Request, Response
from hub.ids import ObjectId, id_from_name
from hub.limits import Limits
from hub.net.connection import Connection
from hub.net.front import Front
from hub.net.sockets import SocketTable
from hub.runtime.events import (
    FeedSubscribe,
    FetchCall,
    SocketClosed,
    SocketMessage,
)
from hub.runtime.host import partition_of
from tests.cluster.ends import Peer, accepted_link, socket_link
from tests.conftest import eventually, within

HANDLERS = {"ROOM": ["websocket_message", "websocket_auth", "websocket_close", "websocket_error"]}
_fences = itertools.count(10**12)


def room_in(partition: int, workers: int = 2) -> ObjectId:
    """An object of ``ROOM`` that lives in ``partition`` of ``workers``."""
    found = (id_from_name("ROOM", f"room-{i}") for i in itertools.count())
    return next(oid for oid in found if partition_of(oid.hex, workers) == partition)


def wire(object_id: ObjectId) -> list[Any]:
    """An object as a worker reads it off the link."""
    return [object_id.binding, object_id.hex, object_id.name]


def event(object_id: ObjectId, *fields: Any) -> Message:
    """The message a worker reads for one socket or feed event: a socket message
    (``"msg", socket, data, session, message id``) is flat, any other an ``event``."""
    if fields[0] == "msg":
        return ("msg", object_id.binding, object_id.hex, object_id.name, *fields[1:])
    return ("event", wire(object_id), list(fields))


class FakeWorker(Peer):
    """A worker process, played by the test."""

    def send(self, *message: Any) -> None:
        self.link.send(message)

    def hello(self, index: int, count: int = 2, generation: int = 0) -> None:
        self.send("hello", WIRE_VERSION, index, count, generation, HANDLERS)

    async def settle(self) -> list[Message]:
        """Every message the gateway sent this worker so far, once they all arrived.

        A fence: the worker accepts an upgrade that is not pending, which the gateway
        refuses with ``gone`` on this same link, after whatever it sent before.
        """
        fence = next(_fences)
        self.send("accept", fence, "0" * 64, [])
        got = []
        while (message := await self.next()) != ("gone", fence):
            got.append(message)
        return got

    async def answer_upgrade(self, tags: list[str]) -> int:
        """Accept the next request, a WebSocket upgrade, as an object would."""
        _kind, call_id, wire_object, request, _chain = await self.expect("fetch")
        upgrade_id = request[4]
        assert upgrade_id is not None
        self.send("accept", upgrade_id, wire_object[1], tags)
        self.send("fetched", call_id, 101, [], b"")
        return int(upgrade_id)


class Gateway:
    """One gateway: its ``Workers``, the ``Front`` over them, and the links to workers."""

    def __init__(self, workers: int = 2, hold_limit: int = 100) -> None:
        limits = Limits()
        self.workers = Workers(0, 1, workers, hold_limit=hold_limit)
        self.front = Front(
            self.workers, limits=limits, clock=SystemClock(), table=SocketTable(limits)
        )
        self.workers.front = self.front
        self.links: list[Link] = []
        self.fakes: list[FakeWorker] = []
        self.server: asyncio.Server | None = None

    async def worker(self, index: int | None = None, generation: int = 0) -> FakeWorker:
        """A worker connected to this gateway (saying ``hello`` for ``index``, if given)."""
        left, right = socket.socketpair()
        link = await accepted_link(
            lambda: Link(self.workers.on_message, self.workers.on_lost), left
        )
        self.links.append(link)
        worker = FakeWorker()
        self.fakes.append(worker)
        await socket_link(lambda: worker.link, right)
        if index is not None:
            worker.hello(index, len(self.workers.partitions), generation)
            await eventually(lambda: self.owner(index) is not None, "the hello was read")
        return worker

    def owner(self, index: int) -> Link | None:
        return self.workers.partitions[index].owner

    async def listen(self) -> str:
        """Serve clients on 127.0.0.1; the ``ws://`` URL."""
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: Connection(self.front), "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.front.close_connections(1001, 1.0)
        for link in self.links:
            link.abort()
        for worker in self.fakes:  # each sees its link end before the loop closes
            await within(worker.gone.wait())


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    made = Gateway()
    yield made
    await made.close()


@pytest.fixture
async def small_gateway() -> AsyncIterator[Gateway]:
    made = Gateway(hold_limit=3)
    yield made
    await made.close()


class Answers:
    """What a fetch's ``respond`` was given."""

    def __init__(self) -> None:
        self.got: list[Response | RpcError] = []

    def __call__(self, result: Response | RpcError) -> None:
        self.got.append(result)


# -- hello, and events held until it ------------------------------------------------------


async def test_events_wait_for_the_partitions_worker_and_follow_its_sync_in_order(
    gateway: Gateway,
) -> None:
    room, other = room_in(1), room_in(0)
    workers = gateway.workers
    workers.submit(room, SocketMessage(11, "one"))
    workers.submit(room, SocketMessage(12, b"two", "session", 5))
    workers.submit(room, SocketClosed(13, 1000, "bye", True, ("t",), b"att"))
    workers.submit(room, FeedSubscribe(11, 1, "log", [], None, True, None))
    workers.submit(other, SocketMessage(21, "for worker 0"))

    w1 = await gateway.worker(1)
    assert await w1.settle() == [
        ("sync", [], []),
        event(room, "msg", 11, "one", None, None),
        event(room, "msg", 12, b"two", "session", 5),
        event(room, "closed", 13, 1000, "bye", True, ["t"], b"att"),
        event(room, "sub", 11, 1, "log", [], None, True, None),
    ]
    # Partition 0 still has no worker: its event waits for one.
    w0 = await gateway.worker(0)
    assert await w0.settle() == [
        ("sync", [], []),
        event(other, "msg", 21, "for worker 0", None, None),
    ]


async def test_events_go_straight_to_a_partitions_worker(gateway: Gateway) -> None:
    room = room_in(1)
    w1 = await gateway.worker(1)
    assert await w1.settle() == [("sync", [], [])]
    gateway.workers.submit(room, SocketMessage(11, "now"))
    assert await w1.settle() == [event(room, "msg", 11, "now", None, None)]


async def test_the_gateway_is_ready_once_every_partition_has_a_worker(
    gateway: Gateway,
) -> None:
    await gateway.worker(0)
    assert not gateway.workers.ready.is_set()
    await gateway.worker(1)
    assert gateway.workers.ready.is_set()


async def test_a_worker_of_another_partition_count_is_turned_away(gateway: Gateway) -> None:
    worker = await gateway.worker()
    worker.hello(0, count=3)
    await within(worker.gone.wait())
    assert gateway.owner(0) is None


@pytest.mark.parametrize("version", [WIRE_VERSION - 1, WIRE_VERSION + 1])
async def test_a_worker_of_another_wire_version_is_turned_away(
    gateway: Gateway, version: int, caplog: pytest.LogCaptureFixture
) -> None:
    worker = await gateway.worker()
    worker.send("hello", version, 0, 2, 0, HANDLERS)
    await within(worker.gone.wait())
    assert gateway.owner(0) is None
    assert "needs a full restart" in caplog.text


async def test_a_hello_of_the_first_wire_form_is_turned_away(gateway: Gateway) -> None:
    worker = await gateway.worker()
    worker.send("hello", 0, 2, 0, HANDLERS)  # no version: Roost before wire version 2
    await within(worker.gone.wait())
    assert gateway.owner(0) is None


async def test_the_handlers_a_worker_names_are_what_the_front_asks_about(
    gateway: Gateway,
) -> None:
    with pytest.raises(UnknownBindingError, match="unknown binding 'ROOM'"):
        gateway.workers.object_id("ROOM", "x")
    await gateway.worker(0)
    assert gateway.workers.object_id("ROOM", "x") == id_from_name("ROOM", "x")
    assert gateway.workers.handles("ROOM", "websocket_close")
    assert not gateway.workers.handles("ROOM", "alarm")
    assert not gateway.workers.handles("CHAT", "websocket_close")


async def test_the_sync_carries_the_partitions_sockets_before_the_held_events(
    gateway: Gateway,
) -> None:
    url = await gateway.listen()
    mine, theirs = room_in(1), room_in(0)
    w0, w1 = await gateway.worker(0), await gateway.worker(1)
    assert await w0.settle() == [("sync", [], [])]
    assert await w1.settle() == [("sync", [], [])]

    async def open_socket(worker: FakeWorker, room: ObjectId, tags: list[str]) -> tuple[Any, int]:
        connecting = asyncio.ensure_future(websockets.connect(f"{url}/objects/room/{room.name}"))
        socket_id = await worker.answer_upgrade(tags)
        return await within(connecting), socket_id

    client, socket_id = await open_socket(w1, mine, ["red", "blue"])
    other_client, _ = await open_socket(w0, theirs, [])
    w1.send("attachment", socket_id, b"att")
    w1.send("presence", mine.hex, socket_id, b'{"n":1}')
    assert await w1.settle() == []

    w1.link.abort()  # worker 1 crashes; its socket stays open in the gateway
    await eventually(lambda: gateway.owner(1) is None, "the gateway saw worker 1 go")
    await client.send("one")
    await client.send(b"two")
    await client.send("three")
    await eventually(lambda: len(gateway.workers.partitions[1].held) == 3, "3 events held")

    successor = await gateway.worker(1, generation=1)
    record = [socket_id, "ROOM", mine.hex, mine.name, ["red", "blue"], b"att", False, None]
    assert await successor.settle() == [
        ("sync", [record], [[mine.hex, socket_id, b'{"n":1}']]),
        event(mine, "msg", socket_id, "one", None, None),
        event(mine, "msg", socket_id, b"two", None, None),
        event(mine, "msg", socket_id, "three", None, None),
    ]
    assert await w0.settle() == []  # the other partition saw none of it
    await client.close()
    await other_client.close()


# -- the hold limit ---------------------------------------------------------------------


async def test_over_the_hold_limit_new_events_are_refused_as_overloaded(
    small_gateway: Gateway,
) -> None:
    room = room_in(1)
    workers = small_gateway.workers
    for n in range(3):
        workers.submit(room, SocketMessage(11, f"held {n}"))
    with pytest.raises(OverloadedError, match="3 events are waiting for worker 1"):
        workers.submit(room, SocketMessage(11, "refused"))
    answers = Answers()
    with pytest.raises(OverloadedError):
        workers.submit(room, FetchCall(Request("GET", "http://h/objects/room/x"), answers))
    with pytest.raises(OverloadedError):
        workers.call_wire(room, "method", [], {})
    # What the front must tell the worker whatever the load is still kept, in order.
    workers.socket_gone(room, 11)
    workers.auto_responded(room, 12, 1.5)
    reached: list[str] = []
    workers.after_queued(room, lambda: reached.append("reached"))

    w1 = await small_gateway.worker(1)
    got = await w1.settle()
    assert got[:6] == [
        ("sync", [], []),
        event(room, "msg", 11, "held 0", None, None),
        event(room, "msg", 11, "held 1", None, None),
        event(room, "msg", 11, "held 2", None, None),
        ("gone", 11),
        ("auto_at", 12, 1.5),
    ]
    assert [message[0] for message in got[6:]] == ["barrier"]
    assert answers.got == [] and reached == []
    w1.send("reached", got[6][1])
    await eventually(lambda: reached == ["reached"], "the barrier was reached")


async def test_a_fetch_refused_over_the_hold_limit_is_not_kept(small_gateway: Gateway) -> None:
    room = room_in(1)
    for n in range(3):
        small_gateway.workers.submit(room, SocketMessage(11, f"held {n}"))
    answers = Answers()
    kept = weakref.ref(answers)
    with pytest.raises(OverloadedError):
        small_gateway.workers.submit(room, FetchCall(Request("GET", "http://h/x"), answers))
    del answers
    gc.collect()
    assert kept() is None, "the gateway still holds the refused request's answer"


async def test_a_partition_with_a_worker_has_no_hold_limit(small_gateway: Gateway) -> None:
    room = room_in(1)
    w1 = await small_gateway.worker(1)
    for n in range(10):
        small_gateway.workers.submit(room, SocketMessage(11, str(n)))
    got = await w1.settle()
    assert got[1:] == [event(room, "msg", 11, str(n), None, None) for n in range(10)]


async def test_a_sockets_messages_name_its_object_until_the_socket_is_gone(
    gateway: Gateway,
) -> None:
    """The gateway works a socket's partition and ``msg`` head out once (its first
    message) and reuses them; it forgets them when the front drops the socket."""
    room = room_in(1)
    named = (id_from_name("ROOM", f"other-{i}") for i in itertools.count())
    other = next(oid for oid in named if partition_of(oid.hex, 2) == 1)
    workers = gateway.workers
    w1 = await gateway.worker(1)
    workers.submit(room, SocketMessage(11, "first"))
    workers.submit(room, SocketMessage(11, b"second", "session", 7))
    workers.submit(other, SocketMessage(12, "elsewhere"))
    assert (await w1.settle())[1:] == [
        event(room, "msg", 11, "first", None, None),
        event(room, "msg", 11, b"second", "session", 7),
        event(other, "msg", 12, "elsewhere", None, None),
    ]
    workers.socket_gone(room, 11)
    assert await w1.settle() == [("gone", 11)]
    assert 11 not in workers._routes and 12 in workers._routes  # no memory for 11 kept


# -- replacing a worker: retire, retired -------------------------------------------------


async def test_a_second_hello_retires_the_owner_and_holds_events_until_it_retired(
    gateway: Gateway,
) -> None:
    room = room_in(1)
    workers = gateway.workers
    old = await gateway.worker(1)
    workers.submit(room, SocketMessage(11, "before"))
    assert await old.settle() == [("sync", [], []), event(room, "msg", 11, "before", None, None)]

    new = await gateway.worker(None)
    new.hello(1, generation=1)
    assert await old.expect("retire") == ("retire",)
    workers.submit(room, SocketMessage(11, "during 1"))
    workers.submit(room, SocketMessage(11, "during 2"))
    assert await old.settle() == []  # the old worker takes no new event
    assert await new.settle() == []  # and the new one has nothing until the old is done

    old.send("retired")
    assert await new.next() == ("sync", [], [])
    assert await new.settle() == [
        event(room, "msg", 11, "during 1", None, None),
        event(room, "msg", 11, "during 2", None, None),
    ]
    workers.submit(room, SocketMessage(11, "after"))
    assert await new.settle() == [event(room, "msg", 11, "after", None, None)]
    assert await old.settle() == []
    old.link.close()  # the old worker exits: nothing changes
    await within(old.gone.wait())
    workers.submit(room, SocketMessage(11, "later"))
    assert await new.settle() == [event(room, "msg", 11, "later", None, None)]


async def test_a_retiring_worker_still_answers_what_it_had(gateway: Gateway) -> None:
    room = room_in(1)
    old = await gateway.worker(1)
    reply = gateway.workers.call_wire(room, "count", [], {})
    _sync, call = await old.settle()
    new = await gateway.worker(None)
    new.hello(1, generation=1)
    await old.expect("retire")
    old.send("result", call[1], True, 42)
    old.send("retired")
    assert await within(reply) == 42
    assert await new.settle() == [("sync", [], [])]


async def test_a_call_made_while_the_owner_retires_goes_to_its_successor(
    gateway: Gateway,
) -> None:
    room = room_in(1)
    old = await gateway.worker(1)
    await old.settle()
    new = await gateway.worker(None)
    new.hello(1, generation=1)
    await old.expect("retire")
    reply = gateway.workers.call_wire(room, "count", [1], {"k": 2})
    old.send("retired")
    assert await new.next() == ("sync", [], [])
    call = await new.expect("call")
    assert call[2:] == (wire(room), "count", [1], {"k": 2}, [], False)
    new.send("result", call[1], False, error_to_wire(RemoteError("ValueError", "no")))
    with pytest.raises(RemoteError, match="ValueError: no"):
        await within(reply)


# -- a worker lost without retiring -----------------------------------------------------


async def test_a_lost_owner_fails_its_pending_fetches_and_calls_with_hub_stopping(
    gateway: Gateway,
) -> None:
    room, elsewhere = room_in(1), room_in(0)
    w0, w1 = await gateway.worker(0), await gateway.worker(1)
    answers = Answers()
    gateway.workers.submit(room, FetchCall(Request("POST", "http://h/x", [], b"b"), answers))
    reply = gateway.workers.call_wire(room, "count", [], {})
    answered = gateway.workers.call_wire(room, "count", [], {})
    other = gateway.workers.call_wire(elsewhere, "count", [], {})
    _sync, fetch, call, done = await w1.settle()
    assert fetch[0] == "fetch" and fetch[3] == ["POST", "http://h/x", [], b"b", None, None]
    w1.send("result", done[1], True, "already answered")
    assert await within(answered) == "already answered"

    w1.link.abort()
    with pytest.raises(HubStoppingError) as stopped:
        await within(reply)
    assert stopped.value.retryable
    assert len(answers.got) == 1 and isinstance(answers.got[0], HubStoppingError)
    # The other worker's call is its own business.
    assert not other.done()
    _sync, call0 = await w0.settle()
    w0.send("result", call0[1], True, "zero")
    assert await within(other) == "zero"
    assert call[0] == "call"


async def test_a_lost_owner_fails_its_unanswered_auth_frames_and_the_next_gets_held_ones(
    gateway: Gateway,
) -> None:
    url = await gateway.listen()
    room = room_in(1)
    w1 = await gateway.worker(1)
    assert await w1.settle() == [("sync", [], [])]
    connecting = asyncio.ensure_future(
        websockets.connect(f"{url}/objects/room/{room.name}", subprotocols=["roost.v1"])
    )
    socket_id = await w1.answer_upgrade([])
    client = await within(connecting)

    async def answer() -> Any:
        return orjson.loads(await within(client.recv()))

    for auth_id in (5, 6):
        await client.send(
            orjson.dumps({"t": "auth", "id": auth_id, "token": f"t{auth_id}"}).decode()
        )
    assert await w1.settle() == [
        event(room, "auth", socket_id, 5, "t5"),
        event(room, "auth", socket_id, 6, "t6"),
    ]
    w1.send("answer", socket_id, 5, {"user": "five"}, None)
    assert await answer() == {"t": "result", "id": 5, "result": {"user": "five"}}

    w1.link.abort()  # 6 was not answered: it may or may not have run
    assert await answer() == {
        "t": "error",
        "id": 6,
        "code": "hub_stopping",
        "message": "the worker stopped before answering",
        "retryable": True,
    }
    await eventually(lambda: gateway.owner(1) is None, "the gateway saw worker 1 go")
    await client.send('{"t":"auth","id":7,"token":"t7"}')  # held
    await eventually(lambda: len(gateway.workers.partitions[1].held) == 1, "the auth is held")
    successor = await gateway.worker(1, generation=1)
    got = await successor.settle()
    assert got[1:] == [event(room, "auth", socket_id, 7, "t7")]
    successor.send("answer", socket_id, 7, None, error_to_wire(UnauthorizedError("expired")))
    assert await answer() == {
        "t": "error",
        "id": 7,
        "code": "unauthorized",
        "message": "expired",
        "retryable": False,
    }
    successor.link.abort()  # nothing is left to fail
    await client.send('{"t":"ping"}')
    assert await answer() == {"t": "pong"}
    await client.close()


async def test_a_lost_owners_unacknowledged_messages_go_to_the_next_worker(
    gateway: Gateway,
) -> None:
    room = room_in(1)
    workers = gateway.workers
    w1 = await gateway.worker(1)
    for n in (1, 2, 3):
        workers.submit(room, SocketMessage(11, f"m{n}", "session", n))
    workers.submit(room, SocketMessage(11, "plain"))  # not exactly-once: not kept
    workers.submit(room, SocketMessage(12, "gone", "other", 1))
    workers.socket_gone(room, 12)  # its client resends it after reconnecting
    got = await w1.settle()
    assert len(got) == 7
    w1.send("ack", 11, 1, None)
    w1.send("ack", 11, 3, None)
    assert await w1.settle() == []  # the acks are read

    w1.link.abort()
    await eventually(lambda: gateway.owner(1) is None, "the gateway saw worker 1 go")
    workers.submit(room, SocketMessage(11, "m4", "session", 4))

    successor = await gateway.worker(1, generation=1)
    assert await successor.settle() == [
        ("sync", [], []),
        event(room, "msg", 11, "m2", "session", 2),
        event(room, "msg", 11, "m4", "session", 4),
    ]
    # Sent again, and acknowledged by nobody yet: a second crash sends them again.
    successor.link.abort()
    await eventually(lambda: gateway.owner(1) is None, "the gateway saw the successor go")
    third = await gateway.worker(1, generation=2)
    assert await third.settle() == [
        ("sync", [], []),
        event(room, "msg", 11, "m2", "session", 2),
        event(room, "msg", 11, "m4", "session", 4),
    ]


async def test_a_standby_takes_over_at_once_when_the_retiring_owner_crashes(
    gateway: Gateway,
) -> None:
    room = room_in(1)
    workers = gateway.workers
    old = await gateway.worker(1)
    workers.submit(room, SocketMessage(11, "m1", "session", 1))
    await old.settle()
    new = await gateway.worker(None)
    new.hello(1, generation=1)
    await old.expect("retire")
    workers.submit(room, SocketMessage(11, "held"))
    old.link.abort()
    assert await new.next() == ("sync", [], [])  # as soon as the gateway sees it gone
    assert await new.settle() == [
        event(room, "msg", 11, "m1", "session", 1),
        event(room, "msg", 11, "held", None, None),
    ]


# -- barriers -----------------------------------------------------------------------------


async def test_after_queued_with_no_worker_and_nothing_held_calls_back_at_once(
    gateway: Gateway,
) -> None:
    reached: list[str] = []
    gateway.workers.after_queued(room_in(1), lambda: reached.append("now"))
    assert reached == ["now"]


async def test_after_queued_waits_for_the_worker_to_reach_it(gateway: Gateway) -> None:
    room = room_in(1)
    reached: list[str] = []
    gateway.workers.submit(room, SocketMessage(11, "first"))
    gateway.workers.after_queued(room, lambda: reached.append("held"))
    assert reached == []
    w1 = await gateway.worker(1)
    _sync, first, barrier = await w1.settle()
    assert first == event(room, "msg", 11, "first", None, None)
    assert barrier == ("barrier", barrier[1], wire(room))
    gateway.workers.after_queued(room, lambda: reached.append("sent"))
    (second,) = await w1.settle()
    assert reached == []
    w1.send("reached", barrier[1])
    w1.send("reached", second[1])
    await eventually(lambda: reached == ["held", "sent"], "both barriers were reached")


async def test_a_barrier_on_a_lost_worker_is_released(gateway: Gateway) -> None:
    room = room_in(1)
    reached: list[str] = []
    w1 = await gateway.worker(1)
    gateway.workers.after_queued(room, lambda: reached.append("released"))
    await w1.settle()
    w1.link.abort()
    await eventually(lambda: reached == ["released"], "the barrier was released")


# -- calls between workers ----------------------------------------------------------------


async def test_a_workers_call_to_another_partition_is_routed_and_answered(
    gateway: Gateway,
) -> None:
    target = room_in(0)
    w0, w1 = await gateway.worker(0), await gateway.worker(1)
    await w0.settle()
    await w1.settle()
    w1.send("call", 7, wire(target), "count", [1], {}, ["caller-hex"])
    routed = await w0.expect("call")
    assert routed[2:] == (wire(target), "count", [1], {}, ["caller-hex"], False)
    w0.send("result", routed[1], True, {"n": 1})
    assert await w1.next() == ("result", 7, True, {"n": 1})
