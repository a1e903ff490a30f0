"""The inspector with ``--workers``: the gateway asks the object's worker (``inspect``),
which reads without waking; the gateway's tail has its own accepts and the workers'
activations and evictions."""

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

        seen: list[dict[str, Any]] = []
        while not {"accept", "activate", "evict"} <= {e["kind"] for e in seen}:
            tail = await get(f"/_roost/events?after={seen[-1]['seq'] if seen else 0}")
            seen += tail["events"]
        mine = [(e["kind"], e["socket"]) for e in seen if e["object"] == live["id"]]
        assert [kind for kind, _ in mine] == ["activate", "accept", "evict"]
        assert mine[1] == ("accept", socket["id"])
        evict = next(e for e in seen if e["kind"] == "evict")
        assert evict["detail"] == {"binding": "ROOM", "name": "x", "reason": "forced"}
