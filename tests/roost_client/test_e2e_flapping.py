"""Exactly once while the network flaps and the hub restarts (SPEC §5): every message
is handled once, in order, counted in the object's SQLite; calls in flight fail with a
retryable error; the client reconnects by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Literal

import pytest
import roost_client
from roost_client import State, StateChange

from tests.conftest import eventually, within
from tests.roost_client.conftest import FakeSleep, RunHub
from tests.roost_client.proxy import CuttingProxy

N = 300


def _message(n: int) -> str:
    return f"m{n:04d}-" + "x" * 24  # about 50 bytes a frame on the wire


@pytest.fixture
async def proxies() -> AsyncIterator[list[CuttingProxy]]:
    started: list[CuttingProxy] = []
    yield started
    for proxy in started:
        await proxy.stop()


@pytest.mark.parametrize(
    ("direction", "budget", "cuts"),
    [
        # Up: ~15 kB of messages must reach the hub; 5 cuts of 2,500 bytes all happen.
        ("up", 2500, 5),
        # Down: ~6 kB of acks must reach the client; 4 cuts of 1,000 bytes all happen.
        ("down", 1000, 4),
    ],
)
async def test_messages_sent_while_connections_are_cut_are_handled_exactly_once_in_order(
    run_hub: RunHub,
    proxies: list[CuttingProxy],
    direction: Literal["up", "down"],
    budget: int,
    cuts: int,
) -> None:
    running = await run_hub()
    proxy = CuttingProxy(running.port, budget=budget, cuts=cuts, direction=direction)
    await proxy.start()
    proxies.append(proxy)
    sleep = FakeSleep()
    states: list[State] = []
    connect = roost_client.connect(proxy.url("/objects/ledger/flappy"), sleep=sleep)
    connect.connection.on_state_change(lambda change: states.append(change.state))
    async with connect as conn:
        for n in range(1, N + 1):
            assert conn.send(_message(n)) == n
            if n % 25 == 0:
                await asyncio.sleep(0)  # let the writer run: later sends meet cut sockets
        await within(conn.flush(), factor=3)
        assert proxy.cut == cuts  # every planned cut happened (proxy.py, rule 2)
        assert states.count(State.RECONNECTING) >= cuts
        assert await within(conn.call("count")) == N
        assert await within(conn.call("handled")) == [_message(n) for n in range(1, N + 1)]
    assert proxy.connections == cuts + 1


async def test_a_cut_while_calls_are_in_flight_fails_them_retryably_and_loses_no_message(
    run_hub: RunHub, proxies: list[CuttingProxy]
) -> None:
    running = await run_hub()
    proxy = CuttingProxy(running.port, budget=600, cuts=1, direction="up")
    await proxy.start()
    proxies.append(proxy)
    async with roost_client.connect(proxy.url("/objects/ledger/calls"), sleep=FakeSleep()) as conn:
        calls = [asyncio.ensure_future(conn.call("add", n)) for n in range(40)]
        await asyncio.sleep(0)  # a yield: each call queues its frame, in order
        assert conn.buffered == 40
        for n in range(1, 11):
            conn.send(_message(n))
        # The 600th byte lies in the calls (the upgrade and hello take about 300): a
        # call the client wrote is cut, whatever the timing.
        outcomes = await within(asyncio.gather(*calls, return_exceptions=True))
        answered = [o for o in outcomes if not isinstance(o, BaseException)]
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert answered == [n for n, o in enumerate(outcomes) if o == n]  # right answers
        assert failed  # the cut came while calls were in flight
        assert all(type(e) is roost_client.ConnectionLost and e.retryable for e in failed)
        await within(conn.flush())
        assert proxy.cut == 1
        assert await within(conn.call("handled")) == [_message(n) for n in range(1, 11)]


@pytest.mark.parametrize("code", [1001, 1012])
async def test_a_hub_restart_mid_call_finishes_the_call_then_the_client_comes_back(
    run_hub: RunHub, code: int
) -> None:
    running = await run_hub()
    sleep = FakeSleep(hold=True)
    conn = await within(roost_client.connect(running.url(), sleep=sleep))
    changes: list[StateChange] = []
    conn.on_state_change(changes.append)
    try:
        for n in range(1, 6):
            conn.send(_message(n))
        await within(conn.flush())  # five messages acknowledged before the restart
        call = asyncio.ensure_future(conn.call("block"))
        await within(running.started.wait())
        stopping = asyncio.ensure_future(running.stop(code))
        await eventually(lambda: running.server.front.stopping, "the hub draining")
        assert not call.done()  # the drain waits for the call in flight ...
        running.gate.set()
        assert await within(call) == "released"  # ... which is answered, not cut
        await within(stopping)
        pending = await sleep.next()  # then the socket closed: reconnecting, in the backoff
        assert conn.state is State.RECONNECTING
        lost = [c.error for c in changes if c.state is State.RECONNECTING]
        assert lost and lost[0] is not None and lost[0].close_code == code
        for n in range(6, 11):
            conn.send(_message(n))  # buffered while the hub is down
        restarted = await run_hub(port=running.port)
        pending.release()
        await within(conn.wait_for(State.OPEN))
        await within(conn.flush())
        assert await within(conn.call("handled")) == [_message(n) for n in range(1, 11)]
        assert restarted.port == running.port
    finally:
        await within(conn.close())


async def test_a_hub_that_is_down_for_a_while_is_retried_with_growing_delays(
    run_hub: RunHub,
) -> None:
    running = await run_hub()
    sleep = FakeSleep(hold=True)
    backoff = roost_client.Backoff(min_delay=0.5, max_delay=4.0, jitter=0.0)
    conn = await within(roost_client.connect(running.url(), sleep=sleep, backoff=backoff))
    try:
        conn.send("before")
        await within(conn.flush())
        await running.stop(1012)
        delays = []
        for _ in range(5):  # five attempts meet a closed port
            pending = await sleep.next()
            delays.append(pending.delay)
            pending.release()
        last = await sleep.next()
        delays.append(last.delay)
        assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
        conn.send("after")
        await run_hub(port=running.port)
        last.release()
        await within(conn.flush())
        assert await within(conn.call("handled")) == ["before", "after"]
    finally:
        await within(conn.close())
