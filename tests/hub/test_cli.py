"""``roost serve`` as a user runs it: a real process, real signals, real sockets.

Stopping drains (requests in flight are answered and committed), SIGHUP restarts the
process on the same listening socket, and a port in use is one line and exit 1. The
slow RPC method waits for a line on its stdin, which the test writes only once the
process says it is draining: nothing here sleeps or races the signal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

import hub
from tests.conftest import within

APP = textwrap.dedent(
    """
    import asyncio
    import sys

    import hub

    _stdin = None


    async def released():
        # One line on stdin lets one slow call finish (the test writes it).
        global _stdin
        if _stdin is None:
            _stdin = asyncio.StreamReader()
            protocol = asyncio.StreamReaderProtocol(_stdin)
            await asyncio.get_running_loop().connect_read_pipe(lambda: protocol, sys.stdin)
        await _stdin.readline()


    class Ledger(hub.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (v TEXT)")

        async def slow_write(self, value: str) -> str:
            self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", value)
            print(f"started {value}", flush=True)
            await released()
            return f"wrote {value}"

        async def write(self, value: str) -> str:
            self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", value)
            return f"wrote {value}"

        async def websocket_message(self, ws, message):
            ws.send(f"echo {message}")


    app = hub.Hub({"LEDGER": Ledger})
    """
)


class Roost:
    """A ``roost serve`` process with its three pipes."""

    def __init__(self, process: asyncio.subprocess.Process, data_dir: Path) -> None:
        self.process = process
        self.data_dir = data_dir
        self.url = ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def line(self, stream: asyncio.StreamReader | None, needle: str) -> str:
        """The next line of ``stream`` containing ``needle`` (fails on end of file)."""
        assert stream is not None

        async def find() -> str:
            while line := (await stream.readline()).decode():
                if needle in line:
                    return line
            raise AssertionError(f"the process ended before printing {needle!r}")

        return await within(find())

    async def serving(self) -> str:
        line = await self.line(self.process.stdout, "roost: serving on ")
        self.url = line.split()[3]
        return self.url

    async def release(self) -> None:
        """Let one waiting ``slow_write`` finish."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()

    def rows(self) -> list[str]:
        """What the object committed, read from its SQLite file."""
        (path,) = self.data_dir.rglob("*.sqlite3")
        with sqlite3.connect(path) as db:
            return [row[0] for row in db.execute("SELECT v FROM log ORDER BY rowid")]


@pytest.fixture
async def roost(tmp_path: Path) -> AsyncIterator[Roost]:
    (tmp_path / "ledger_app.py").write_text(APP)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", str(tmp_path / "ledger_app.py"),
        "--port", "0", "--data-dir", str(tmp_path / "data"), "--log-level", "info",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    served = Roost(process, tmp_path / "data")
    try:
        await served.serving()
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _http(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on an open connection (so the test knows which one)."""
    writer.write(
        b"POST %s HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
    )
    await writer.drain()
    head = await within(reader.readuntil(b"\r\n\r\n"))
    status_line, *lines = head.decode().split("\r\n")[:-2]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    payload = await within(reader.readexactly(int(headers["content-length"])))
    return int(status_line.split()[1]), headers, payload


def _call(value: str) -> bytes:
    return orjson.dumps({"args": [value]})


async def test_sigterm_answers_the_request_in_flight_and_commits_it(roost: Roost) -> None:
    async with httpx.AsyncClient(timeout=None) as client:
        call = asyncio.create_task(
            client.post(roost.url + "/objects/ledger/l/rpc/slow_write", content=_call("a"))
        )
        await roost.line(roost.process.stdout, "started a")
        roost.process.send_signal(signal.SIGTERM)
        await roost.line(roost.process.stderr, "draining: 1 requests in flight")
        await roost.release()
        response = await within(call)
    assert response.status_code == 200
    assert response.json() == {"result": "wrote a"}
    assert response.headers["connection"] == "close"
    assert await within(roost.process.wait()) == 0
    assert roost.rows() == ["a"]


async def test_a_request_during_the_drain_gets_503_and_is_not_applied(roost: Roost) -> None:
    reader, writer = await within(asyncio.open_connection("127.0.0.1", roost.port))
    status, headers, _ = await _http(reader, writer, "/objects/ledger/l/rpc/write", _call("x"))
    assert (status, headers["connection"]) == (200, "keep-alive")
    async with httpx.AsyncClient(timeout=None) as client:
        call = asyncio.create_task(
            client.post(roost.url + "/objects/ledger/l/rpc/slow_write", content=_call("a"))
        )
        await roost.line(roost.process.stdout, "started a")
        roost.process.send_signal(signal.SIGTERM)
        await roost.line(roost.process.stderr, "draining")
        status, headers, body = await _http(
            reader, writer, "/objects/ledger/l/rpc/write", _call("during")
        )
        assert status == 503
        assert headers["connection"] == "close"
        assert orjson.loads(body)["error"]["code"] == "hub_stopping"
        assert orjson.loads(body)["error"]["retryable"] is True
        assert await within(reader.read()) == b""  # and the connection is closed
        writer.close()
        await roost.release()
        response = await within(call)
    assert response.status_code == 200
    assert await within(roost.process.wait()) == 0
    assert roost.rows() == ["x", "a"]


async def test_sighup_drains_closes_1012_and_restarts_on_the_same_socket(roost: Roost) -> None:
    url, port = roost.url, roost.port
    ws = await within(websockets.connect(url.replace("http", "ws") + "/objects/ledger/l"))
    await ws.send("hi")
    assert await within(ws.recv()) == "echo hi"
    async with httpx.AsyncClient(timeout=None) as client:
        call = asyncio.create_task(
            client.post(url + "/objects/ledger/l/rpc/slow_write", content=_call("a"))
        )
        await roost.line(roost.process.stdout, "started a")
        roost.process.send_signal(signal.SIGHUP)
        await roost.line(roost.process.stderr, "draining: 1 requests in flight")
        # The old process no longer accepts; the socket handed over keeps this connect
        # in the backlog for the new one.
        reader, writer = await within(asyncio.open_connection("127.0.0.1", port))
        writer.write(
            b"POST /objects/ledger/l/rpc/write HTTP/1.1\r\nHost: hub\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(_call("b")), _call("b"))
        )
        await roost.release()
        response = await within(call)
        assert response.status_code == 200
        assert response.json() == {"result": "wrote a"}
        assert response.headers["connection"] == "close"
        with pytest.raises(ConnectionClosed):
            await within(ws.recv())
        assert ws.close_code == 1012
        assert await roost.serving() == url  # the new process, on the same port
        assert roost.process.returncode is None
        head = await within(reader.readuntil(b"\r\n\r\n"))
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.close()
        again = await within(client.post(url + "/objects/ledger/l/rpc/write", content=_call("c")))
        assert again.json() == {"result": "wrote c"}
    roost.process.send_signal(signal.SIGTERM)
    assert await within(roost.process.wait()) == 0
    assert roost.rows() == ["a", "b", "c"]


async def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "ledger_app.py").write_text(APP)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", "serve", str(tmp_path / "ledger_app.py"),
            "--port", str(port), "--data-dir", str(tmp_path / "data"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            stdout, stderr = await within(process.communicate())
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 1
    assert stdout == b""
    assert b"Traceback" not in stderr
    (line,) = stderr.decode().splitlines()
    assert line.startswith(f"roost: cannot listen on 127.0.0.1:{port}: [Errno ")
    assert line.endswith("address already in use")


async def test_roost_reload_signals_the_process_serving_the_data_dir(roost: Roost) -> None:
    pid_file = roost.data_dir / "roost.pid"
    assert pid_file.read_text().strip() == str(roost.process.pid)
    ws = await within(websockets.connect(roost.url.replace("http", "ws") + "/objects/ledger/l"))
    reload = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "reload", "--data-dir", str(roost.data_dir),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await within(reload.communicate())
    assert reload.returncode == 0
    assert out.decode().startswith(f"roost: reloading (pid {roost.process.pid})")
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1012  # one process restarts; --workers keeps sockets open
    await roost.serving()
    roost.process.send_signal(signal.SIGTERM)
    assert await within(roost.process.wait()) == 0
    assert not pid_file.exists()


async def test_roost_reload_without_a_hub_is_one_line_and_exit_1(tmp_path: Path) -> None:
    reload = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "reload", "--data-dir", str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await within(reload.communicate())
    assert reload.returncode == 1
    assert err.decode().startswith(f"roost: no hub is serving from {str(tmp_path)!r}")
    assert err.decode().count("\n") == 1


async def test_roost_version_prints_the_package_version() -> None:
    import hub

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await within(process.communicate())
    assert process.returncode == 0
    assert out.decode().strip() == f"roost {hub.__version__}"
    assert hub.__version__ != "0+unknown"  # the suite runs against an installed roost


HELLO = textwrap.dedent(
    """
    import hub

    class Hello(hub.DurableObject):
        def version(self) -> str:
            return "v1"

    app = hub.Hub({"HELLO": Hello})
    """
)


async def _serve(tmp_path: Path, *args: str, **env: str) -> asyncio.subprocess.Process:
    (tmp_path / "hello_app.py").write_text(HELLO)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", str(tmp_path / "hello_app.py"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )  # fmt: skip


async def _serving(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = (await within(process.stdout.readline())).decode()
    assert line.startswith("roost: serving on "), line
    return line.split()[3]


async def test_every_serve_option_may_come_from_a_roost_variable(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    process = await _serve(
        tmp_path, ROOST_PORT="0", ROOST_DATA_DIR=str(data), ROOST_LOG_LEVEL="warning"
    )
    try:
        url = await _serving(process)
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":8787")
        assert (data / "roost.pid").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await within(process.wait()) == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--log-level", "loud"], {}, "log level must be one of debug, info, warning, error"),
        ([], {"ROOST_LOG_LEVEL": "loud"}, "log level must be one of debug, info, warning, error"),
        ([], {"ROOST_PORT": "eighty"}, "argument --port: invalid int value: 'eighty'"),
        ([], {"ROOST_COMPRESSION": "maybe"}, "ROOST_COMPRESSION must be 1/true/yes/on"),
        (["--gateways", "2"], {}, "--gateways needs --workers"),
        (["--log-format", "xml"], {}, "log format must be one of text, json, got 'xml'"),
        ([], {"ROOST_LOG_FORMAT": "xml"}, "log format must be one of text, json, got 'xml'"),
        ([], {"ROOST_ACCESS_LOG": "maybe"}, "ROOST_ACCESS_LOG must be 1/true/yes/on"),
        (["--trusted-proxies", "10.0.0.0/99"], {}, "trusted proxy must be an IP address"),
        ([], {"ROOST_TRUSTED_PROXIES": "proxy.local"}, "got 'proxy.local'"),
    ],
)
async def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    process = await _serve(tmp_path, *args, **env)
    _, err = await within(process.communicate())
    assert process.returncode == 2
    assert err.decode().startswith("roost: ") and message in err.decode()
    assert err.decode().count("\n") == 1


async def test_reload_flag_restarts_on_a_code_change(tmp_path: Path) -> None:
    process = await _serve(
        tmp_path, "--reload", "--port", "0", "--data-dir", str(tmp_path / "data")
    )
    try:
        url = await _serving(process)
        call = url + "/objects/hello/h/rpc/version"
        async with httpx.AsyncClient(timeout=30) as client:
            assert (await client.post(call)).json() == {"result": "v1"}

            # The watcher starts with the hub: a change made before it runs goes unseen,
            # so the edit is made again until the hub restarts.
            async def edited() -> str:
                restarted = asyncio.ensure_future(_serving(process))
                while not restarted.done():
                    (tmp_path / "hello_app.py").write_text(HELLO.replace('"v1"', '"v2"'))
                    await asyncio.wait([restarted], timeout=0.5)
                return restarted.result()

            assert await within(edited()) == url  # restarted, on the same port
            assert (await client.post(call)).json() == {"result": "v2"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert await within(process.wait()) == 0


@pytest.mark.parametrize(
    ("args", "env", "status"),
    [
        (["--admin-key", "k3y"], {}, 200),  # probes need no key by default
        ([], {"ROOST_ADMIN_KEY": "k3y", "ROOST_HEALTH_REQUIRES_KEY": "1"}, 401),
        (["--admin-key", "k3y", "--health-requires-key"], {}, 401),
    ],
)
async def test_health_needs_the_admin_key_only_when_told(
    tmp_path: Path, args: list[str], env: dict[str, str], status: int
) -> None:
    process = await _serve(
        tmp_path, "--port", "0", "--data-dir", str(tmp_path / "data"), *args, **env
    )
    try:
        url = await _serving(process)
        async with httpx.AsyncClient(timeout=30) as client:
            health = await client.get(url + "/_roost/health")
            keyed = await client.get(
                url + "/_roost/health", headers={"authorization": "Bearer k3y"}
            )
        assert health.status_code == status
        assert keyed.json() == {"status": "ok", "version": hub.__version__}
    finally:
        process.send_signal(signal.SIGTERM)
        assert await within(process.wait()) == 0
