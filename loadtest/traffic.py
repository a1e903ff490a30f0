"""The message scenarios: ``echo``, ``fanout``, ``chat`` and ``rpc``, Roost vs a bare server.

* ``echo``: every connection writes to its echo object (``--rooms`` of them) and gets
  each message back from ``websocket_message`` -> ``ws.send``; baseline: a bare
  websockets handler doing ``await ws.send(message)``.
* ``fanout``: ``--connections`` receivers and ``--writers`` (1) publisher in one room;
  Roost's ``ctx.broadcast``; baseline ``websockets.broadcast`` over the connections.
* ``chat``: the same in ``--rooms`` rooms, ``--writers`` writers in each; the baseline
  keeps one ``websockets.broadcast`` set per room (path).
* ``rpc``: every connection speaks ``roost.v1`` and calls ``echo(value)`` one call at a
  time; baseline: the bare echo server sent the same frames.

What is measured: messages delivered per second at the recipients (every member of the
room, the writer included; for ``echo`` and ``rpc`` the answers), counted from the
receipt times after each window's warm-up; latency from send to receipt at each
recipient (``rpc``: the caller's round trip); connect times; errors (failed
connections, sockets closed, messages lost: sent times members minus received). Roost
and the baseline take turns window by window, the order switching every round; the
figure is the median over windows, the ratio median over median. Both servers run in
processes of their own and idle while the other side is measured.

With ``--workers N [--gateways M]`` Roost runs as a cluster (``roost serve --workers N
--gateways M``, ``loadtest.cluster``) and its baseline is Roost in one process (the
server child), the bare server left out. Server CPU is then summed over the
supervisor, its gateways and workers. The headline with one worker is server CPU (user
+ system) per delivery, against one process (the issue's target: at most 1.3x); with
more workers, deliveries per second (pace the writers with ``--rate`` to compare at
the same offered load), and whether the machine's CPUs were the limit.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from loadtest.cluster import ClusterServer
from loadtest.contention import paired_ratios, spread
from loadtest.params import Params
from loadtest.report import Row, Target
from loadtest.results import Goal, Outcome, Side
from loadtest.rig import SATURATED, Connected, Rig, Window, finding
from loadtest.servers import CLUSTER, SIDES, object_path
from loadtest.stats import Histogram, rate_over

__all__ = [
    "CLUSTER_CPU_GOAL",
    "GOALS",
    "Figures",
    "Item",
    "cluster_label",
    "connect_side",
    "figure_rows",
    "layout",
    "lost",
    "offered",
    "run_traffic",
    "traffic_sides",
]

Item = tuple[str, str, int]
"""A socket to open: (URL path, role, room key)."""

MICRO = 1e6
#: Writers' tag numbers start here, members' at 0 (``frames.stamped``).
WRITER_NUMBERS = 1_000_000

GOALS: dict[str, tuple[Goal, ...]] = {
    "echo": (Goal("ratio", "at_least", 1.0, f"≥ 1.0{chr(0xD7)} bare echo"),),
    "fanout": (Goal("ratio", "at_least", 1.5, f"≥ 1.5{chr(0xD7)} websockets.broadcast"),),
}

#: With one worker: the cluster's server CPU per delivery at most 1.3x one process's.
CLUSTER_CPU_GOAL = Goal("ratio", "at_least", 1 / 1.3, f"≤ 1.3{chr(0xD7)} one process")

_BASELINES = {
    "echo": "bare websockets echo",
    "fanout": "bare websockets.broadcast",
    "chat": "bare websockets, broadcast per room",
    "rpc": "bare websockets echo",
}
_JOBS = {
    "echo": "`Echo.websocket_message` -> `ws.send(message)`",
    "rpc": "`roost.v1` `call` of `Echo.echo(value)`, answered by `result`",
    "fanout": "`ctx.broadcast(message)` in `Room.websocket_message`",
    "chat": "`ctx.broadcast(message)` in `Room.websocket_message`",
}
_HEADINGS = {
    "echo": "Echo through a handler (messages per second)",
    "fanout": "Broadcast fan-out to one room (deliveries per second)",
    "chat": "Chat: many rooms, many writers (deliveries per second)",
    "rpc": "RPC round trips over roost.v1 (round trips per second)",
}


def traffic_sides(params: Params) -> tuple[str, str]:
    """The servers compared: (Roost, bare server), or (cluster, Roost in one process)."""
    return (CLUSTER, "roost") if params.cluster else SIDES


def layout(params: Params) -> tuple[list[Item], list[Item]]:
    """The sockets of a run: (receivers, writers); writers connect after receivers."""
    n, m = params.connections, params.rooms
    if params.scenario in ("echo", "rpc"):
        role = "caller" if params.scenario == "rpc" else "writer"
        return [], [(object_path("echo", i % m), role, i) for i in range(n)]
    members = [(object_path("room", i % m), "member", i % m) for i in range(n)]
    writers = [
        (object_path("room", room), "writer", room)
        for _ in range(max(1, params.writers))
        for room in range(m)
    ]
    return members, writers


def lost(sent: Counter[int], received: Counter[int], members: Counter[int]) -> int:
    """Deliveries missing: for each room, messages sent times members, minus received."""
    return sum(max(0, sent[room] * members[room] - received[room]) for room in members)


def connect_side(
    rig: Rig, side: str, params: Params, items: list[Item], writers: list[Item]
) -> Connected:
    """Open the receivers (``items``), then the writers, to ``side``'s server."""
    options: dict[str, Any] = {
        "roost_v1": params.scenario == "rpc",
        "ramp": params.ramp,
        "sources": params.source_addresses(),
    }
    total = Connected()
    for batch, first in ((items, 0), (writers, WRITER_NUMBERS)):
        if not batch:
            continue
        got = rig.connect(side, side, batch, {**options, "first_number": first})
        total.opened += got.opened
        total.errors.update(got.errors)
        total.times.merge(got.times)
        total.seconds += got.seconds
    return total


