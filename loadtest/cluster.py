"""The Roost server of a scenario as a cluster: ``roost serve APP --workers N --gateways M``
in a subprocess, and what the parent reads of it from ``/proc``.

Rules:

1. The app is a file written into the run's directory (``APP``): the objects of
   ``loadtest.servers`` and a ``VERSION`` that ``reload`` rewrites, so each reload
   loads code that changed on disk, as a deploy does. The cluster's data directory is
   its own (two hubs never open the same object files).
2. Server CPU and RSS are summed over the supervisor and every process under it
   (``descendants``, from ``/proc/PID/task/*/children``). CPU also counts what reaped
   children used (``cutime``/``cstime``), so workers replaced by a reload stay counted.
3. Sockets held are the server-side TCP connections on the port in ``ESTABLISHED``
   state (``/proc/net/tcp``): one count over every gateway.
4. ``ClusterServer`` answers the same commands as a server child
   (``loadtest.servers``): ``count``, ``gc`` (no collection in the cluster's processes:
   the summed RSS), ``hibernate`` (``POST /_roost/objects/{binding}/{name}/hibernate``
   to whichever gateway accepts it) and ``stop`` (SIGTERM, then kill).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.cluster.paths import worker_ready_path
from loadtest.process import ChildError, Message, rss_kib

__all__ = [
    "APP",
    "ClusterChild",
    "ClusterServer",
    "descendants",
    "established",
    "open_file_limit",
    "parse_child",
    "stat_seconds",
]

#: The app ``roost serve`` loads (rule 1); ``{version}`` changes on each reload.
APP = '''"""Written by loadtest.cluster: the load generator's objects, served by a cluster."""

import hub
from loadtest.servers import app_objects

VERSION = {version}

