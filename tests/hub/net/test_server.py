"""Serving and stopping: close codes on shutdown, committed data kept, the CLI."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

import hub
from tests.conftest import TIMEOUT, within
from tests.hub.net.conftest import Room


@pytest.mark.parametrize("code", [1001, 1012])
async def test_stopping_closes_sockets_with_going_away_or_restart(
    tmp_path: Path, code: int
) -> None:
    app = hub.Hub({"ROOM": Room}, data_dir=tmp_path, vars={"EVENTS": asyncio.Queue()})
    async with app.serve(port=0) as server:
        ws = await within(websockets.connect(server.ws_url + "/objects/room/r"))
        await ws.send("write:committed")
        assert await within(ws.recv()) == "wrote committed"
        await server.stop(code)
        with pytest.raises(ConnectionClosed):
            await within(ws.recv())
        assert ws.close_code == code
    assert not app.running
    again = hub.Hub({"ROOM": Room}, data_dir=tmp_path, vars={"EVENTS": asyncio.Queue()})
    async with again.serve(port=0) as server:
        ws = await within(websockets.connect(server.ws_url + "/objects/room/r"))
        await ws.send("rows")
        assert await within(ws.recv()) == "committed"
        await ws.close()


async def test_serve_reports_its_port_and_url(tmp_path: Path) -> None:
    app = hub.Hub({"ROOM": Room}, data_dir=tmp_path, vars={"EVENTS": asyncio.Queue()})
    async with app.serve(host="127.0.0.1", port=0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url == f"ws://127.0.0.1:{server.port}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(server.url + "/_roost/health")).status_code == 200


APP = textwrap.dedent(
    """
    import hub

    class Echo(hub.DurableObject):
        async def websocket_message(self, ws, message):
            ws.send(f"echo {message}")

    app = hub.Hub({"ECHO": Echo})
    """
)


# SIGHUP restarts instead of exiting: tests/hub/test_cli.py checks its 1012 and restart.
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 1001), (signal.SIGINT, 1001)])
async def test_roost_serve_runs_an_app_file_and_stops_gracefully(
    tmp_path: Path, signum: int, code: int
) -> None:
    (tmp_path / "echo_app.py").write_text(APP)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", str(tmp_path / "echo_app.py"),
        "--port", "0", "--data-dir", str(tmp_path / "data"), "--idle-timeout", "2",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = (await within(process.stdout.readline())).decode()
        assert line.startswith("roost: serving on http://127.0.0.1:")
        url = line.split()[3]
        ws = await within(websockets.connect(url.replace("http", "ws") + "/objects/echo/e"))
        await ws.send("hi")
        assert await within(ws.recv()) == "echo hi"
        process.send_signal(signum)
        with pytest.raises(ConnectionClosed):
            await within(ws.recv())
        assert ws.close_code == code
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert list((tmp_path / "data").rglob("*.sqlite3"))


async def test_roost_serve_explains_a_bad_target(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", str(tmp_path / "empty.py"),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 2
    assert b"must define `app = hub.Hub(...)`" in stderr