def run_traffic(params: Params, *, progress: bool | None = None) -> Outcome:
    """Run ``echo``, ``fanout``, ``chat`` or ``rpc`` and compare the sides."""
    members, writers = layout(params)
    per_room = Counter(room for _, _, room in [*members, *writers])
    connected: dict[str, Connected] = {}
    windows: list[Window] = []
    run_options = params.run_options(settle=True)
    sides = traffic_sides(params)
    shape = (params.workers, params.gateway_count)
    with tempfile.TemporaryDirectory(prefix="roost-loadtest-") as tmp, ExitStack() as stack:
        rig = Rig(stack, sides, params.procs, tmp, progress=progress, shape=shape)
        for side in sides:
            connected[side] = connect_side(rig, side, params, members, writers)
        for number in range(1, params.rounds + 1):
            order = sides if number % 2 else tuple(reversed(sides))
            for side in order:
                windows.append(rig.run(side, side, number, run_options))
        for side in sides:
            rig.close(side)
        server = rig.servers.get(CLUSTER)
        by_process = server.cpu_by_process() if isinstance(server, ClusterServer) else {}
    outcome = summarize(params, windows, connected, per_room)
    if by_process:
        total = sum(by_process.values()) or 1.0
        outcome.notes.insert(
            -1,
            "Cluster CPU by process over the whole run (connects included): "
            + ", ".join(f"{k} {v:.1f} s ({v / total:.0%})" for k, v in by_process.items())
            + ".",
        )
        outcome.extra["cluster_cpu_seconds"] = by_process
    return outcome


