"""The parent's side of a scenario: servers and client processes, and measured windows.

Rules:

1. ``Rig`` starts the servers of the sides it is given and ``procs`` client processes,
   and stops every one of them on every path (an ``ExitStack``). Sockets are dealt
   round-robin over the client processes.
2. A window (``Rig.run``) starts every client process at one ``time.monotonic()``
   instant a little ahead, reads the CPU time of every process and of the whole machine
   around it (``/proc``), and samples the server's RSS while waiting. Its outcome is
   merged over the processes (``Window``).
3. While waiting, the parent prints one live progress line (connections open, messages
   per second, errors) only when stdout is a terminal (``Progress``).
4. A process busy at least ``SATURATED`` of the wall time is taken as saturated: the
   server limits a window when its process was; the client side when a client process
   was (then Roost's figure is a lower bound, and the result says so).
5. The side ``cluster`` is Roost served by ``roost serve --workers N --gateways M``
   (``loadtest.cluster.ClusterServer``, given ``shape=(N, M)``): it answers the same
   calls as a server child, and its CPU and RSS are summed over all its processes.
6. With the run option ``settle`` (the message scenarios), a window ends once every
   client process has received every message sent to its sockets' rooms, or
   ``SETTLE_LIMIT`` passed (``Rig.settle``): a frame still in flight when the writers
   stopped is waited for and counted late (``Window.late``), and only one that never
   came is lost. The CPU reading closes after it.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import wait as connection_wait
from pathlib import Path
from typing import Any, Protocol

from loadtest.client_process import PROGRESS_FIELDS, client_main
from loadtest.cluster import ClusterServer
from loadtest.contention import Meter
from loadtest.process import Child, ChildError, CpuShares, Message
from loadtest.servers import CLUSTER, server_main
from loadtest.stats import Histogram, add_series

__all__ = [
    "SATURATED",
    "Connected",
    "Progress",
    "Rig",
    "Server",
    "Window",
    "deal",
    "finding",
]

#: A process busy this share of the wall time is taken as saturated (rule 4).
SATURATED = 0.9
#: Seconds between two progress lines / RSS samples while waiting.
POLL = 0.25
#: Seconds between the start command and the common start instant (rule 2).
LEAD = 0.3
#: The most seconds to wait for deliveries still in flight at a window's end (rule 6).
SETTLE_LIMIT = 30.0


class Server(Protocol):
    """A server under test: a server child (``loadtest.servers``) or a cluster (rule 5)."""

    name: str
    ready: Message

    @property
    def pid(self) -> int:
        """The process id (of the supervisor, for a cluster)."""
        ...

    def cpu(self) -> tuple[float, float]:
        """User and system CPU seconds so far."""
        ...

    def rss(self) -> int:
        """Resident set size in KiB."""
        ...

    def call(self, *message: Any, timeout: float = 30.0, expect: str | None = None) -> Message:
        """A command and its reply."""
        ...

    def stop(self, timeout: float = 10.0) -> None:
        """Stop it."""
        ...


def deal(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """``items`` dealt round-robin into ``parts`` lists."""
    return [list(items[i::parts]) for i in range(parts)]


class Progress:
    """One live line on a terminal: connections open, messages per second, errors."""

    def __init__(self, arrays: Sequence[Any], enabled: bool | None = None) -> None:
        self._arrays = arrays
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self._last: tuple[float, int] | None = None
        self.label = ""

    def totals(self) -> dict[str, int]:
        """The client processes' running totals, added up."""
        return {
            name: sum(int(a[i]) for a in self._arrays) for i, name in enumerate(PROGRESS_FIELDS)
        }

    def show(self) -> None:
        """Print the line (only on a terminal, rule 3)."""
        if not self.enabled:
            return
        now = time.monotonic()
        totals = self.totals()
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (totals["delivered"] - self._last[1]) / (now - self._last[0])
        self._last = (now, totals["delivered"])
        line = (
            f"\r{self.label:<28} open {totals['opened']:>7,}  msgs/s {rate:>10,.0f}  "
            f"sent {totals['sent']:>9,}  errors {totals['errors']:,}"
        )
        sys.stdout.write(line + "\x1b[K")
        sys.stdout.flush()

    def done(self) -> None:
        """End the line."""
        if self.enabled:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._last = None


