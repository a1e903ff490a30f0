"""The exactly-once record forgets idle sessions (protocol/SPEC.md §5.5), with a fake
clock: a session idle past the retention is forgotten, a recent one is kept."""

from __future__ import annotations

import hub
from hub.storage.sessions import RETENTION, SWEEP_INTERVAL
from tests.hub.net.conftest import Serve
from tests.hub.net.test_roost_v1 import frame, rows, send, v1


async def test_idle_sessions_are_forgotten_after_the_retention_recent_ones_kept(
    serve: Serve,
) -> None:
    clock = hub.FakeClock()
    served = await serve(clock=clock)
    old = await v1(served, session="old")
    await send(old, {"t": "msg", "id": 1, "data": "write:old"})
    assert await frame(old) == {"t": "ack", "id": 1}
    assert await frame(old) == {"t": "msg", "data": "wrote old"}

    clock.advance(RETENTION - SWEEP_INTERVAL)
    recent = await v1(served, session="recent")
    await send(recent, {"t": "msg", "id": 1, "data": "write:recent"})
    assert await frame(recent) == {"t": "ack", "id": 1}
    assert await frame(recent) == {"t": "msg", "data": "wrote recent"}

    # Past the retention of "old" only; the next recorded message sweeps.
    clock.advance(2 * SWEEP_INTERVAL)
    sweeper = await v1(served, session="sweeper")
    await send(sweeper, {"t": "msg", "id": 1, "data": "write:sweep"})
    assert await frame(sweeper) == {"t": "ack", "id": 1}
    assert await frame(sweeper) == {"t": "msg", "data": "wrote sweep"}

    await send(recent, {"t": "msg", "id": 1, "data": "write:recent"})  # still a duplicate
    assert await frame(recent) == {"t": "ack", "id": 1}
    await send(old, {"t": "msg", "id": 1, "data": "write:old"})  # forgotten: runs again
    assert await frame(old) == {"t": "ack", "id": 1}
    assert await frame(old) == {"t": "msg", "data": "wrote old"}
    assert await rows(old) == ["old", "recent", "sweep", "old"]


async def test_a_long_lived_activation_sweeps_too(serve: Serve) -> None:
    clock = hub.FakeClock()
    served = await serve(clock=clock, idle_timeout=10 * RETENTION)  # never evicted here
    old = await v1(served, session="old")
    await send(old, {"t": "msg", "id": 1, "data": "write:old"})
    assert await frame(old) == {"t": "ack", "id": 1}
    assert await frame(old) == {"t": "msg", "data": "wrote old"}
    clock.advance(RETENTION + SWEEP_INTERVAL)
    other = await v1(served, session="other")
    await send(other, {"t": "msg", "id": 1, "data": "write:other"})
    assert await frame(other) == {"t": "ack", "id": 1}
    assert await frame(other) == {"t": "msg", "data": "wrote other"}
    assert served.app.is_active("ROOM", "r")
    await send(old, {"t": "msg", "id": 1, "data": "write:old"})
    assert await frame(old) == {"t": "ack", "id": 1}
    assert await frame(old) == {"t": "msg", "data": "wrote old"}