@dataclass(slots=True)
class Figures:
    """One side's figures over its windows."""

    rate: float
    latency: Histogram
    connected: Connected
    errors: Counter[str]
    delivered: int
    sent: int
    #: Deliveries after the writers stopped: waited for (``rig`` rule 6), not lost.
    late: int
    server_user: float
    server_sys: float
    server_busy: float
    client_busy: float
    machine_busy: float
    rss_max_kib: int

    @classmethod
    def of(cls, done: Sequence[Window], connected: Connected, per_room: Counter[int]) -> Figures:
        """The figures of ``done`` windows of one side."""
        latency = Histogram()
        errors: Counter[str] = Counter(connected.errors)
        for w in done:
            latency.merge(w.latency)
            errors.update(w.errors)
            missing = lost(w.sent, w.received, per_room)
            if missing:
                errors["lost_messages"] += missing
        return cls(
            rate=statistics.median(rate_over(w.series, w.warmup, w.seconds) for w in done),
            latency=latency,
            connected=connected,
            errors=errors,
            delivered=sum(w.delivered for w in done),
            sent=sum(sum(w.sent.values()) for w in done),
            late=sum(w.late for w in done),
            server_user=sum(w.server_user for w in done),
            server_sys=sum(w.server_sys for w in done),
            server_busy=statistics.median(w.server_busy for w in done),
            client_busy=statistics.median(w.client_busy for w in done),
            machine_busy=statistics.median(w.machine_busy for w in done),
            rss_max_kib=max(w.rss_max_kib for w in done),
        )

    def per_delivery(self, seconds: float) -> float:
        """``seconds`` of CPU per delivery, in µs."""
        return seconds / max(1, self.delivered) * MICRO

    @property
    def cpu_per_delivery(self) -> float:
        """Server CPU, user plus system, per delivery, in µs."""
        return self.per_delivery(self.server_user + self.server_sys)

    @property
    def cpu_per_message(self) -> float:
        """Server CPU, user plus system, per message sent (or call made), in µs."""
        return (self.server_user + self.server_sys) / max(1, self.sent) * MICRO

    def to_json(self) -> dict[str, object]:
        """The side's detail in the JSON document."""
        return {
            "latency_ms": self.latency.summary_ms(),
            "deliveries": self.delivered,
            "late": self.late,
            "connect": {
                "opened": self.connected.opened,
                "per_second": self.connected.rate,
                "ms": self.connected.times.summary_ms(),
            },
            "errors": dict(self.errors),
            "server": {
                "cpu_seconds": self.server_user + self.server_sys,
                "user_us_per_delivery": self.per_delivery(self.server_user),
                "sys_us_per_delivery": self.per_delivery(self.server_sys),
                "busy": self.server_busy,
                "rss_max_kib": self.rss_max_kib,
            },
            "busiest_client_busy": self.client_busy,
            "machine_busy_cpus": self.machine_busy,
            "sent": self.sent,
        }


def summarize(
    params: Params,
    windows: Sequence[Window],
    connected: dict[str, Connected],
    per_room: Counter[int],
) -> Outcome:
    """The outcome of a message scenario from its windows."""
    if params.cluster:
        return summarize_cluster(params, windows, connected, per_room)
    scenario = params.scenario
    unit = "calls/s" if scenario == "rpc" else "msg/s"
    by = {side: [w for w in windows if w.side == side] for side in SIDES}
    figures = {side: Figures.of(by[side], connected[side], per_room) for side in SIDES}
    errors = {f"{side}:{k}": v for side in SIDES for k, v in figures[side].errors.items()}
    sides = {
        side: Side(
            "Roost" if side == "roost" else _BASELINES[scenario],
            figures[side].rate,
            unit,
            figures[side].to_json(),
        )
        for side in SIDES
    }
    findings = [
        finding(side, figures[side].server_busy * 100, figures[side].client_busy * 100)
        for side in SIDES
    ]
    outcome = Outcome(
        scenario=scenario,
        label=scenario,
        params=params.to_json(),
        roost=sides["roost"],
        baseline=sides["baseline"],
        higher_is_better=True,
        goals=GOALS.get(scenario, ()),
        errors=errors,
        client_saturated=figures["roost"].client_busy >= SATURATED,
        heading=_HEADINGS[scenario],
        sizes=_sizes(params),
        notes=[_method(params), "Saturation: " + "; ".join(findings) + "."],
        extra={"windows": [_window_json(w) for w in windows], "findings": findings},
        rows=figure_rows(params, figures["roost"], figures["baseline"], unit, len(by["roost"])),
        latency={side: figures[side].latency for side in SIDES},
        series={side: by[side][-1].series for side in SIDES},
    )
    outcome.notes.append(_windows_note(windows))
    return outcome


def _windows_note(windows: Sequence[Window]) -> str:
    return (
        "Windows (per second, in order): "
        + ", ".join(f"{w.side} {rate_over(w.series, w.warmup, w.seconds):,.0f}" for w in windows)
        + "."
    )


def cluster_label(params: Params) -> str:
    """``echo-cluster`` (one worker, one gateway) or ``chat-cluster-2x2`` (workers x
    gateways): the name of its section in RESULTS.md."""
    if (params.workers, params.gateway_count) == (1, 1):
        return f"{params.scenario}-cluster"
    return f"{params.scenario}-cluster-{params.workers}x{params.gateway_count}"


