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
"""

from __future__ import annotations

import statistics
import tempfile
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from loadtest.params import Params
from loadtest.report import Row, Target
from loadtest.results import Goal, Outcome, Side
from loadtest.rig import SATURATED, Connected, Rig, Window, finding
from loadtest.servers import SIDES, object_path
from loadtest.stats import Histogram, rate_over

__all__ = ["GOALS", "Figures", "Item", "figure_rows", "layout", "lost", "run_traffic"]

Item = tuple[str, str, int]
"""A socket to open: (URL path, role, room key)."""

MICRO = 1e6
#: Writers' tag numbers start here, members' at 0 (``clients.stamped``).
WRITER_NUMBERS = 1_000_000

GOALS: dict[str, tuple[Goal, ...]] = {
    "echo": (Goal("ratio", "at_least", 0.7, f"≥ 0.7{chr(0xD7)} bare echo"),),
    "fanout": (Goal("ratio", "at_least", 1.5, f"≥ 1.5{chr(0xD7)} websockets.broadcast"),),
}

_BASELINES = {
    "echo": "bare websockets echo",
    "fanout": "bare websockets.broadcast",
    "chat": "bare websockets, broadcast per room",
    "rpc": "bare websockets echo",
}
_HEADINGS = {
    "echo": "Echo through a handler (messages per second)",
    "fanout": "Broadcast fan-out to one room (deliveries per second)",
    "chat": "Chat: many rooms, many writers (deliveries per second)",
    "rpc": "RPC round trips over roost.v1 (round trips per second)",
}


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


def _connect(
    rig: Rig, side: str, params: Params, items: list[Item], writers: list[Item]
) -> Connected:
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
    run_options = params.run_options()
    with tempfile.TemporaryDirectory(prefix="roost-loadtest-") as tmp, ExitStack() as stack:
        rig = Rig(stack, SIDES, params.procs, tmp, progress=progress)
        for side in SIDES:
            connected[side] = _connect(rig, side, params, members, writers)
        for number in range(1, params.rounds + 1):
            order = SIDES if number % 2 else tuple(reversed(SIDES))
            for side in order:
                windows.append(rig.run(side, side, number, run_options))
        for side in SIDES:
            rig.close(side)
    return summarize(params, windows, connected, per_room)


@dataclass(slots=True)
class Figures:
    """One side's figures over its windows."""

    rate: float
    latency: Histogram
    connected: Connected
    errors: Counter[str]
    delivered: int
    server_user: float
    server_sys: float
    server_busy: float
    client_busy: float
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
            server_user=sum(w.server_user for w in done),
            server_sys=sum(w.server_sys for w in done),
            server_busy=statistics.median(w.server_busy for w in done),
            client_busy=statistics.median(w.client_busy for w in done),
            rss_max_kib=max(w.rss_max_kib for w in done),
        )

    def per_delivery(self, seconds: float) -> float:
        """``seconds`` of CPU per delivery, in µs."""
        return seconds / max(1, self.delivered) * MICRO

    def to_json(self) -> dict[str, object]:
        """The side's detail in the JSON document."""
        return {
            "latency_ms": self.latency.summary_ms(),
            "deliveries": self.delivered,
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
        }


def summarize(
    params: Params,
    windows: Sequence[Window],
    connected: dict[str, Connected],
    per_room: Counter[int],
) -> Outcome:
    """The outcome of a message scenario from its windows."""
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
    outcome.notes.append(
        "Windows (per second, in order): "
        + ", ".join(f"{w.side} {rate_over(w.series, w.warmup, w.seconds):,.0f}" for w in windows)
        + "."
    )
    return outcome


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
