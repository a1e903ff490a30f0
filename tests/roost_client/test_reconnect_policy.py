"""When the connection opens its next socket: ``min_uptime`` (a socket dropped soon after
its welcome counts as a failed attempt) and ``reconnect()`` (replace the socket now),
as partysocket's ``minUptime`` and ``reconnect()`` and the JS SDK's."""

from __future__ import annotations

import asyncio

import pytest
import roost_client
from roost_client import State

from tests.conftest import within
from tests.roost_client.conftest import FakeHub, FakeSleep, OpenClient


async def _drop_welcomed_sockets(fake: FakeHub, count: int) -> None:
    """Close the first ``count`` sockets with 1012 (a retry code) once each is open."""
    for index in range(count):
        socket = await fake.socket(index)
        await fake.next_json("hello")
        await socket.close(1012, "restarting")


@pytest.mark.parametrize(
    ("min_uptime", "delays"),
    [(0.0, [0.5, 0.5, 0.5]), (3600.0, [0.5, 1.0, 2.0])],
)
async def test_a_socket_dropped_before_min_uptime_counts_as_a_failure(
    fake: FakeHub,
    open_client: OpenClient,
    sleep: FakeSleep,
    min_uptime: float,
    delays: list[float],
) -> None:
    conn = await open_client(min_uptime=min_uptime)
    await _drop_welcomed_sockets(fake, 3)
    await fake.socket(3)
    await fake.next_json("hello")
    assert sleep.delays == delays
    assert conn.state is not State.CLOSED


async def test_max_attempts_ends_a_hub_that_welcomes_and_drops_at_once(
    fake: FakeHub, open_client: OpenClient
) -> None:
    backoff = roost_client.Backoff(jitter=0.0, max_attempts=2)
    conn = await open_client(min_uptime=3600.0, backoff=backoff)
    await _drop_welcomed_sockets(fake, 2)
    with pytest.raises(roost_client.ConnectFailed, match="gave up after 2 failed attempts"):
        await within(conn.recv())
    assert fake.upgrades == 2


async def test_min_uptime_must_not_be_negative(open_client: OpenClient) -> None:
    with pytest.raises(ValueError, match="min_uptime must be at least 0"):
        await open_client(min_uptime=-1)


async def test_reconnect_replaces_the_socket_at_once_and_the_session_goes_on(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    fake.ack = False
    conn = await open_client()
    changes = conn.state_changes()
    conn.send("kept")
    await fake.next_json("msg")
    await within(conn.reconnect(4001, "new token"))
    old = await fake.socket(0)
    assert (old.close_code, old.close_reason) == (4001, "new token")
    fake.ack = True
    assert await fake.next_json() == (1, {"t": "hello", "session": conn.session})
    assert await fake.next_json() == (1, {"t": "msg", "data": "kept", "id": 1})
    await within(conn.flush())
    lost = await within(anext(changes))
    assert lost.state is State.RECONNECTING
    assert isinstance(lost.error, roost_client.ConnectionLost)
    assert (await within(anext(changes))).state is State.OPEN
    assert sleep.delays == []  # no backoff delay before the new socket


async def test_reconnect_ends_a_backoff_wait(fake: FakeHub, open_client: OpenClient) -> None:
    held = FakeSleep(hold=True)
    conn = await open_client(sleep=held)
    (await fake.socket(0)).transport.abort()
    waiting = await held.next()  # the connection sleeps before its next attempt
    assert waiting.delay == 0.5
    await within(conn.reconnect())
    await fake.socket(1)  # opened while the held sleep was never released
    await fake.next_json("hello")
    assert held.delays == [0.5]


async def test_a_call_written_on_the_replaced_socket_raises_connection_lost(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    call = asyncio.ensure_future(conn.call("slow"))
    await fake.next_json("call")
    await within(conn.reconnect())
    with pytest.raises(roost_client.ConnectionLost):
        await within(call)


async def test_reconnect_refuses_a_reserved_code_and_a_closed_connection(
    open_client: OpenClient,
) -> None:
    conn = await open_client()
    with pytest.raises(ValueError, match="close code must be 1000 or from 3000 to 4999"):
        await conn.reconnect(1006)
    await conn.close()
    with pytest.raises(roost_client.ConnectionClosed):
        await conn.reconnect()