def _shape(params: Params) -> str:
    return f"{params.workers} worker(s), {params.gateway_count} gateway(s)"


def summarize_cluster(
    params: Params,
    windows: Sequence[Window],
    connected: dict[str, Connected],
    per_room: Counter[int],
) -> Outcome:
    """The outcome of a message scenario whose Roost ran as a cluster, against Roost in
    one process: CPU per delivery with one worker, deliveries per second with more."""
    scenario = params.scenario
    unit = "calls/s" if scenario == "rpc" else "msg/s"
    sides = traffic_sides(params)
    by = {side: [w for w in windows if w.side == side] for side in sides}
    figures = {side: Figures.of(by[side], connected[side], per_room) for side in sides}
    errors = {f"{side}:{k}": v for side in sides for k, v in figures[side].errors.items()}
    c, one = figures[CLUSTER], figures["roost"]
    names = {CLUSTER: f"Roost cluster, {_shape(params)}", "roost": "Roost, one process"}
    by_cpu = params.workers == 1
    if by_cpu:
        headline = {side: (figures[side].cpu_per_delivery, "µs CPU/msg") for side in sides}
    else:
        headline = {side: (figures[side].rate, unit) for side in sides}
    side_of = {side: Side(names[side], *headline[side], figures[side].to_json()) for side in sides}
    findings = [
        finding(
            "cluster (all its processes)" if side == CLUSTER else "one process",
            figures[side].server_busy * 100,
            figures[side].client_busy * 100,
        )
        + f"; the machine {figures[side].machine_busy * 100:.0f}% busy of "
        f"{_cpus() * 100}% (server, clients and other work)"
        for side in sides
    ]
    outcome = Outcome(
        scenario=scenario,
        label=cluster_label(params),
        params=params.to_json(),
        roost=side_of[CLUSTER],
        baseline=side_of["roost"],
        higher_is_better=not by_cpu,
        goals=(CLUSTER_CPU_GOAL,) if by_cpu else (),
        errors=errors,
        client_saturated=(not by_cpu) and c.client_busy >= SATURATED,
        heading=_HEADINGS[scenario] + f": Roost as a cluster ({_shape(params)}) vs one process",
        sizes=f"Roost cluster of {_shape(params)} vs one process: " + _sizes(params),
        notes=[
            _cluster_method(params),
            "Saturation (server CPU summed over the cluster's processes; it may pass 100 %): "
            + "; ".join(findings)
            + ".",
        ],
        extra={"windows": [_window_json(w) for w in windows], "findings": findings},
        rows=cluster_rows(params, c, one, unit, len(by[CLUSTER])),
        latency={"roost": c.latency, "baseline": one.latency},
        series={"roost": by[CLUSTER][-1].series, "baseline": by["roost"][-1].series},
    )
    if params.rate:
        outcome.notes.append(_paced_note(params, per_room, c, one))
    ratios = paired_ratios(
        windows,
        lambda w: w.round,
        lambda w: w.side,
        lambda w: w.server_cpu / max(1, w.delivered),
        CLUSTER,
        "roost",
    )
    outcome.notes.append(
        "Server CPU per delivery, cluster / one process, round by round: " + spread(ratios) + "."
    )
    outcome.notes.append(_windows_note(windows))
    return outcome


def offered(params: Params, per_room: Counter[int]) -> float:
    """Deliveries a second the paced writers ask for: each writer's ``rate`` times the
    sockets of its room (0 when unpaced)."""
    _, writers = layout(params)
    per_writer = Counter(room for _, _, room in writers)
    return params.rate * sum(count * per_room[room] for room, count in per_writer.items())


