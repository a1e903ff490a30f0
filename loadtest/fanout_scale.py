"""``fanout-scale``: does fan-out cost the same per delivery in a room ten times larger?

Two Roost servers run in the same run, each with one room: ``--connections`` (10,000)
receivers in one, ``--compare`` (1,000) in the other, each with ``--writers`` (1) writer
keeping ``--window`` messages in flight (``Room.websocket_message`` ->
``ctx.broadcast``). They take turns window by window, as Roost and a baseline do in
``fanout``. The headline is server CPU (user + system) per delivery in the large room
over that in the small one; the target (issue 15) is at most 1.2x. Deliveries still in
flight when a window ends are waited for and counted late, not lost (``loadtest.rig``
rule 6). 10,000 sockets need ``--procs`` client processes under their open-file limit
and ``--sources`` local addresses for ephemeral ports (defaults 2 and 2).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace

from loadtest.contention import paired_ratios, spread
from loadtest.params import Params
from loadtest.report import Row, Target
from loadtest.results import Check, Goal, Outcome, Side
from loadtest.rig import SATURATED, Connected, Rig, Window, finding
from loadtest.servers import ROOST_COMPARE
from loadtest.traffic import Figures, connect_side, layout

__all__ = ["LARGE", "LIMIT", "SMALL", "goal", "run_fanout_scale"]

#: The sides: the large room's Roost server and the small room's.
LARGE, SMALL = "roost", ROOST_COMPARE
#: CPU per delivery at ``connections`` at most this times that at ``compare`` (issue 15).
LIMIT = 1.2
UNIT = "µs CPU/delivery"


def run_fanout_scale(params: Params, *, progress: bool | None = None) -> Outcome:
    """Run both room sizes, each on its own Roost server, and compare their CPU."""
    sized = {LARGE: params, SMALL: replace(params, connections=params.compare)}
    per_room: dict[str, Counter[int]] = {}
    connected: dict[str, Connected] = {}
    windows: list[Window] = []
    sides = (LARGE, SMALL)
    with tempfile.TemporaryDirectory(prefix="roost-loadtest-") as tmp, ExitStack() as stack:
        rig = Rig(stack, sides, params.procs, tmp, progress=progress)
        for side in sides:
            members, writers = layout(sized[side])
            per_room[side] = Counter(room for _, _, room in [*members, *writers])
            connected[side] = connect_side(rig, side, sized[side], members, writers)
        options = params.run_options(settle=True)
        for number in range(1, params.rounds + 1):
            for side in sides if number % 2 else tuple(reversed(sides)):
                windows.append(rig.run(side, side, number, options))
        for side in sides:
            rig.close(side)
    return summarize(params, windows, connected, per_room)


def goal(params: Params) -> Goal:
    """The target: the oriented ratio (small / large) at least 1 / ``LIMIT``."""
    text = f"≤ {LIMIT:g}{chr(0xD7)} the CPU per delivery at {params.compare:,} receivers"
    return Goal("ratio", "at_least", 1 / LIMIT, text)


def _name(count: int) -> str:
    return f"Roost, {count:,} receivers"


def summarize(
    params: Params,
    windows: list[Window],
    connected: dict[str, Connected],
    per_room: dict[str, Counter[int]],
) -> Outcome:
    """The outcome: CPU per delivery of the large room against the small one's."""
    by = {side: [w for w in windows if w.side == side] for side in (LARGE, SMALL)}
    figures = {
        side: Figures.of(by[side], connected[side], per_room[side]) for side in (LARGE, SMALL)
    }
    big, small = figures[LARGE], figures[SMALL]
    counts = {LARGE: params.connections, SMALL: params.compare}
    errors = {f"{counts[s]}:{k}": v for s in (LARGE, SMALL) for k, v in figures[s].errors.items()}
    findings = [
        finding(
            f"{counts[s]:,} receivers", figures[s].server_busy * 100, figures[s].client_busy * 100
        )
        for s in (LARGE, SMALL)
    ]
    ratios = paired_ratios(
        windows,
        lambda w: w.round,
        lambda w: w.side,
        lambda w: w.server_cpu / max(1, w.delivered),
        LARGE,
        SMALL,
    )
    return Outcome(
        scenario=params.scenario,
        label=params.scenario,
        params=params.to_json(),
        roost=Side(_name(params.connections), big.cpu_per_delivery, UNIT, big.to_json()),
        baseline=Side(_name(params.compare), small.cpu_per_delivery, UNIT, small.to_json()),
        higher_is_better=False,
        goals=(goal(params),),
        checks=[
            Check(f"deliveries lost at {counts[s]:,} receivers", figures[s].errors["lost_messages"])
            for s in (LARGE, SMALL)
        ],
        errors=errors,
        client_saturated=False,
        heading="Fan-out at scale: server CPU per delivery, a large room against a small one",
        sizes=_sizes(params),
        notes=[
            _method(params),
            "Saturation: " + "; ".join(findings) + ".",
            "Server CPU per delivery, large / small room, round by round: " + spread(ratios) + ".",
        ],
        extra={"findings": findings},
        rows=_rows(params, big, small, len(by[LARGE])),
        latency={"roost": big.latency, "baseline": small.latency},
        series={"roost": by[LARGE][-1].series, "baseline": by[SMALL][-1].series},
    )


