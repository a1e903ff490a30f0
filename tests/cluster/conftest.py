"""A real ``roost serve --workers N --gateways M``: a supervisor, its gateway and worker
processes, real sockets, and ``roost reload`` / kill -9 as a user would do them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import eventually, within

APP = textwrap.dedent(
    """
    import os
    import time

    import hub

    VERSION = "v1"


    class Room(hub.DurableObject):
        feeds = ("log",)
        presence_from_attachment = True

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec(
                "CREATE TABLE IF NOT EXISTS log"
                " (id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT, n INTEGER)"
            )

        async def websocket_message(self, ws, message):
            if message.startswith("as "):
                ws.serialize_attachment({"name": message[3:]})  # and its presence
                return
            if message.startswith("all "):
                self.ctx.broadcast(message)
                return
            if message == "who":
                ws.send(f"{VERSION} who {ws.deserialize_attachment()}")
                return
            if message.startswith("stall "):
                time.sleep(float(message[6:]))  # blocks the whole worker
                return
            sender, _, n = message.partition(":")
            self.ctx.storage.sql.exec("INSERT INTO log (sender, n) VALUES (?, ?)", sender, int(n))
            ws.send(f"{VERSION} {message}")

        async def websocket_auth(self, ws, token):
            if token.startswith("bad"):
                raise hub.UnauthorizedError(f"{token} refused")
            ws.serialize_attachment({"name": token})  # and its presence
            return [token, os.getpid()]

        async def websocket_close(self, ws, code, reason, was_clean):
            self.ctx.storage.sql.exec("INSERT INTO log (sender, n) VALUES ('closed', ?)", code)

        def log(self) -> list:
            return [list(row) for row in self.ctx.storage.sql.exec(
                "SELECT sender, n FROM log ORDER BY id").raw()]

        def where(self) -> list:
            return [VERSION, os.getpid()]

        async def relay(self, other: str, value: str) -> str:
            return await self.env.ROOM.get(self.env.ROOM.id_from_name(other)).echo(value)

        def echo(self, value: str) -> str:
            return f"{VERSION} {value}"


    app = hub.Hub({"ROOM": Room})
    """
)


@dataclass
class Child:
    """One gateway or worker process of the cluster."""

    pid: int
    role: str
    index: int
    generation: int


class Cluster:
    """A running supervisor."""

    def __init__(self, process: asyncio.subprocess.Process, app: Path, data_dir: Path) -> None:
        self.process = process
        self.app = app
        self.data_dir = data_dir
        self.url = ""

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def children(self) -> list[Child]:
        """The supervisor's live children, from /proc."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        found = []
        for child in text.split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:  # it just exited
                continue
            if b"hub.cluster" not in argv:
                continue
            config = orjson.loads(argv[-2])
            found.append(
                Child(int(child), argv[-3].decode(), config["index"], config["generation"])
            )
        return found

    @staticmethod
    def is_child_alive(child: Child) -> bool:
        """True while ``child``'s pid is a cluster process (not a reused pid)."""
        try:
            return b"hub.cluster" in Path(f"/proc/{child.pid}/cmdline").read_bytes()
        except OSError:
            return False

    def workers(self) -> list[Child]:
        return sorted((c for c in self.children() if c.role == "worker"), key=lambda c: c.index)

    def gateways(self) -> list[Child]:
        return sorted((c for c in self.children() if c.role == "gateway"), key=lambda c: c.index)

    async def call(self, name: str, method: str, *args: object) -> object:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.url}/objects/room/{name}/rpc/{method}",
                content=orjson.dumps({"args": list(args)}),
            )
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def edit(self, version: str) -> None:
        """Change the code on disk (a deploy)."""
        self.app.write_text(APP.replace('VERSION = "v1"', f'VERSION = "{version}"'))

    async def reload(self) -> list[Child]:
        """``roost reload``; returns once every worker is of the new generation and the
        old ones are gone."""
        before = {c.pid for c in self.workers()}
        generation = max(c.generation for c in self.workers()) + 1
        command = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", "reload", "--data-dir", str(self.data_dir),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert await within(command.wait()) == 0
        await eventually(
            lambda: (
                len(self.workers()) == self.expected_workers
                and all(c.generation >= generation for c in self.workers())
                and not before & {c.pid for c in self.workers()}
            ),
            "the new generation of workers",
        )
        return self.workers()

    expected_workers = 0


StartCluster = Callable[..., Awaitable[Cluster]]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[StartCluster]:
    started: list[Cluster] = []

    async def start(
        workers: int = 2, gateways: int = 1, *extra: str, target: str | None = None
    ) -> Cluster:
        """Serve ``APP`` (or ``target``, a file or folder the test wrote)."""
        app = tmp_path / "rooms_app.py"
        app.write_text(APP)
        data_dir = tmp_path / "data"
        log = (tmp_path / "cluster.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", "serve", target or str(app), "--port", "0",
            "--data-dir", str(data_dir), "--workers", str(workers),
            "--gateways", str(gateways), "--log-level", "warning", *extra,
            stdout=asyncio.subprocess.PIPE, stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        running = Cluster(process, app, data_dir)
        running.expected_workers = workers
        started.append(running)
        assert process.stdout is not None
        # Four interpreters start (imports, hub.db) on a machine the suite keeps busy.
        line = (await within(process.stdout.readline(), factor=3)).decode()
        assert line.startswith("roost: serving on "), line
        running.url = line.split()[3]
        return running

    try:
        yield start
    finally:
        for running in started:
            if running.process.returncode is None:
                running.process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(running.process.wait(), 20)
                except TimeoutError:
                    running.process.kill()
                    await running.process.wait()
        log_path = tmp_path / "cluster.log"
        if log_path.exists():
            sys.stderr.write(log_path.read_text()[-4000:])
