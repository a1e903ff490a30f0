"""The admin API: health, metrics, objects and forced hibernation, behind a key."""

from __future__ import annotations

import platform

import httpx

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve


async def test_health_metrics_and_objects(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect("/objects/room/live")
    await ws.send("echo:x")
    await within(ws.recv())
    parked = await served.connect("/objects/room/parked")
    await served.app.hibernate("ROOM", "parked")
    async with httpx.AsyncClient() as client:
        health = await client.get(served.url("/_roost/health"))
        assert (health.status_code, health.json()) == (
            200,
            {"status": "ok", "version": hub.__version__},
        )
        metrics = (await client.get(served.url("/_roost/metrics"))).text
        values = dict(
            line.rsplit(" ", 1) for line in metrics.splitlines() if not line.startswith("#")
        )
        assert values["roost_websockets_open"] == "2"
        assert values["roost_websockets_parked"] == "1"
        assert values["roost_objects_active"] == "1"
        assert values["roost_objects_evicted"] == "1"
        assert int(values["roost_websocket_messages_received_total"]) >= 1
        assert int(values["roost_object_evictions_total"]) == 1
        assert values["roost_backup_lag_seconds"] == "0"  # a local replica: never behind
        objects = (await client.get(served.url("/_roost/objects"))).json()
    (active,) = objects["active"]
    assert (active["name"], active["sockets"]) == ("live", 1)
    assert active["not_evictable"][0].startswith("idle")
    (evicted,) = objects["evicted"]
    assert (evicted["name"], evicted["sockets"]) == ("parked", 1)
    await parked.send("echo:still here")
    assert await within(parked.recv()) == "still here"


async def test_hibernate_endpoint_evicts_and_sockets_stay(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    async with httpx.AsyncClient() as client:
        answer = await client.post(served.url("/_roost/objects/room/r/hibernate"))
        assert answer.json() == {"hibernated": True}
        again = await client.post(served.url("/_roost/objects/room/r/hibernate"))
        assert again.json() == {"hibernated": False}
    assert not served.app.is_active("ROOM", "r")
    await ws.send("count")
    assert await within(ws.recv()) == "1"


async def test_an_admin_key_protects_every_admin_endpoint(serve: Serve) -> None:
    served = await serve(serve_options={"admin_key": "s3cret"})
    async with httpx.AsyncClient() as client:
        for method, path in [
            ("GET", "/_roost/metrics"),
            ("GET", "/_roost/objects"),
            ("POST", "/_roost/objects/room/r/hibernate"),
        ]:
            denied = await client.request(method, served.url(path))
            assert denied.status_code == 401
            assert denied.json()["error"]["code"] == "unauthorized"
            wrong = await client.request(
                method, served.url(path), headers={"authorization": "Bearer nope"}
            )
            assert wrong.status_code == 401
            allowed = await client.request(
                method, served.url(path), headers={"authorization": "Bearer s3cret"}
            )
            assert allowed.status_code == 200


async def test_health_answers_probes_without_the_admin_key(serve: Serve) -> None:
    served = await serve(serve_options={"admin_key": "s3cret"})
    async with httpx.AsyncClient() as client:
        health = await client.get(served.url("/_roost/health"))
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "version": hub.__version__}
        objects = await client.get(served.url("/_roost/objects"))
        assert objects.status_code == 401


async def test_health_can_require_the_admin_key(serve: Serve) -> None:
    served = await serve(serve_options={"admin_key": "s3cret", "health_requires_key": True})
    async with httpx.AsyncClient() as client:
        denied = await client.get(served.url("/_roost/health"))
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "unauthorized"
        allowed = await client.get(
            served.url("/_roost/health"), headers={"authorization": "Bearer s3cret"}
        )
        assert (allowed.status_code, allowed.json()["status"]) == (200, "ok")


async def test_metrics_count_closes_by_code_and_time_events_by_binding(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect("/objects/room/timed")
    await ws.send("echo:x")
    assert await within(ws.recv()) == "x"
    await ws.close(4001, "bye")
    await served.next_event("close")  # the front counted it before handing it over
    async with httpx.AsyncClient() as client:
        call = await client.post(served.url("/objects/room/timed/rpc/add"), json={"args": [1, 2]})
        assert call.json() == {"result": 3}
        text = (await client.get(served.url("/_roost/metrics"))).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert values['roost_websocket_closes_total{binding="ROOM",code="4001"}'] == "1"
    # fetch (the upgrade), the message, the close and the call: four events of ROOM.
    assert values['roost_handler_duration_seconds_count{binding="ROOM"}'] == "4"
    assert values['roost_rpc_duration_seconds_count{binding="ROOM"}'] == "1"
    assert values['roost_wake_duration_seconds_count{binding="ROOM"}'] == "1"
    assert values['roost_handler_duration_seconds_bucket{binding="ROOM",le="+Inf"}'] == "4"
    assert float(values['roost_handler_duration_seconds_sum{binding="ROOM"}']) > 0
    assert int(values["process_resident_memory_bytes"]) > 0
    info = f'version="{hub.__version__}",python="{platform.python_version()}"'
    assert values[f"roost_build_info{{{info}}}"] == "1"
