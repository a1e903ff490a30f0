"""The connection against a scripted hub over real sockets: session, exactly-once
resends, calls, typed errors, close codes, reconnects, keep-alive, buffering."""

from __future__ import annotations

import asyncio
import re

import pytest
import roost_client
from roost_client import State, StateChange

import protocol
from tests.conftest import within
from tests.roost_client.conftest import FakeHub, FakeSleep, OpenClient

MAX_ID = protocol.MAX_ID


async def test_connect_says_hello_first_and_returns_once_welcomed(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    assert conn.state is State.OPEN
    index, hello = await fake.next_json()
    assert (index, hello) == (0, {"t": "hello", "session": conn.session})
    assert conn.socket_id == 0


async def test_sessions_are_random_url_safe_and_at_least_128_bits(
    open_client: OpenClient,
) -> None:
    first, second = await open_client(), await open_client()
    for conn in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,128}", conn.session)  # 22 chars: 132 bits
    assert first.session != second.session


async def test_a_session_given_by_the_caller_is_checked_and_used(
    fake: FakeHub, open_client: OpenClient
) -> None:
    with pytest.raises(ValueError, match="session must be 1-128 of"):
        await open_client(session="not valid!")
    conn = await open_client(session="my-session_1")
    assert (await fake.next_json("hello"))[1]["session"] == "my-session_1"
    assert conn.session == "my-session_1"