app = hub.Hub(app_objects(), idle_timeout=3600.0)
'''
#: Seconds the cluster gets to say it is serving, and to stop.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
#: The drain deadline given to ``roost serve`` (``--shutdown-timeout``).
SHUTDOWN_TIMEOUT = 5.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class ClusterChild:
    """One gateway or worker process of the cluster."""

    pid: int
    role: str
    index: int
    generation: int
    #: The supervisor's run directory (its Unix sockets and ready files).
    run_dir: str = ""


def parse_child(pid: int, argv: Sequence[bytes]) -> ClusterChild | None:
    """The cluster process of ``argv`` (``python -m hub.cluster ROLE CONFIG``), if it is one."""
    if len(argv) < 2 or b"hub.cluster" not in argv:
        return None
    at = list(argv).index(b"hub.cluster")
    if at + 2 >= len(argv):
        return None
    try:
        config = json.loads(argv[at + 2])
    except ValueError:
        return None
    return ClusterChild(
        pid,
        argv[at + 1].decode(),
        int(config["index"]),
        int(config["generation"]),
        str(config.get("run_dir", "")),
    )


def stat_seconds(text: str, *, reaped: bool = True) -> tuple[float, float]:
    """User and system CPU seconds in a ``/proc/PID/stat`` line: the process's own, plus
    those of its reaped children when ``reaped`` (rule 2)."""
    fields = text[text.rindex(")") + 2 :].split()
    user, system = int(fields[11]), int(fields[12])
    if reaped:
        user += int(fields[13])
        system += int(fields[14])
    return user / _CLOCK_TICKS, system / _CLOCK_TICKS


def established(lines: Iterable[str], port: int, address: str = "0100007F") -> int:
    """Connections in ``/proc/net/tcp`` ``lines`` whose local end is ``address:port``
    (hex, as the kernel writes it) and whose state is ``ESTABLISHED`` (01) (rule 3)."""
    local = f"{address}:{port:04X}"
    count = 0
    for line in lines:
        fields = line.split(None, 4)
        if len(fields) > 3 and fields[1] == local and fields[3] == "01":
            count += 1
    return count


def open_file_limit(limits: str) -> int:
    """The soft ``Max open files`` of a ``/proc/PID/limits`` text (-1: unlimited)."""
    for line in limits.splitlines():
        if line.startswith("Max open files"):
            soft = line[len("Max open files") :].split()[0]
            return -1 if soft == "unlimited" else int(soft)
    return -1


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid`` (children, their children, ...)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in text.split():
                found.append(int(child))
                todo.append(int(child))
    return found


class ClusterServer:
    """A running ``roost serve --workers N --gateways M`` (rule 4)."""

    def __init__(self, name: str, directory: Path, workers: int, gateways: int) -> None:
        self.name = name
        self.workers = workers
        self.gateways = gateways
        self.directory = directory
        self.data_dir = directory / "data"
        self.app = directory / "loadtest_app.py"
        self.version = 1
        directory.mkdir(parents=True, exist_ok=True)
        self.app.write_text(APP.format(version=self.version), encoding="utf-8")
        self.log = directory / "cluster.log"
        pythonpath = os.pathsep.join(
            [str(_REPO), *filter(None, [os.environ.get("PYTHONPATH", "")])]
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "hub.cli", "serve", str(self.app),
                    "--port", "0", "--data-dir", str(self.data_dir),
                    "--workers", str(workers), "--gateways", str(gateways),
                    "--idle-timeout", "3600", "--shutdown-timeout", str(SHUTDOWN_TIMEOUT),
                    "--log-level", "warning",
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=_REPO,
                env={**os.environ, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        self.port = self._serving()
        self.ready: Message = ("ready", self.port, self.process.pid)
        self.run_dir = Path(next((c.run_dir for c in self.children() if c.run_dir), ""))

    def _serving(self) -> int:
        """The port, from the line ``roost: serving on http://HOST:PORT (...)``."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("roost: serving on "):
            self.stop()
            tail = self.log.read_text(errors="replace")[-2000:]
            raise ChildError(
                f"{self.name}: not serving within {START_TIMEOUT:g} s: {line!r}\n{tail}"
            )
        return int(line.split()[3].rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        """The supervisor's process id."""
        return self.process.pid

    def processes(self) -> list[int]:
        """The supervisor and every live process under it."""
        return [self.pid, *descendants(self.pid)]

    def children(self) -> list[ClusterChild]:
        """The live gateways and workers."""
        found = []
        for pid in descendants(self.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # it just exited
            child = parse_child(pid, argv)
            if child is not None:
                found.append(child)
        return found

    def worker_processes(self) -> list[ClusterChild]:
        """The live workers, by index."""
        return sorted((c for c in self.children() if c.role == "worker"), key=lambda c: c.index)

    def cpu(self) -> tuple[float, float]:
        """User and system CPU seconds of the whole cluster so far (rule 2)."""
        user = system = 0.0
        for pid in self.processes():
            try:
                text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
            except OSError:
                continue  # it exited: its parent's reaped-children times will hold it
            u, s = stat_seconds(text)
            user += u
            system += s
        return user, system

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds (user + system) of each live process so far, by label; the
        supervisor's include the workers it reaped (replaced by reloads)."""
        labels = {self.pid: "supervisor"}
        labels.update({c.pid: f"{c.role} {c.index}" for c in self.children()})
        seconds: dict[str, float] = {}
        for pid, label in labels.items():
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
                seconds[label] = sum(stat_seconds(text))
        return seconds

    def rss(self) -> int:
        """RSS of the whole cluster in KiB, summed over its processes (rule 2)."""
        total = 0
        for pid in self.processes():
            with contextlib.suppress(OSError, ChildError):
                total += rss_kib(pid)
        return total

    def census(self) -> dict[str, dict[str, int]]:
        """Each process's RSS (KiB), open files and soft open-file limit, by label
        (``supervisor``, ``gateway 0``, ``worker 1``, ...)."""
        labels = {self.pid: "supervisor"}
        labels.update({c.pid: f"{c.role} {c.index}" for c in self.children()})
        table: dict[str, dict[str, int]] = {}
        for pid, label in labels.items():
            with contextlib.suppress(OSError, ChildError):
                table[label] = {
                    "rss_kib": rss_kib(pid),
                    "open_files": len(os.listdir(f"/proc/{pid}/fd")),
                    "fd_limit": open_file_limit(Path(f"/proc/{pid}/limits").read_text()),
                }
        return table

    def count(self) -> int:
        """Sockets the gateways hold (rule 3)."""
        with open("/proc/net/tcp", encoding="ascii") as tcp:
            return established(tcp, self.port)

    def hibernate(self, binding: str, names: Sequence[str]) -> int:
        """Evict the objects ``names`` of ``binding`` (their sockets stay open)."""
        evicted = 0
        kebab = binding.lower().replace("_", "-")
        for name in names:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60.0)
            try:
                connection.request("POST", f"/_roost/objects/{kebab}/{name}/hibernate")
                answer = connection.getresponse()
                body = answer.read()
            finally:
                connection.close()
            if answer.status != 200:
                raise ChildError(f"{self.name}: hibernate {name!r} answered {answer.status}")
            evicted += bool(json.loads(body).get("hibernated"))
        return evicted

    def call(self, *message: Any, timeout: float = 30.0, expect: str | None = None) -> Message:
        """A server child's command (``loadtest.servers``), answered here (rule 4)."""
        kind = str(message[0])
        if kind == "count":
            return ("count", self.count())
        if kind == "gc":
            return ("gc", self.rss())
        if kind == "hibernate":
            return ("hibernate", self.hibernate(message[1], message[2]))
        raise ChildError(f"{self.name}: unknown command {kind!r}")

    def reload(self) -> tuple[int, set[int]]:
        """Rewrite the app (a new ``VERSION``) and SIGHUP the supervisor, whose pid is in
        ``DATA_DIR/roost.pid`` (what ``roost reload`` does). Returns the generation the
        new workers will have and the old workers' pids."""
        old = self.worker_processes()
        generation = max((c.generation for c in old), default=0) + 1
        self.version += 1
        self.app.write_text(APP.format(version=self.version), encoding="utf-8")
        pid = int((self.data_dir / "roost.pid").read_text().strip())
        os.kill(pid, signal.SIGHUP)
        return generation, {c.pid for c in old}

    def connected(self, generation: int) -> bool:
        """True once every worker of ``generation`` is connected to every gateway (its
        ready file, ``hub.cluster.paths.worker_ready_path``): from then on the gateways
        hold the partitions' events while the old workers retire."""
        return all(
            worker_ready_path(self.run_dir, index, generation).exists()
            for index in range(self.workers)
        )

    def reloaded(self, generation: int, old: set[int]) -> bool:
        """True once every worker is of ``generation`` (or later) and the old ones exited."""
        workers = self.worker_processes()
        return (
            len(workers) == self.workers
            and all(c.generation >= generation for c in workers)
            and not old & set(descendants(self.pid))
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the supervisor (it stops every child); kill what is left after
        ``timeout``."""
        if self.process.poll() is None:
            tree = descendants(self.pid)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                for pid in [self.pid, *tree]:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(5.0)
        if self.process.stdout is not None:
            self.process.stdout.close()


def wait_until(done: Any, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``done()`` (state other processes change: nothing to wait on) until true;
    False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