@dataclass(slots=True)
class Connected:
    """What opening a set of sockets gave, over every client process."""

    opened: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    times: Histogram = field(default_factory=Histogram)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Sockets opened per second (over the slowest process)."""
        return self.opened / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class Window(CpuShares):
    """One measured window of one side, merged over the client processes."""

    side: str
    round: int
    wall: float
    warmup: float
    delivered: int
    received: Counter[int]
    sent: Counter[int]
    errors: Counter[str]
    latency: Histogram
    series: list[int]
    server_user: float
    server_sys: float
    client_cpu: list[float]
    others: float
    rss_max_kib: int
    #: What each client process answered, as it came (scenarios read more of it).
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds between the CPU readings around the window (its lead and drain included).
    elapsed: float = 0.0
    #: Deliveries that came after the writers stopped, waited for (``Rig.settle``).
    late: int = 0

    @property
    def seconds(self) -> float:
        """The window's wall seconds."""
        return self.wall

    @property
    def measured(self) -> float:
        """Seconds of the window the figures count (after the warm-up)."""
        return self.seconds - self.warmup

    @property
    def others_share(self) -> float:
        """CPU seconds of other work on the machine over wall seconds (in CPUs)."""
        return self.others / self.seconds

    @property
    def machine_busy(self) -> float:
        """CPU seconds of every process (server, clients, other work) between the CPU
        readings, over the seconds between them: in CPUs, at most the machine's count."""
        busy = self.server_cpu + sum(self.client_cpu) + self.others
        return busy / (self.elapsed or self.seconds)


