"""``roost serve --log-format json``: a real process, its stderr read line by line.

Every line is one JSON object; a socket's life (accept, message, eviction, wake,
close) appears with its ids; HTTP answers and upgrades are in the access log with the
token redacted; a failing ``roost.v1`` handler is one error line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from websockets.typing import Subprotocol

from tests.conftest import within

APP = textwrap.dedent(
    """
    import hub


    class Room(hub.DurableObject):
        async def websocket_message(self, ws, message):
            if message == "fail":
                raise RuntimeError("handler failed on purpose")
            ws.send(f"echo {message}")

        def boom(self):
            raise KeyError("no such thing")


    app = hub.Hub({"ROOM": Room})
    """
)


async def serve_and_read(tmp_path: Path, *args: str, **env: str) -> list[dict[str, Any]]:
    """Serve, drive a scenario, stop; every stderr line, parsed."""
    (tmp_path / "logged_app.py").write_text(APP)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", str(tmp_path / "logged_app.py"),
        "--port", "0", "--data-dir", str(tmp_path / "data"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = (await within(process.stdout.readline(), factor=3)).decode()
        assert line.startswith("roost: serving on "), line
        await scenario(line.split()[3])
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await within(process.communicate())
    assert process.returncode == 0
    lines = err.decode().splitlines()
    assert lines
    return [orjson.loads(line) for line in lines]  # every line parses


async def scenario(url: str) -> None:
    ws_url = "ws" + url[4:]
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(url + "/nowhere?token=s3cret")).status_code == 404
        async with websockets.connect(ws_url + "/objects/room/plain?token=s3cret") as ws:
            await ws.send("one")
            assert await within(ws.recv()) == "echo one"
            hibernated = await client.post(url + "/_roost/objects/room/plain/hibernate")
            assert hibernated.json() == {"hibernated": True}
            await ws.send("two")  # wakes the object
            assert await within(ws.recv()) == "echo two"
            await ws.close(1000)
        failed = await client.post(url + "/objects/room/rpcfail/rpc/boom")
        assert failed.status_code == 500
        async with websockets.connect(ws_url + "/objects/room/plainfail") as ws:
            await ws.send("fail")
            await ws.send("after")  # handled once the failure was
            assert await within(ws.recv()) == "echo after"
        v1 = Subprotocol("roost.v1")
        async with websockets.connect(ws_url + "/objects/room/v1", subprotocols=[v1]) as ws:
            await ws.send(orjson.dumps({"t": "hello", "session": "s" * 22}).decode())
            await ws.send(orjson.dumps({"t": "msg", "data": "fail", "id": 1}).decode())
            while True:
                frame = orjson.loads(await within(ws.recv()))
                if frame["t"] == "error":
                    assert frame["id"] == 1
                    break


def _only(lines: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [line for line in lines if all(line.get(k) == v for k, v in match.items())]


def check(lines: list[dict[str, Any]]) -> None:
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert line["time"].endswith("Z")
        assert "s3cret" not in orjson.dumps(line).decode()
    (plain_101,) = _only(
        lines, event="access", status=101, path="/objects/room/plain?token=[redacted]"
    )
    assert plain_101["method"] == "GET" and plain_101["peer"].startswith("127.0.0.1:")
    (missing,) = _only(lines, event="access", path="/nowhere?token=[redacted]")
    assert missing["status"] == 404 and missing["bytes"] > 0
    (accept,) = _only(lines, event="accept", name="plain")
    socket, object_hex = accept["socket"], accept["object"]
    assert accept["binding"] == "ROOM" and len(object_hex) == 64
    story = [
        (line["event"], line.get("socket"), line.get("reason"))
        for line in lines
        if line.get("object") == object_hex and line["logger"] != "roost.access"
    ]
    assert story == [
        ("activate", None, None),
        ("accept", socket, None),
        ("message", socket, None),
        ("evict", None, "forced"),
        ("activate", None, None),
        ("message", socket, None),
        ("close", socket, None),
        ("evict", None, "stopped"),
    ], story
    (close,) = _only(lines, event="close", socket=socket)
    assert close["code"] == 1000 and close["binding"] == "ROOM"
    for message in _only(lines, event="message", socket=socket):
        assert isinstance(message["duration_ms"], float) and message["level"] == "debug"
    errors = [line for line in lines if line["level"] in ("warning", "error")]
    for name, handler, text in [
        ("v1", "websocket_message", "RuntimeError: handler failed on purpose"),
        ("plainfail", "websocket_message", "RuntimeError: handler failed on purpose"),
        ("rpcfail", "boom", "KeyError: 'no such thing'"),
    ]:
        (failure,) = [line for line in errors if line.get("name") == name]  # logged once
        assert (failure["event"], failure["handler"]) == ("error", handler)
        assert text in failure["exception"]


async def test_json_logs_of_one_process(tmp_path: Path) -> None:
    lines = await serve_and_read(tmp_path, "--log-format", "json", "--log-level", "debug")
    check(lines)
    assert not any("process" in line for line in lines)


async def test_json_logs_from_the_environment_and_access_log_off(tmp_path: Path) -> None:
    lines = await serve_and_read(tmp_path, ROOST_LOG_FORMAT="json", ROOST_ACCESS_LOG="0")
    assert lines and not _only(lines, event="access")
    assert _only(lines, event="accept", name="plain")
    assert not _only(lines, event="message")  # debug only