def _paced_note(params: Params, per_room: Counter[int], c: Figures, one: Figures) -> str:
    asked = offered(params, per_room)
    cpus = _cpus()
    return (
        f"Paced: {asked:,.0f} deliveries/s offered ({params.rate:g} msg/s per writer, at "
        f"most {params.window} in flight); delivered: cluster {c.rate:,.0f}/s "
        f"({c.rate / asked:.0%}), one process {one.rate:,.0f}/s ({one.rate / asked:.0%}). "
        f"Server CPU per delivery: cluster {c.cpu_per_delivery:.2f} µs, one process "
        f"{one.cpu_per_delivery:.2f} µs ({c.cpu_per_delivery / one.cpu_per_delivery:.2f}"
        f"{chr(0xD7)}); the machine ({cpus} CPUs) was {c.machine_busy / cpus:.0%} busy in "
        f"the cluster's windows, {one.machine_busy / cpus:.0%} in one process's."
    )


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cluster_rows(params: Params, c: Figures, one: Figures, unit: str, windows: int) -> list[Row]:
    """The detail rows of a message scenario run against a cluster (``c``) and Roost in
    one process (``one``)."""
    word = "one process"
    cpu_target = Target("ratio", "at_most", 1.3) if params.workers == 1 else None
    rows = [
        Row(
            "server CPU (user + system) per delivery, summed over the cluster's processes",
            c.cpu_per_delivery,
            one.cpu_per_delivery,
            "µs",
            cpu_target,
            baseline_word=word,
        ),
        Row(
            "server CPU per message sent (info)",
            c.cpu_per_message,
            one.cpu_per_message,
            "µs",
            baseline_word=word,
        ),
        Row(
            f"{unit}, {params.connections} connections (median of {windows} windows)",
            c.rate,
            one.rate,
            unit,
            baseline_word=word,
        ),
    ]
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        rows.append(
            Row(
                f"latency {name}, send to receipt (info)",
                c.latency.quantile(q) * 1e3,
                one.latency.quantile(q) * 1e3,
                "ms",
                baseline_word=word,
            )
        )
    rows += [
        Row(
            "server user CPU per delivery (info)",
            c.per_delivery(c.server_user),
            one.per_delivery(one.server_user),
            "µs",
            baseline_word=word,
        ),
        Row(
            "server system CPU per delivery (info)",
            c.per_delivery(c.server_sys),
            one.per_delivery(one.server_sys),
            "µs",
            baseline_word=word,
        ),
        Row(
            "server CPU busy, all processes (info)",
            c.server_busy * 100,
            one.server_busy * 100,
            "%",
            baseline_word=word,
        ),
        Row(
            f"busiest of {params.procs} client process(es), CPU busy (info)",
            c.client_busy * 100,
            one.client_busy * 100,
            "%",
            baseline_word=word,
        ),
        Row(
            "machine CPU busy: server, clients and other work (info)",
            c.machine_busy * 100,
            one.machine_busy * 100,
            "%",
            baseline_word=word,
        ),
        Row(
            "server RSS, largest sample, all processes (info)",
            c.rss_max_kib / 1024,
            one.rss_max_kib / 1024,
            "MiB",
            baseline_word=word,
        ),
        Row(
            "connect time p50, TCP + handshake (info)",
            c.connected.times.quantile(0.5) * 1e3,
            one.connected.times.quantile(0.5) * 1e3,
            "ms",
            baseline_word=word,
        ),
    ]
    return rows


def _cluster_method(params: Params) -> str:
    return (
        f"Roost cluster: `roost serve APP --workers {params.workers} --gateways "
        f"{params.gateway_count}` in a subprocess (APP: the same object classes); server "
        "CPU is user + system from /proc summed over the supervisor, every gateway and "
        "worker (the time of reaped children included), RSS summed likewise. Baseline: the "
        "same objects served by Roost in one process (`hub.Hub.serve`, the other scenarios' "
        f"Roost side). Objects: {_JOBS[params.scenario]}. Same client processes and code "
        "for both, uvloop everywhere; both servers run "
        "throughout and take turns, idle while the other is measured. Rate = receipts "
        "counted after the warm-up / seconds; latency = receipt time - send time stamped in "
        "the message."
    )


