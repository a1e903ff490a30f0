"""The inspector with ``--workers``: the gateway asks the object's worker (``inspect``),
which reads without waking; the gateway's tail has its own accepts and closes."""

from __future__ import annotations

from typing import Any

import httpx
import websockets

from tests.cluster.conftest import StartCluster
from tests.conftest import within


async def test_an_object_is_inspected_through_its_worker_without_waking_it(
    cluster: StartCluster,
) -> None:
    running = await cluster(2, 1, "--log-level", "info")

    async def get(path: str) -> Any:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.get(running.url + path)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async with websockets.connect(running.url.replace("http", "ws") + "/objects/room/x") as ws:
        for n in (1, 2):
            await ws.send(f"ada:{n}")
            assert await within(ws.recv()) == f"v1 ada:{n}"
        live = await get("/_roost/objects/room/x")
        assert live["state"] == "active"
        assert live["feeds"]["tables"] == [{"table": "log", "seq": 2}]
        (socket,) = live["sockets"]
        assert (socket["state"], socket["tags"]) == ("open", [])

        async with httpx.AsyncClient(timeout=30) as client:
            hibernated = await client.post(running.url + "/_roost/objects/room/x/hibernate")
        assert hibernated.json() == {"hibernated": True}
        asleep = await get("/_roost/objects/room/x")
        assert (asleep["state"], asleep["feeds"]["seq"]) == ("evicted", 2)
        assert [s["id"] for s in asleep["sockets"]] == [socket["id"]]
        assert (await get("/_roost/objects"))["active"] == []  # still asleep

        tail = await get("/_roost/events?wait=0")
        accepts = [e for e in tail["events"] if e["kind"] == "accept"]
        assert [(e["object"], e["socket"]) for e in accepts] == [(live["id"], socket["id"])]
