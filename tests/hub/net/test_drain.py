"""Stopping drains: requests in flight are answered and committed, new ones get 503.

In process, on both loops: ``Server.stop`` with a slow RPC method held open by an
``asyncio.Event`` the test controls.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve


class Slow(hub.DurableObject):
    """``slow_write`` writes, says it started, then waits for the test's gate."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (v TEXT)")

    async def slow_write(self, value: str) -> str:
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", value)
        self.env.STARTED.set()
        await self.env.GATE.wait()
        return f"wrote {value}"

    async def write(self, value: str) -> str:
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", value)
        return f"wrote {value}"

    async def rows(self) -> list[str]:
        return [str(row["v"]) for row in self.ctx.storage.sql.exec("SELECT v FROM log")]


def _call(value: str) -> bytes:
    return orjson.dumps({"args": [value]})


async def _rows(app: hub.Hub) -> list[str]:
    again = hub.Hub({"SLOW": Slow}, data_dir=app.data_dir)
    async with again:
        rows: list[str] = await again.env.SLOW.get_by_name("s").rows()
    return rows


async def test_stop_answers_requests_in_flight_and_refuses_new_ones(serve: Serve) -> None:
    started, gate = asyncio.Event(), asyncio.Event()
    served = await serve(
        {"SLOW": Slow}, vars={"EVENTS": asyncio.Queue(), "STARTED": started, "GATE": gate}
    )
    ws = await served.connect()
    async with (
        httpx.AsyncClient() as slow,
        httpx.AsyncClient() as other,
        httpx.AsyncClient() as probe,
    ):
        ready = await within(probe.get(served.url("/_roost/health")))
        assert (ready.status_code, ready.json()["status"]) == (200, "ok")
        first = await within(
            other.post(served.url("/objects/slow/s/rpc/write"), content=_call("x"))
        )
        assert first.headers["connection"] == "keep-alive"
        call = asyncio.create_task(
            slow.post(served.url("/objects/slow/s/rpc/slow_write"), content=_call("a"))
        )
        await within(started.wait())
        stopping = asyncio.create_task(served.server.stop(1001))
        await asyncio.sleep(0)  # one loop turn: stop() stops accepting and starts draining
        refused = await within(
            other.post(served.url("/objects/slow/s/rpc/write"), content=_call("during"))
        )
        assert refused.status_code == 503
        assert refused.headers["connection"] == "close"
        assert refused.json()["error"]["code"] == "hub_stopping"
        # A load balancer's probe on its open connection learns the hub is not ready.
        draining = await within(probe.get(served.url("/_roost/health")))
        assert draining.status_code == 503
        assert draining.json() == {"status": "stopping", "version": hub.__version__}
        assert draining.headers["connection"] == "close"
        assert not stopping.done()
        gate.set()
        response = await within(call)
        await within(stopping)
    assert response.status_code == 200
    assert response.json() == {"result": "wrote a"}
    assert response.headers["connection"] == "close"
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1001
    assert await _rows(served.app) == ["x", "a"]


async def test_past_the_deadline_requests_are_dropped_and_rolled_back(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    started, gate = asyncio.Event(), asyncio.Event()  # the gate never opens
    served = await serve(
        {"SLOW": Slow},
        vars={"EVENTS": asyncio.Queue(), "STARTED": started, "GATE": gate},
        serve_options={"shutdown_timeout": 0.2},
    )
    async with httpx.AsyncClient() as client:
        call = asyncio.create_task(
            client.post(served.url("/objects/slow/s/rpc/slow_write"), content=_call("a"))
        )
        await within(started.wait())
        with caplog.at_level(logging.WARNING, logger="roost.net"):
            await within(served.server.stop(1012))
        with pytest.raises(httpx.TransportError):
            await within(call)
    dropped = [r for r in caplog.records if "shutdown timeout" in r.getMessage()]
    assert len(dropped) == 1
    assert await _rows(served.app) == []
