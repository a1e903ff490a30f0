"""Child processes of the socket benchmarks: starting them, talking to them, reading /proc.

Rules:

1. Every server and every client runs in a process of its own (``spawn``), so a client
   never steals the server's event loop and each process's CPU time and RSS can be read
   from ``/proc/<pid>``. The parent only orchestrates; it holds no socket under test.
2. Parent and child talk over one ``multiprocessing`` pipe: the parent sends a command
   tuple and waits, with a timeout, for the reply tuple. In the child the pipe is read
   by the event loop (``add_reader``), so a command never blocks the loop; a closed pipe
   (the parent died) reads as ``("stop",)``.
3. Every child is stopped by the parent on every path: ``("stop",)``, then ``terminate``,
   then ``kill``, each after a bounded wait. Nothing outlives the benchmark.
4. Each child raises its ``RLIMIT_NOFILE`` as far as it may and runs uvloop when
   it is installed, so the server under test and its baseline run the same loop.

Linux only: CPU time and RSS come from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

__all__ = [
    "Child",
    "ChildError",
    "Commands",
    "RssReader",
    "cpu_seconds",
    "cpu_times",
    "event_loop_name",
    "machine_busy_seconds",
    "raise_fd_limit",
    "rss_kib",
    "run_loop",
]

Message = tuple[Any, ...]
"""A command or a reply: a tuple whose first item is its kind (a str)."""

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ChildError(Exception):
    """A child process failed, answered something unexpected or did not answer in time."""


def raise_fd_limit(want: int = 1_048_576) -> int:
    """Raise the limit of open files towards ``want``; returns the new soft limit.

    The soft limit goes up to the hard limit; a process allowed to (``CAP_SYS_RESOURCE``,
    e.g. root) also raises the hard limit, up to the kernel's ``fs.nr_open``.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            ceiling = int(Path("/proc/sys/fs/nr_open").read_text().strip())
        except (OSError, ValueError):
            ceiling = hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, max(hard, min(want, ceiling))))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def event_loop_name() -> str:
    """``uvloop`` when it is installed (the children then use it), else ``asyncio``."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main()`` on uvloop when it is installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds used so far by process ``pid`` (``/proc/pid/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / _CLOCK_TICKS, int(fields[12]) / _CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid``."""
    return sum(cpu_times(pid))


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy so far, all CPUs together.

    From the ``cpu`` line of ``/proc/stat``: user, nice, system and steal (time the
    hypervisor gave to others). Interrupt and softirq time are left out: loopback
    traffic is mostly softirq work on behalf of the processes under test. Compared with
    the CPU time of those processes over the same interval, it tells how much other
    work shared the CPUs.
    """
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()
    user, nice, system, steal = (int(fields[i]) for i in (1, 2, 3, 8))
    return (user + nice + system + steal) / _CLOCK_TICKS


def rss_kib(pid: int | str = "self") -> int:
    """The resident set size of ``pid`` in KiB (``VmRSS`` of ``/proc/pid/status``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ChildError(f"no VmRSS in /proc/{pid}/status")


class RssReader:
    """This process's RSS, read from a ``/proc/self/status`` opened once: a process that
    has used up its open-file limit (the ``idle`` scenario's very point) can still tell."""

    def __init__(self) -> None:
        self._file = open("/proc/self/status", encoding="ascii")  # noqa: SIM115

    def kib(self) -> int:
        """The resident set size in KiB, now."""
        self._file.seek(0)
        for line in self._file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise ChildError("no VmRSS in /proc/self/status")


class Commands:
    """The child's end of the pipe, read by its event loop (Rule 2)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(conn.fileno(), self._readable)

    def _readable(self) -> None:
        # A command larger than the pipe's buffer (a long list of sockets to open) arrives
        # in pieces: read it blocking, as the parent is writing the rest, or a
        # non-blocking read would fail half-way and end the child.
        fd = self._conn.fileno()
        try:
            while self._conn.poll():
                os.set_blocking(fd, True)
                try:
                    command = self._conn.recv()
                finally:
                    os.set_blocking(fd, False)
                self._queue.put_nowait(command)
        except (EOFError, OSError):
            self._loop.remove_reader(self._conn.fileno())
            self._queue.put_nowait(("stop",))

    async def get(self) -> Message:
        """The next command from the parent."""
        return await self._queue.get()

    def reply(self, *message: Any) -> None:
        """Send a reply tuple to the parent (ignored once the parent is gone).

        The loop's reader made the pipe non-blocking, which would cut a reply larger
        than the pipe buffer in half; the send is made blocking, as the parent reads.
        """
        fd = self._conn.fileno()
        os.set_blocking(fd, True)
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._conn.send(message)
        finally:
            os.set_blocking(fd, False)

    def close(self) -> None:
        """Stop reading the pipe."""
        self._loop.remove_reader(self._conn.fileno())


class Child:
    """The parent's handle on one child process and its command pipe."""

    def __init__(
        self, name: str, target: Callable[..., None], *args: Any, ready_timeout: float = 30.0
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.name = name
        self._conn, child_conn = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=target, args=(child_conn, *args), name=name, daemon=True
        )
        self.process.start()
        child_conn.close()
        self.ready = self.receive(ready_timeout, "ready")

    @property
    def pid(self) -> int:
        """The child's process id."""
        pid = self.process.pid
        assert pid is not None
        return pid

    @property
    def connection(self) -> Connection:
        """The parent's end of the command pipe (to wait on several children at once)."""
        return self._conn

    def poll(self) -> bool:
        """True when a reply is waiting."""
        return self._conn.poll()

    def send(self, *message: Any) -> None:
        """Send a command without waiting for its reply."""
        self._conn.send(message)

    def receive(self, timeout: float, expect: str) -> Message:
        """The next reply, which must be of kind ``expect``, within ``timeout`` seconds."""
        if not self._conn.poll(timeout):
            alive = "alive" if self.process.is_alive() else f"exit {self.process.exitcode}"
            raise ChildError(f"{self.name}: no {expect!r} reply within {timeout:g} s ({alive})")
        try:
            reply: Message = self._conn.recv()
        except EOFError:
            raise ChildError(
                f"{self.name} exited (code {self.process.exitcode}) before replying {expect!r}"
            ) from None
        if reply[0] != expect:
            raise ChildError(f"{self.name}: expected a {expect!r} reply, got {reply!r}")
        return reply

    def call(self, *message: Any, timeout: float = 30.0, expect: str | None = None) -> Message:
        """Send a command and wait for its reply (of kind ``expect``, default the same)."""
        self.send(*message)
        return self.receive(timeout, expect or str(message[0]))

    def cpu(self) -> tuple[float, float]:
        """User and system CPU seconds used by the child so far."""
        return cpu_times(self.pid)

    def rss(self) -> int:
        """The child's resident set size in KiB."""
        return rss_kib(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to stop; terminate, then kill it if it does not (Rule 3)."""
        if self.process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(("stop",))
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2.0)
        self._conn.close()


class CpuShares:
    """How busy the server and the busiest client were in one measured window.

    A mixin for the benchmarks' frozen dataclasses, which carry the fields.
    """

    __slots__ = ()
    wall: float
    server_user: float
    server_sys: float
    client_cpu: list[float]

    @property
    def server_cpu(self) -> float:
        """Server CPU seconds, user plus system."""
        return self.server_user + self.server_sys

    @property
    def server_busy(self) -> float:
        """Server CPU seconds over wall seconds."""
        return self.server_cpu / self.wall

    @property
    def client_busy(self) -> float:
        """The busiest client process's CPU seconds over wall seconds."""
        return max(self.client_cpu) / self.wall