async def test_send_numbers_text_and_json_messages_and_sends_bytes_as_binary(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    assert conn.send("hi") == 1
    assert conn.send({"n": [1, 2.5, None]}) == 2
    assert conn.send(b"\x00\xff") is None
    assert conn.send("no id", exactly_once=False) is None
    assert conn.send("last") == 3
    await fake.next_json("hello")
    sent = [(await fake.next())[1] for _ in range(5)]
    assert sent == [
        {"t": "msg", "data": "hi", "id": 1},
        {"t": "msg", "data": {"n": [1, 2.5, None]}, "id": 2},
        b"\x00\xff",
        {"t": "msg", "data": "no id"},
        {"t": "msg", "data": "last", "id": 3},
    ]
    await within(conn.flush())
    assert conn.buffered == 0


async def test_unacknowledged_messages_are_kept_until_acked(
    fake: FakeHub, open_client: OpenClient
) -> None:
    fake.ack = False
    conn = await open_client()
    conn.send("a")
    conn.send(["b"])
    index, _ = await fake.next_json("msg")
    await fake.next_json("msg")
    assert conn.unacknowledged() == {1: "a", 2: ["b"]}
    await fake.sockets[index].send(fake.encode(t="ack", id=2))
    await fake.sockets[index].send(fake.encode(t="ack", id=1))
    await within(conn.flush())
    assert conn.unacknowledged() == {}


async def test_after_a_drop_it_resumes_the_session_and_resends_unacked_messages_in_order(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    fake.ack = False
    conn = await open_client()
    changes = conn.state_changes()
    for data in ("a", "b", "c"):
        conn.send(data)
    for _ in range(3):
        await fake.next_json("msg")
    await fake.sockets[0].send(fake.encode(t="ack", id=2))
    fake.sockets[0].transport.abort()
    conn.send("d")  # while the drop is noticed or after: it follows the others
    fake.ack = True
    (await fake.socket(1))
    frames = [await fake.next_json() for _ in range(4)]
    assert frames == [
        (1, {"t": "hello", "session": conn.session}),
        (1, {"t": "msg", "data": "a", "id": 1}),
        (1, {"t": "msg", "data": "c", "id": 3}),
        (1, {"t": "msg", "data": "d", "id": 4}),
    ]
    await within(conn.flush())
    lost = await within(anext(changes))
    assert (lost.state, lost.previous, lost.attempt, lost.delay) == (
        State.RECONNECTING,
        State.OPEN,
        1,
        0.5,
    )
    assert isinstance(lost.error, roost_client.ConnectionLost)
    assert lost.error.close_code == 1006
    back = await within(anext(changes))
    assert (back.state, back.previous, back.error) == (State.OPEN, State.RECONNECTING, None)
    assert sleep.delays == [0.5]


async def test_a_call_returns_its_result_and_call_ids_count_down_from_max_id(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    call = asyncio.create_task(conn.call("add", 1, 2, scale=3))
    index, frame = await fake.next_json("call")
    assert frame == {
        "t": "call",
        "id": MAX_ID,
        "method": "add",
        "args": [1, 2],
        "kwargs": {"scale": 3},
    }
    await fake.sockets[index].send(fake.encode(t="result", id=MAX_ID, result={"sum": 9}))
    assert await within(call) == {"sum": 9}
    second = asyncio.create_task(conn.call("ping"))
    assert (await fake.next_json("call"))[1] == {"t": "call", "id": MAX_ID - 1, "method": "ping"}
    await fake.sockets[index].send(fake.encode(t="result", id=MAX_ID - 1, result=None))
    assert await within(second) is None


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        ("method_not_found", roost_client.MethodNotFound, False),
        ("invalid_arguments", roost_client.InvalidArguments, False),
        ("object_error", roost_client.ObjectError, False),
        ("overloaded", roost_client.Overloaded, False),
        ("internal_error", roost_client.InternalError, True),
        ("some_future_code", roost_client.RoostError, False),
    ],
)
async def test_a_call_error_raises_the_typed_error_of_its_code(
    fake: FakeHub,
    open_client: OpenClient,
    code: str,
    cls: type[roost_client.RoostError],
    retryable: bool,
) -> None:
    conn = await open_client()
    call = asyncio.create_task(conn.call("m"))
    index, frame = await fake.next_json("call")
    await fake.sockets[index].send(
        fake.encode(
            t="error", id=frame["id"], code=code, message="said the hub", retryable=retryable
        )
    )
    with pytest.raises(cls) as info:
        await within(call)
    error = info.value
    assert type(error) is cls
    assert (error.code, error.message, error.retryable, error.id) == (
        code,
        "said the hub",
        retryable,
        frame["id"],
    )
    assert conn.state is State.OPEN


async def test_an_error_for_a_message_settles_it_and_reaches_error_listeners(
    fake: FakeHub, open_client: OpenClient
) -> None:
    fake.ack = False
    conn = await open_client()
    errors: list[roost_client.RoostError] = []
    conn.on_error(errors.append)
    conn.send("boom")
    index, _ = await fake.next_json("msg")
    await fake.sockets[index].send(
        fake.encode(t="error", id=1, code="object_error", message="raised", retryable=False)
    )
    await within(conn.flush())
    assert [(type(e), e.id) for e in errors] == [(roost_client.ObjectError, 1)]
    assert conn.unacknowledged() == {}


async def test_unreadable_hub_frames_are_reported_and_reading_goes_on(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    errors: list[roost_client.RoostError] = []
    conn.on_error(errors.append)
    ws = await fake.socket(0)
    await ws.send("{not json")
    await ws.send(fake.encode(t="sub", table="x"))
    await ws.send(fake.encode(t="msg", data={"not": "a string"}))
    await ws.send(
        fake.encode(t="error", id=None, code="bad_frame", message="yours", retryable=False)
    )
    await ws.send(fake.encode(t="msg", data="after"))
    assert await within(conn.recv()) == "after"
    assert [type(e) for e in errors] == [roost_client.BadFrame] * 4
    assert [e.id for e in errors] == [None] * 4
    assert errors[3].message == "yours"
    assert conn.state is State.OPEN


async def test_messages_from_the_object_arrive_in_order_as_str_or_bytes(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    ws = await fake.socket(0)
    await ws.send(fake.encode(t="msg", data="one"))
    await ws.send(b"two")
    await ws.send(fake.encode(t="msg", data="three"))
    received = [await within(conn.recv()) for _ in range(3)]
    assert received == ["one", b"two", "three"]


async def test_a_refused_upgrade_with_4xx_raises_at_once_without_retrying(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    fake.refusals = [403]
    with pytest.raises(roost_client.HandshakeRejected) as info:
        await open_client()
    assert (info.value.status, info.value.retryable) == (403, False)
    assert b'"refused"' in info.value.body
    assert sleep.delays == []
    assert fake.upgrades == 1


async def test_a_refused_upgrade_with_5xx_is_retried_with_backoff(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    fake.refusals = [503, 502, 429]
    conn = await open_client()
    assert conn.state is State.OPEN
    assert sleep.delays == [0.5, 1.0, 2.0]
    assert fake.upgrades == 4


async def test_a_peer_that_does_not_select_roost_v1_is_refused(
    open_client: OpenClient, sleep: FakeSleep
) -> None:
    plain = FakeHub()
    plain.subprotocol = False
    await plain.start()
    try:
        with pytest.raises(roost_client.HandshakeRejected, match="did not select") as info:
            await open_client(url=plain.url)
        assert info.value.status is None
        assert sleep.delays == []
    finally:
        await plain.stop()


async def test_without_reconnect_an_unreachable_hub_raises_connect_failed(
    fake: FakeHub, open_client: OpenClient
) -> None:
    await fake.stop()
    with pytest.raises(roost_client.ConnectFailed) as info:
        await open_client(reconnect=False)
    assert info.value.retryable
    assert isinstance(info.value.__cause__, OSError)


async def test_reconnecting_gives_up_after_max_attempts(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    await fake.stop()
    backoff = roost_client.Backoff(jitter=0.0, max_attempts=3)
    with pytest.raises(roost_client.ConnectFailed, match="gave up after 3 failed attempts"):
        await open_client(backoff=backoff)
    assert sleep.delays == [0.5, 1.0]


async def test_connect_keeps_trying_until_the_hub_is_up(
    fake: FakeHub, open_client: OpenClient
) -> None:
    port = fake.port
    await fake.stop()
    held = FakeSleep(hold=True)
    connecting = asyncio.create_task(open_client(sleep=held))
    first = await held.next()
    second_hub = FakeHub()
    await second_hub.start(port)
    try:
        first.release()
        conn = await within(connecting)
        assert conn.state is State.OPEN
        assert first.delay == 0.5
    finally:
        await second_hub.stop()


async def test_cancelling_connect_closes_the_connection(fake: FakeHub, sleep: FakeSleep) -> None:
    await fake.stop()
    held = FakeSleep(hold=True)
    connect = roost_client.connect(fake.url, sleep=held)
    task = asyncio.create_task(within(connect))
    await held.next()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert connect.connection.state is State.CLOSED
    with pytest.raises(roost_client.ConnectionClosed):
        connect.connection.send("x")


@pytest.mark.parametrize("code", [1001, 1008, 1011, 1012, 1013])
async def test_the_hub_closing_with_a_retry_code_makes_the_client_reconnect(
    fake: FakeHub, open_client: OpenClient, code: int
) -> None:
    conn = await open_client()
    changes = conn.state_changes()
    await (await fake.socket(0)).close(code, "bye")
    await fake.socket(1)
    lost = await within(anext(changes))
    assert lost.state is State.RECONNECTING
    assert isinstance(lost.error, roost_client.ConnectionLost)
    assert lost.error.close_code == code
    assert (await within(anext(changes))).state is State.OPEN


async def test_the_object_closing_with_1000_ends_the_connection_quietly_for_good(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    fake.ack = False
    conn = await open_client()
    conn.send("kept")
    await fake.next_json("msg")
    await (await fake.socket(0)).close(1000, "done")
    async for _ in conn:
        pass
    assert conn.state is State.CLOSED
    assert conn.close_error is None
    assert conn.unacknowledged() == {1: "kept"}
    assert sleep.delays == []  # no reconnect (SPEC §7.3)


@pytest.mark.parametrize("code", [1002, 1003, 1007, 4000])
async def test_the_hub_closing_with_another_code_closes_the_connection_for_good(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep, code: int
) -> None:
    fake.ack = False
    conn = await open_client()
    conn.send("kept")
    await fake.next_json("msg")
    await (await fake.socket(0)).close(code, "go away")
    with pytest.raises(roost_client.ConnectionClosed) as info:
        async for _ in conn:
            pass
    assert (info.value.close_code, info.value.reason, info.value.retryable) == (
        code,
        "go away",
        False,
    )
    assert conn.state is State.CLOSED
    assert conn.close_error is info.value
    assert conn.unacknowledged() == {1: "kept"}
    assert sleep.delays == []
    with pytest.raises(roost_client.ConnectionClosed) as after:
        conn.send("more")
    assert after.value.close_code == code
    with pytest.raises(roost_client.ConnectionClosed):
        await within(conn.flush())


@pytest.mark.parametrize("announced", [True, False])
async def test_a_1009_close_is_reported_as_message_too_big(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep, announced: bool
) -> None:
    conn = await open_client()
    ws = await fake.socket(0)
    if announced:
        await ws.send(
            fake.encode(
                t="error", id=None, code="message_too_big", message="too big", retryable=False
            )
        )
    await ws.close(1009, "message too big")
    with pytest.raises(roost_client.MessageTooBig) as info:
        await within(conn.recv())
    assert conn.close_error is info.value
    assert (info.value.close_code, info.value.retryable) == (1009, False)
    unannounced = "connection closed with 1009 (message too big): 'message too big'"
    assert info.value.message == ("too big" if announced else unannounced)
    assert sleep.delays == []


async def test_without_reconnect_a_normal_close_by_the_hub_ends_iteration_quietly(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client(reconnect=False)
    ws = await fake.socket(0)
    await ws.send(fake.encode(t="msg", data="last words"))
    await ws.close(1000)
    assert [message async for message in conn] == ["last words"]
    assert conn.close_error is None


async def test_without_reconnect_a_lost_socket_closes_with_connection_lost(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client(reconnect=False)
    (await fake.socket(0)).transport.abort()
    with pytest.raises(roost_client.ConnectionLost) as info:
        await within(conn.recv())
    assert (info.value.close_code, info.value.retryable) == (1006, True)


async def test_closing_ends_iteration_stops_reconnecting_and_refuses_more(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    conn = await open_client()
    ws = await fake.socket(0)
    received: list[str | bytes] = []

    async def read() -> None:
        async for message in conn:
            received.append(message)

    reader = asyncio.create_task(read())
    await ws.send(fake.encode(t="msg", data="hello"))
    await within(conn.close())
    await within(reader)
    assert received == ["hello"]
    assert ws.close_code == 1000
    assert (conn.state, conn.close_error) == (State.CLOSED, None)
    assert sleep.delays == []
    with pytest.raises(roost_client.ConnectionClosed):
        conn.send("x")
    with pytest.raises(roost_client.ConnectionClosed):
        await conn.call("m")
    await within(conn.close())  # twice is fine


async def test_a_call_written_on_a_dropped_socket_fails_with_connection_lost(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    call = asyncio.create_task(conn.call("slow"))
    index, frame = await fake.next_json("call")
    fake.sockets[index].transport.abort()
    with pytest.raises(roost_client.ConnectionLost) as info:
        await within(call)
    assert (info.value.retryable, info.value.close_code, info.value.id) == (True, 1006, frame["id"])
    await fake.socket(1)  # and it reconnects


async def test_a_call_made_while_reconnecting_waits_for_the_next_socket(
    fake: FakeHub, open_client: OpenClient
) -> None:
    held = FakeSleep(hold=True)
    conn = await open_client(sleep=held)
    (await fake.socket(0)).transport.abort()
    pending = await held.next()
    assert conn.state is State.RECONNECTING
    call = asyncio.create_task(conn.call("echo", "x"))
    pending.release()
    index, frame = await fake.next_json("call")
    assert index == 1
    await fake.sockets[1].send(fake.encode(t="result", id=frame["id"], result="x"))
    assert await within(call) == "x"


async def test_the_offline_buffer_is_bounded_and_drains_after_reconnect(
    fake: FakeHub, open_client: OpenClient
) -> None:
    held = FakeSleep(hold=True)
    conn = await open_client(sleep=held, max_buffered=3)
    (await fake.socket(0)).transport.abort()
    pending = await held.next()
    conn.send("a")
    conn.send(b"b")
    conn.send("c")
    with pytest.raises(roost_client.BufferFull) as info:
        conn.send("d")
    assert info.value.retryable
    with pytest.raises(roost_client.BufferFull):
        await conn.call("m")
    pending.release()
    await within(conn.flush())
    sent = [(await fake.next())[1] for _ in range(5)]
    assert [frame for frame in sent if not (isinstance(frame, dict) and frame["t"] == "hello")] == [
        {"t": "msg", "data": "a", "id": 1},
        b"b",
        {"t": "msg", "data": "c", "id": 2},
    ]
    assert conn.send("d") == 3


async def test_an_oversize_frame_is_refused_before_it_is_sent(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client(max_message_size=100)
    with pytest.raises(roost_client.MessageTooBig, match="expected at most 100") as info:
        conn.send("x" * 100)
    assert (info.value.code, info.value.retryable) == ("message_too_big", False)
    with pytest.raises(roost_client.MessageTooBig):
        conn.send(bytes(101))
    with pytest.raises(roost_client.MessageTooBig):
        await conn.call("m", "é" * 50)
    assert conn.send("small") == 1  # the refused ones used no id
    assert (await fake.next_json("msg"))[1] == {"t": "msg", "data": "small", "id": 1}


async def test_a_call_without_an_answer_times_out_and_a_late_answer_is_ignored(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    with pytest.raises(roost_client.CallTimeout) as info:
        await conn.call("hang", timeout=0.01)
    assert (info.value.code, info.value.retryable) == ("timeout", True)
    index, frame = await fake.next_json("call")
    ws = fake.sockets[index]
    await ws.send(fake.encode(t="result", id=frame["id"], result="late"))
    await ws.send(fake.encode(t="msg", data="still fine"))
    assert await within(conn.recv()) == "still fine"


async def test_a_timed_out_call_made_offline_is_never_sent(
    fake: FakeHub, open_client: OpenClient
) -> None:
    held = FakeSleep(hold=True)
    conn = await open_client(sleep=held)
    (await fake.socket(0)).transport.abort()
    pending = await held.next()
    with pytest.raises(roost_client.CallTimeout):
        await conn.call("m", timeout=0)
    probe = asyncio.create_task(conn.call("probe"))
    pending.release()
    index, frame = await fake.next_json("call")
    assert (index, frame["method"]) == (1, "probe")  # the timed-out call never left
    await fake.sockets[1].send(fake.encode(t="result", id=frame["id"], result=None))
    await within(probe)


async def test_keep_alive_pings_and_drops_a_socket_without_pong(
    fake: FakeHub, open_client: OpenClient
) -> None:
    held = FakeSleep(hold=True)
    conn = await open_client(sleep=held, ping_interval=5.0)
    pending = await held.next()
    assert pending.delay == 5.0
    pending.release()
    index, ping = await fake.next_json("ping")
    assert (index, ping) == (0, {"t": "ping"})
    # The pong came (the fake answers); a message after it proves the client read it.
    await fake.sockets[0].send(fake.encode(t="msg", data="marker"))
    assert await within(conn.recv()) == "marker"
    fake.pong = False
    (await held.next()).release()
    await fake.next_json("ping")  # unanswered
    await fake.sockets[0].send(fake.encode(t="msg", data="marker"))
    assert await within(conn.recv()) == "marker"
    (await held.next()).release()  # no pong by now: the socket is dropped
    backoff = await held.next()
    assert backoff.delay == 0.5
    assert conn.state is State.RECONNECTING
    backoff.release()
    await fake.socket(1)


async def test_state_listeners_see_every_change_in_order(fake: FakeHub, sleep: FakeSleep) -> None:
    connect = roost_client.connect(fake.url, sleep=sleep, backoff=roost_client.Backoff(jitter=0))
    seen: list[tuple[State, State]] = []
    unsubscribe = connect.connection.on_state_change(lambda c: seen.append((c.state, c.previous)))
    conn = await within(connect)
    (await fake.socket(0)).transport.abort()
    await fake.socket(1)
    await within(conn.wait_for(State.OPEN))
    await within(conn.close())
    assert seen == [
        (State.OPEN, State.CONNECTING),
        (State.RECONNECTING, State.OPEN),
        (State.OPEN, State.RECONNECTING),
        (State.CLOSED, State.OPEN),
    ]
    unsubscribe()


async def test_a_listener_that_raises_does_not_break_the_connection(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()

    def broken(change: StateChange) -> None:
        raise RuntimeError("listener bug")

    conn.on_state_change(broken)
    (await fake.socket(0)).transport.abort()
    await fake.socket(1)
    await within(conn.wait_for(State.OPEN))
    conn.send("works")
    await within(conn.flush())


async def test_async_with_connect_closes_at_the_end(fake: FakeHub, sleep: FakeSleep) -> None:
    async with roost_client.connect(fake.url, sleep=sleep) as conn:
        states = [conn.state]
    states.append(conn.state)
    assert states == [State.OPEN, State.CLOSED]
    assert (await fake.socket(0)).close_code == 1000


async def test_the_token_never_shows_in_errors_or_repr(fake: FakeHub, sleep: FakeSleep) -> None:
    await fake.stop()
    connect = roost_client.connect(fake.url, token="s3cret", reconnect=False, sleep=sleep)
    assert "s3cret" not in repr(connect.connection)
    with pytest.raises(roost_client.ConnectFailed) as info:
        await within(connect)
    assert "s3cret" not in str(info.value)
    assert "token=***" in str(info.value)