def _rows(params: Params, big: Figures, small: Figures, windows: int) -> list[Row]:
    word = f"{params.compare:,} receivers"

    def row(name: str, large: float, little: float, unit: str, target: Target | None = None) -> Row:
        return Row(name, large, little, unit, target, baseline_word=word)

    rows = [
        row(
            "server CPU (user + system) per delivery",
            big.cpu_per_delivery,
            small.cpu_per_delivery,
            "µs",
            Target("ratio", "at_most", LIMIT),
        ),
        row(
            "server user CPU per delivery (info)",
            big.per_delivery(big.server_user),
            small.per_delivery(small.server_user),
            "µs",
        ),
        row(
            "server system CPU per delivery (info)",
            big.per_delivery(big.server_sys),
            small.per_delivery(small.server_sys),
            "µs",
        ),
        row(f"msg/s delivered (median of {windows} windows, info)", big.rate, small.rate, "msg/s"),
        row("deliveries late, waited for after the window (info)", big.late, small.late, "msgs"),
    ]
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        rows.append(
            row(
                f"latency {name}, send to receipt (info)",
                big.latency.quantile(q) * 1e3,
                small.latency.quantile(q) * 1e3,
                "ms",
            )
        )
    rows += [
        row("server process CPU busy (info)", big.server_busy * 100, small.server_busy * 100, "%"),
        row(
            f"busiest of {params.procs} client process(es), CPU busy (info)",
            big.client_busy * 100,
            small.client_busy * 100,
            "%",
        ),
        row(
            "server RSS, largest sample (info)",
            big.rss_max_kib / 1024,
            small.rss_max_kib / 1024,
            "MiB",
        ),
    ]
    return rows


def _sizes(params: Params) -> str:
    p = params
    return (
        f"{p.connections:,} vs {p.compare:,} receivers in one room + {max(1, p.writers)} "
        f"writer(s), {p.window} message(s) in flight per writer, {p.size} bytes; "
        f"{p.rounds} window(s) of {p.window_seconds:g} s a side ({p.warmup_seconds:g} s "
        f"warm-up each); {p.procs} client process(es) from {p.sources} local address(es)"
    )


def _method(params: Params) -> str:
    return (
        "Two Roost servers (`hub.Hub.serve` in a process each, uvloop), one room each: "
        "`ctx.broadcast(message)` in `Room.websocket_message`, the writer's own copy "
        "included. Server CPU is user + system from /proc over each window, its settling "
        "included; a delivery is a receipt counted by the clients (late ones included). "
        f"The ratio is CPU per delivery at {params.connections:,} over that at "
        f"{params.compare:,}; saturation above {SATURATED:.0%} busy is noted."
    )
