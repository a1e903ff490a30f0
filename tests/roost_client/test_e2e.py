"""The SDK against a real hub: messages both ways, RPC results and typed errors, URL,
query and token, hibernation, oversize frames."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import roost_client
from roost_client import State

import hub
from tests.conftest import within
from tests.roost_client.conftest import FakeSleep, RunHub


async def test_messages_reach_the_object_and_its_answers_come_back(run_hub: RunHub) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        conn.send("echo:hello")
        assert await within(conn.recv()) == "hello"
        conn.send(b"\x01\x02\x03")
        assert await within(conn.recv()) == b"\x03\x02\x01"
        conn.send("first")
        conn.send({"n": 1, "list": [True, None]})
        conn.send("at most once", exactly_once=False)
        await within(conn.flush())
        assert await within(conn.call("handled")) == [
            "first",
            '{"n":1,"list":[true,null]}',
            "at most once",
        ]


async def test_a_broadcast_reaches_every_connection(run_hub: RunHub) -> None:
    running = await run_hub()
    async with (
        roost_client.connect(running.url()) as alice,
        roost_client.connect(running.url()) as bob,
    ):
        alice.send("shout:hi all")
        assert await within(alice.recv()) == "hi all"
        assert await within(bob.recv()) == "hi all"


async def test_a_call_returns_the_methods_result(run_hub: RunHub) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        assert await within(conn.call("add", 2, 3)) == 5
        assert await within(conn.call("add", 2, b=40)) == 42
        assert await within(conn.call("count", timeout=5.0)) == 0


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "cls"),
    [
        ("missing", [], {}, roost_client.MethodNotFound),
        ("_secret", [], {}, roost_client.MethodNotFound),
        ("websocket_message", [], {}, roost_client.MethodNotFound),
        ("fetch", [], {}, roost_client.MethodNotFound),
        ("add", ["two"], {}, roost_client.InvalidArguments),
        ("add", [1], {"c": 2}, roost_client.InvalidArguments),
        ("boom", [], {}, roost_client.ObjectError),
    ],
)
async def test_a_failed_call_raises_the_typed_error_of_its_code(
    run_hub: RunHub,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any],
    cls: type[roost_client.RoostError],
) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        with pytest.raises(cls) as info:
            await within(conn.call(method, *args, **kwargs))
        error = info.value
        assert type(error) is cls
        assert error.code == cls.default_code
        assert error.retryable is False
        assert error.message
        # The connection is unharmed: the next call works.
        assert await within(conn.call("add", 1)) == 1
        assert conn.state is State.OPEN


async def test_a_message_whose_handler_raises_is_reported_once_and_rolled_back(
    run_hub: RunHub,
) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        errors: list[roost_client.RoostError] = []
        conn.on_error(errors.append)
        failing = conn.send("fail:x")
        conn.send("after")
        await within(conn.flush())
        assert [(type(e), e.id, e.retryable) for e in errors] == [
            (roost_client.ObjectError, failing, False)
        ]
        assert conn.unacknowledged() == {}
        assert await within(conn.call("handled")) == ["after"]


async def test_host_binding_and_any_name_reach_that_object(run_hub: RunHub) -> None:
    running = await run_hub()
    name = "a/b c?d#é 😀"
    connect = roost_client.connect(
        host=f"127.0.0.1:{running.port}", binding="LEDGER", name=name, query={"who": "ada"}
    )
    async with connect as conn:
        assert await within(conn.call("name")) == name
        assert await within(conn.call("attachments")) == [{"who": "ada"}]


async def test_the_token_travels_in_the_query(run_hub: RunHub) -> None:
    running = await run_hub(vars={"TOKEN": "s3cret&more"})
    async with roost_client.connect(running.url(), token="s3cret&more") as conn:
        assert await within(conn.call("add", 1)) == 1
    sleep = FakeSleep()
    with pytest.raises(roost_client.HandshakeRejected) as info:
        await within(roost_client.connect(running.url(), token="wrong", sleep=sleep))
    assert (info.value.status, info.value.retryable) == (403, False)
    assert sleep.delays == []  # a 4xx is final: no retry


async def test_hibernation_between_messages_loses_nothing(run_hub: RunHub) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        conn.send("before")
        await within(conn.flush())
        assert await running.app.hibernate("LEDGER", "ledger-1")
        assert not running.app.is_active("LEDGER", "ledger-1")
        conn.send("after")  # wakes the object on a parked socket
        await within(conn.flush())
        assert await running.app.hibernate("LEDGER", "ledger-1")
        assert await within(conn.call("handled")) == ["before", "after"]


async def test_the_duplicate_window_survives_eviction(run_hub: RunHub) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url(), session="resumed") as first:
        first.send("one")
        first.send("two")
        await within(first.flush())
    assert await running.app.hibernate("LEDGER", "ledger-1")
    # The same session starting again from id 1: the hub acknowledges, runs nothing.
    async with roost_client.connect(running.url(), session="resumed") as again:
        again.send("one again")
        again.send("two again")
        again.send("three")
        await within(again.flush())
        assert await within(again.call("handled")) == ["one", "two", "three"]


async def test_an_oversize_frame_is_refused_by_the_client_before_sending(
    run_hub: RunHub,
) -> None:
    running = await run_hub(limits=hub.Limits(message_bytes=1024))
    async with roost_client.connect(running.url(), max_message_size=1024) as conn:
        with pytest.raises(roost_client.MessageTooBig):
            conn.send("x" * 2000)
        conn.send("fits")
        await within(conn.flush())
        assert await within(conn.call("handled")) == ["fits"]


async def test_an_oversize_frame_the_hub_refuses_closes_with_a_typed_error_and_loses_no_ack(
    run_hub: RunHub,
) -> None:
    running = await run_hub(limits=hub.Limits(message_bytes=1024))
    sleep = FakeSleep()
    conn = await within(roost_client.connect(running.url(), max_message_size=None, sleep=sleep))
    conn.send("acknowledged")
    await within(conn.flush())
    big = conn.send("x" * 2000)
    with pytest.raises(roost_client.MessageTooBig) as info:
        await within(conn.recv())
    assert (info.value.close_code, info.value.retryable) == (1009, False)
    assert conn.state is State.CLOSED
    assert sleep.delays == []  # 1009 is final (SPEC §7.3)
    assert big is not None and list(conn.unacknowledged()) == [big]
    async with roost_client.connect(running.url()) as other:
        assert await within(other.call("handled")) == ["acknowledged"]


async def test_a_call_waits_for_the_object_and_many_run_concurrently(run_hub: RunHub) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        results = await within(asyncio.gather(*(conn.call("add", n, n) for n in range(50))))
        assert results == [2 * n for n in range(50)]


async def test_messages_sent_before_the_socket_opens_wait_and_go_out_first(
    run_hub: RunHub,
) -> None:
    running = await run_hub()
    connect = roost_client.connect(running.url())
    assert connect.connection.state is State.CONNECTING
    assert connect.connection.send("early") == 1
    async with connect as conn:
        conn.send("later")
        await within(conn.flush())
        assert await within(conn.call("handled")) == ["early", "later"]


async def test_keep_alive_pings_are_answered_by_the_hub_and_keep_the_socket(
    run_hub: RunHub,
) -> None:
    running = await run_hub()
    held = FakeSleep(hold=True)
    states: list[State] = []
    connect = roost_client.connect(running.url(), sleep=held, ping_interval=30.0)
    connect.connection.on_state_change(lambda change: states.append(change.state))
    async with connect as conn:
        socket_id = conn.socket_id
        first = await held.next()
        assert first.delay == 30.0
        first.release()  # ping
        second = await held.next()  # the ping was written
        # The hub answers a ping at once; a call's result comes after that pong.
        assert await within(conn.call("add", 1)) == 1
        second.release()  # the pong came: no drop, another ping
        await held.next()
        assert (conn.state, conn.socket_id, states) == (State.OPEN, socket_id, [State.OPEN])


async def test_a_bad_frame_gets_a_typed_error_and_the_connection_goes_on(run_hub: RunHub) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        errors: list[roost_client.RoostError] = []
        conn.on_error(errors.append)
        conn.send("kept")
        await within(conn.flush())
        # Frames the SDK never writes, pushed down its socket to see the hub's answer.
        link = conn._link
        assert link is not None
        await link.ws.send('{"t":"call","id":1,"method":7}')
        await link.ws.send("not json")
        assert await within(conn.call("add", 1)) == 1  # answered after both errors
        assert [(type(e), e.code, e.id, e.retryable) for e in errors] == [
            (roost_client.BadFrame, "bad_frame", None, False)
        ] * 2
        assert conn.state is State.OPEN
        assert await within(conn.call("handled")) == ["kept"]
        with pytest.raises(TypeError, match="method must be a str, got 7"):
            await conn.call(7)  # type: ignore[arg-type]