def figure_rows(params: Params, r: Figures, b: Figures, unit: str, windows: int) -> list[Row]:
    """The detail rows of a message scenario (RESULTS.md)."""
    goals = GOALS.get(params.scenario, ())
    target = Target("ratio", goals[0].bound, goals[0].limit) if goals else None
    rows = [
        Row(
            f"{unit}, {params.connections} connections (median of {windows} windows)",
            r.rate,
            b.rate,
            unit,
            target,
        )
    ]
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        rows.append(
            Row(
                f"latency {name}, send to receipt (info)",
                r.latency.quantile(q) * 1e3,
                b.latency.quantile(q) * 1e3,
                "ms",
            )
        )
    r_cpu, b_cpu = r.server_user + r.server_sys, b.server_user + b.server_sys
    rows += [
        Row(
            "deliveries per server CPU-second (info; insensitive to CPU sharing)",
            r.delivered / r_cpu if r_cpu else 0.0,
            b.delivered / b_cpu if b_cpu else 0.0,
            "msg/s",
        ),
        Row(
            "server user CPU per delivery (info)",
            r.per_delivery(r.server_user),
            b.per_delivery(b.server_user),
            "µs",
        ),
        Row(
            "server system CPU per delivery (info)",
            r.per_delivery(r.server_sys),
            b.per_delivery(b.server_sys),
            "µs",
        ),
        Row("deliveries late, waited for after the window (info)", r.late, b.late, "msgs"),
        Row("server process CPU busy (info)", r.server_busy * 100, b.server_busy * 100, "%"),
        Row(
            f"busiest of {params.procs} client process(es), CPU busy (info)",
            r.client_busy * 100,
            b.client_busy * 100,
            "%",
        ),
        Row("server RSS, largest sample (info)", r.rss_max_kib / 1024, b.rss_max_kib / 1024, "MiB"),
        Row(
            "connect time p50, TCP + handshake (info)",
            r.connected.times.quantile(0.5) * 1e3,
            b.connected.times.quantile(0.5) * 1e3,
            "ms",
        ),
        Row(
            "connect time p99 (info)",
            r.connected.times.quantile(0.99) * 1e3,
            b.connected.times.quantile(0.99) * 1e3,
            "ms",
        ),
    ]
    return rows


def _sizes(params: Params) -> str:
    p = params
    windows = (
        f"{p.rounds} window(s) of {p.window_seconds:g} s a side "
        f"({p.warmup_seconds:g} s warm-up each)"
    )
    pace = f"{p.rate:g}/s per writer" if p.rate else "unpaced"
    if p.scenario in ("echo", "rpc"):
        what = "call" if p.scenario == "rpc" else "message"
        return (
            f"{p.connections} connections over {p.rooms} objects, each with {p.window} "
            f"{what}(s) in flight of {p.size} bytes, {pace}; {windows}; {p.procs} client "
            "process(es)"
        )
    return (
        f"{p.connections} receivers over {p.rooms} room(s) + {max(1, p.writers)} writer(s) a "
        f"room, {p.window} message(s) in flight per writer, {p.size} bytes, {pace}; "
        f"{windows}; {p.procs} client process(es)"
    )


def _method(params: Params) -> str:
    scenario = params.scenario
    if scenario == "echo":
        what = (
            "Roost: `websocket_message` -> `ws.send(message)` on object `Echo`; baseline: a bare "
            "`websockets.asyncio.server.serve` handler doing `await ws.send(message)`."
        )
    elif scenario == "rpc":
        what = (
            'Roost: `{"t":"call","id":N,"method":"echo","args":[V]}` on a `roost.v1` socket '
            "(after `hello`) to `Echo.echo(value: str) -> str`, answered by `result` once its "
            "event committed; baseline: the bare echo server sent the very same frames."
        )
    else:
        what = (
            "Roost: `ctx.broadcast(message)` in `Room.websocket_message`; baseline: a bare "
            "`websockets.asyncio.server.serve` handler calling `websockets.broadcast` over "
            "the connections of its path (room)."
        )
    return (
        what + " Same client code (sans-I/O handshake, frames built and read by hand) and "
        "uvloop on both sides; each server in its own process, the clients in others; no "
        "compression, no pings. Rate = receipts counted after the warm-up / seconds; a "
        "writer sends message k+window only once its own copy of message k came back. "
        "Latency = receipt time - send time stamped in the message (one monotonic clock)."
    )


def _window_json(w: Window) -> dict[str, object]:
    return {
        "side": w.side,
        "round": w.round,
        "seconds": w.seconds,
        "rate": rate_over(w.series, w.warmup, w.seconds),
        "delivered": w.delivered,
        "errors": dict(w.errors),
        "server_busy": w.server_busy,
        "client_busy": w.client_busy,
        "others_cpu": w.others_share,
        "rss_max_kib": w.rss_max_kib,
        "latency_ms": w.latency.summary_ms(),
    }
