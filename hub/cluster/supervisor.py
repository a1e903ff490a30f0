"""The supervisor of ``roost serve --workers N --gateways M``.

Rules:

1. It reserves the port first (a socket bound with ``SO_REUSEPORT`` that never listens,
   so a port in use fails before anything starts, and port 0 becomes one port), then
   starts M gateways, which listen on that port with ``SO_REUSEPORT``, and N workers.
   It says it is serving once every gateway listens, which each does once every
   partition has a worker.
2. A child that exits unasked is started again: a worker's sockets stay open in the
   gateways and its objects wake in the new one; a gateway's sockets are lost with it
   (their clients reconnect).
3. SIGHUP (``roost reload``, or a code change with ``--reload``) replaces every
   worker: a new generation starts with the code as it is now, takes each partition
   over from the old one (see ``hub.cluster.gateway``), and each old worker gets
   ``shutdown_timeout`` (plus a second) from the moment its successor is connected to
   finish, or is killed.
4. SIGTERM / SIGINT stop everything: the children get SIGTERM together (workers finish
   their events, gateways answer what is in flight and close sockets with 1001), and
   whatever still runs after the deadline is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from asyncio.subprocess import Process
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hub.cli import PID_FILE
from hub.cluster.paths import gateway_ready_path, worker_ready_path
from hub.cluster.processes import ProcessConfig
from hub.net.server import ListenError
from hub.reloader import watch

__all__ = ["Supervisor"]

log = logging.getLogger("roost.cluster")

#: Seconds the children get to start listening (imports, opening hub.db).
START_TIMEOUT = 60.0


class Supervisor:
    """Starts, watches, reloads and stops the gateways and workers."""

    def __init__(self, base: ProcessConfig, *, data_dir: Path, reload: bool = False) -> None:
        self.base = base
        #: ``--reload``: reload the workers when the app's code changes.
        self.watch_code = reload
        self.data_dir = data_dir
        self.port = base.port
        self.run_dir = Path()
        self.generation = 0
        self.gateways: list[Process | None] = [None] * base.gateways
        self.workers: list[Process | None] = [None] * base.workers
        self._retiring: set[Process] = set()
        self._stopping = False
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = self.base.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def run(self) -> int:
        """Serve until SIGTERM / SIGINT; the exit status."""
        reservation = _reserve(self.base.host, self.base.port)
        self.port = reservation.getsockname()[1]
        self.run_dir = Path(tempfile.mkdtemp(prefix="roost-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self.data_dir / PID_FILE
        pid_file.write_text(f"{os.getpid()}\n")
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._done.set)
        loop.add_signal_handler(signal.SIGINT, self._done.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            for index in range(self.base.gateways):
                await self._start("gateway", index)
            for index in range(self.base.workers):
                await self._start("worker", index)
            if not await self._wait_listening():
                print("roost: the gateways did not start listening", file=sys.stderr)
                return 1
            print(
                f"roost: serving on {self.url} ({self.base.workers} workers,"
                f" {self.base.gateways} gateways; data in {self.data_dir})",
                flush=True,
            )
            if self.watch_code:
                self._spawn(watch(self.base.target, self.reload))
            await self._done.wait()
            await self.stop()
            return 0
        finally:
            reservation.close()
            with contextlib.suppress(FileNotFoundError):
                pid_file.unlink()
            shutil.rmtree(self.run_dir, ignore_errors=True)

    async def _wait_listening(self) -> bool:
        paths = [gateway_ready_path(self.run_dir, j) for j in range(self.base.gateways)]
        return await _poll(lambda: all(path.exists() for path in paths) or self._done.is_set())

    # -- children -------------------------------------------------------------------------

    async def _start(self, role: str, index: int) -> Process:
        config = dataclasses.replace(
            self.base,
            index=index,
            run_dir=str(self.run_dir),
            port=self.port,
            generation=self.generation,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cluster", role, config.to_json()
        )
        (self.gateways if role == "gateway" else self.workers)[index] = process
        self._spawn(self._watch(role, index, process))
        return process

    async def _watch(self, role: str, index: int, process: Process) -> None:
        code = await process.wait()
        if self._stopping:
            return
        if process in self._retiring:
            self._retiring.discard(process)
            return
        current = self.gateways if role == "gateway" else self.workers
        if current[index] is not process:
            return
        log.warning("%s %d exited with status %s: starting it again", role, index, code)
        if role == "worker":
            self.generation += 1
        await self._start(role, index)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- reload and stop ------------------------------------------------------------------

    def reload(self) -> None:
        """Replace every worker with one running the code as it is now."""
        if self._stopping:
            return
        self.generation += 1
        log.info("reloading: worker generation %d", self.generation)
        for index, old in enumerate(self.workers):
            if old is not None:
                self._retiring.add(old)
            self._spawn(self._replace(index, old, self.generation))

    async def _replace(self, index: int, old: Process | None, generation: int) -> None:
        await self._start("worker", index)
        if old is None:
            return
        ready = worker_ready_path(self.run_dir, index, generation)
        await _poll(lambda: ready.exists() or old.returncode is not None)
        # The successor is connected: the old worker is retiring from now on.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(old.wait(), self.base.shutdown_timeout + 1.0)
        if old.returncode is None:
            log.warning(
                "worker %d did not finish within %.1f s: killing it",
                index,
                self.base.shutdown_timeout,
            )
            old.kill()

    async def stop(self) -> None:
        """SIGTERM to every child; kill what still runs after the deadline."""
        self._stopping = True
        children = [p for p in (*self.gateways, *self.workers, *self._retiring) if p is not None]
        for process in children:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        waiting = [asyncio.ensure_future(p.wait()) for p in children]
        if waiting:
            _done, pending = await asyncio.wait(waiting, timeout=self.base.shutdown_timeout + 5)
            for process in children:
                if process.returncode is None:
                    process.kill()
            if pending:
                await asyncio.wait(pending)
        for task in list(self._tasks):
            task.cancel()


async def _poll(done: Callable[[], bool], timeout: float = START_TIMEOUT) -> bool:  # noqa: ASYNC109
    """Wait until ``done()`` (files other processes create: nothing to await); False
    after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _reserve(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, exc) from exc
    return sock
