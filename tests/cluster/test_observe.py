"""Logs and metrics with ``--workers``: every process logs in the chosen format, and the
gateway's ``/_roost/metrics`` adds up the workers' histograms and counters."""

from __future__ import annotations

import signal
from typing import Any

import httpx
import orjson
import websockets

from tests.cluster.conftest import StartCluster
from tests.conftest import within


def _samples(text: str) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in (
            line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")
        )
    }


async def test_metrics_add_up_both_workers(cluster: StartCluster) -> None:
    running = await cluster(2, 1)
    pids: dict[int, str] = {}
    calls = 0
    for i in range(64):  # names until both workers hold one
        _version, pid = await running.call(f"n{i}", "where")  # type: ignore[misc]
        calls += 1
        pids.setdefault(pid, f"n{i}")
        if len(pids) == 2:
            break
    assert len(pids) == 2, "every name landed in one worker"
    async with httpx.AsyncClient(timeout=30) as client:
        text = (await client.get(running.url + "/_roost/metrics")).text
    values = _samples(text)
    # Each call was observed once, by the worker that ran it: the sum is all of them.
    assert values['roost_rpc_duration_seconds_count{binding="ROOM"}'] == calls
    assert values['roost_rpc_duration_seconds_bucket{binding="ROOM",le="+Inf"}'] == calls
    assert values['roost_handler_duration_seconds_count{binding="ROOM"}'] == calls
    assert values['roost_wake_duration_seconds_count{binding="ROOM"}'] == calls  # new objects
    assert values["roost_object_activations_total"] == calls
    assert values["process_open_fds"] > 0  # the gateway's own
    assert any(name.startswith("roost_build_info{") for name in values)


async def test_every_process_logs_json_with_its_name(cluster: StartCluster) -> None:
    running = await cluster(1, 1, "--log-format", "json", "--log-level", "debug")
    url = f"ws://{running.host}/objects/room/logged?token=s3cret"
    async with websockets.connect(url) as ws:
        await ws.send("a:1")
        assert await within(ws.recv()) == "v1 a:1"
        await ws.close(1000)
    running.process.send_signal(signal.SIGTERM)
    assert await within(running.process.wait()) == 0
    text = (running.data_dir.parent / "cluster.log").read_text()
    assert "s3cret" not in text
    lines: list[dict[str, Any]] = [orjson.loads(line) for line in text.splitlines()]
    assert lines

    def one(**match: Any) -> dict[str, Any]:
        (found,) = [x for x in lines if all(x.get(k) == v for k, v in match.items())]
        return found

    accept = one(event="accept", name="logged")
    assert accept["process"] == "gateway 0"
    socket, object_hex = accept["socket"], accept["object"]
    assert one(event="access", status=101)["path"] == "/objects/room/logged?token=[redacted]"
    assert one(event="access", status=101)["process"] == "gateway 0"
    assert one(event="activate", object=object_hex)["process"] == "worker 0"
    message = one(event="message", socket=socket)
    assert (message["process"], message["object"]) == ("worker 0", object_hex)
    close = one(event="close", socket=socket)
    assert (close["process"], close["code"], close["object"]) == ("gateway 0", 1000, object_hex)
    assert one(event="evict", object=object_hex)["reason"] == "stopped"