class Rig:
    """Servers of ``sides`` and ``procs`` client processes (rule 1)."""

    def __init__(
        self,
        stack: ExitStack,
        sides: Sequence[str],
        procs: int,
        data_dir: str,
        *,
        progress: bool | None = None,
        shape: tuple[int, int] = (0, 0),
    ) -> None:
        self.servers: dict[str, Server] = {}
        self.shape = shape
        for side in sides:
            self.start_server(stack, side, data_dir)
        context = multiprocessing.get_context("spawn")
        self.arrays = [context.Array("q", len(PROGRESS_FIELDS), lock=False) for _ in range(procs)]
        self.clients: list[Child] = []
        for index, shared in enumerate(self.arrays):
            client = Child(f"client {index}", client_main, shared)
            stack.callback(client.stop)
            self.clients.append(client)
        self.progress = Progress(self.arrays, progress)
        self.meter = Meter([*self.servers.values(), *self.clients])

    def start_server(self, stack: ExitStack, side: str, data_dir: str) -> Server:
        """Start (or restart) the server of ``side`` (rule 5 for ``cluster``)."""
        server: Server
        if side == CLUSTER:
            workers, gateways = self.shape
            directory = Path(data_dir) / f"cluster-{len(self.servers)}"
            server = ClusterServer(
                f"cluster server ({workers} workers, {gateways} gateways)",
                directory,
                workers,
                max(1, gateways),
            )
        else:
            server = Child(f"{side} server", server_main, side, data_dir)
        stack.callback(server.stop)
        self.servers[side] = server
        if hasattr(self, "meter"):
            self.meter = Meter([*self.servers.values(), *self.clients])
        return server

    def stop_server(self, side: str) -> None:
        """Stop the server of ``side`` (its stack callback then has nothing left to do)."""
        self.servers.pop(side).stop()

    def port(self, side: str) -> int:
        """The port the server of ``side`` listens on."""
        return int(self.servers[side].ready[1])

    def wait(
        self,
        children: Sequence[Child],
        expect: str,
        timeout: float,
        on_tick: Callable[[], None] | None = None,
    ) -> list[Message]:
        """The next reply of every child in ``children``, showing progress meanwhile."""
        replies: dict[int, Message] = {}
        deadline = time.monotonic() + timeout
        while True:
            for index, child in enumerate(children):
                if index not in replies and child.poll():
                    replies[index] = child.receive(1.0, expect)
            if len(replies) == len(children):
                break
            if time.monotonic() > deadline:
                raise ChildError(f"no {expect!r} from every client within {timeout:g} s")
            if on_tick is not None:
                on_tick()
            self.progress.show()
            waiting = [c.connection for i, c in enumerate(children) if i not in replies]
            connection_wait(waiting, POLL)
        self.progress.show()
        return [replies[i] for i in range(len(children))]

    def connect(
        self,
        side: str,
        group: str,
        items: Sequence[tuple[str, str, int]],
        options: dict[str, Any],
        *,
        timeout: float = 600.0,
    ) -> Connected:
        """Open ``items`` (``(path, role, room)``) to ``side``'s server over the clients."""
        self.progress.label = f"{side}: connecting"
        port = self.port(side)
        parts = deal(items, len(self.clients))
        ramp = float(options.get("ramp") or 0.0) / len(self.clients)
        first = int(options.get("first_number", 0))
        for index, (client, part) in enumerate(zip(self.clients, parts, strict=True)):
            opts = {**options, "ramp": ramp, "first_number": first + index * len(items)}
            client.send("connect", group, "127.0.0.1", port, part, opts)
        connected = Connected()
        for reply in self.wait(self.clients, "connect", timeout):
            _, opened, errors, times, seconds = reply
            connected.opened += opened
            connected.errors.update(errors)
            connected.times.merge(Histogram.from_wire(times))
            connected.seconds = max(connected.seconds, seconds)
        self.progress.done()
        return connected

    def run(
        self,
        side: str,
        group: str,
        number: int,
        options: dict[str, Any],
        *,
        extra: float = 60.0,
    ) -> Window:
        """One measured window of ``side`` (rule 2)."""
        self.progress.label = f"{side}: round {number}"
        server = self.servers[side]
        seconds = float(options["seconds"])
        start = time.monotonic() + LEAD
        procs = [server, *self.clients]
        read_at = time.monotonic()
        before = [proc.cpu() for proc in procs]
        self.meter.start()
        for client in self.clients:
            client.send("run", group, {**options, "start": start})
        rss = [server.rss()]
        replies = self.wait(self.clients, "done", seconds + extra, lambda: rss.append(server.rss()))
        outcomes = [reply[1] for reply in replies]
        settled = self.settle(group, outcomes) if options.get("settle") else [{}] * len(outcomes)
        after = [proc.cpu() for proc in procs]
        others = self.meter.others()
        elapsed = time.monotonic() - read_at
        self.progress.done()
        window = Window(
            side=side,
            round=number,
            wall=seconds,
            warmup=float(options.get("warmup", 0.0)),
            delivered=0,
            received=Counter(),
            sent=Counter(),
            errors=Counter(),
            latency=Histogram(),
            series=[],
            server_user=after[0][0] - before[0][0],
            server_sys=after[0][1] - before[0][1],
            client_cpu=[sum(b) - sum(a) for a, b in zip(before[1:], after[1:], strict=True)],
            others=others,
            rss_max_kib=max(rss),
            elapsed=elapsed,
        )
        series = []
        for reply, counts in zip(replies, settled, strict=True):
            outcome: dict[str, Any] = {**reply[1], **counts}
            window.outcomes.append(outcome)
            window.late += outcome.get("late", 0)
            window.delivered += outcome["delivered"]
            window.received.update(outcome["received"])
            window.sent.update(outcome["sent"])
            window.errors.update(outcome["errors"])
            window.latency.merge(Histogram.from_wire(outcome["latency"]))
            series.append(outcome["series"])
        window.series = add_series(series)
        return window

    def settle(self, group: str, outcomes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Wait, bounded, for the messages still in flight when a window ended (rule 6);
        each client process's counts then (``delivered``, ``late``, ``received``)."""
        sent: Counter[int] = Counter()
        for outcome in outcomes:
            sent.update({int(room): count for room, count in outcome["sent"].items()})
        for client in self.clients:
            client.send("settle", group, dict(sent), SETTLE_LIMIT)
        replies = self.wait(self.clients, "settled", SETTLE_LIMIT + 30.0)
        return [reply[1] for reply in replies]

    def close(self, group: str) -> None:
        """Close the sockets of ``group`` in every client process."""
        for client in self.clients:
            client.send("close", group)
        self.wait(self.clients, "close", 60.0)


def finding(label: str, server: float, client: float, client_bound: str | None = None) -> str:
    """Which process limited ``label``'s windows, from median CPU busy percentages (rule 4)."""
    busy = f"server process {server:.0f}% CPU, busiest client process {client:.0f}%"
    if server >= SATURATED * 100:
        headroom = (
            f"; the client side was near saturation too (≥ {SATURATED:.0%})"
            if client >= SATURATED * 100
            else ""
        )
        return f"{label} server-bound ({busy}){headroom}"
    if client >= SATURATED * 100:
        why = client_bound or (
            "the client side saturated, so this figure is a lower bound; more --procs "
            "need more CPUs"
        )
        return f"{label} CLIENT-BOUND ({busy}): {why}"
    return (
        f"{label} saturated neither process ({busy}): latency-bound (writers wait for "
        "their own messages) or other work on the CPUs"
    )
