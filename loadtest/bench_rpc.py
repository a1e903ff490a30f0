"""RPC round trips per second over ``roost.v1``, Roost vs a bare websockets echo server.

Run: ``python -m loadtest.bench_rpc [--clients 50] [--objects 10] [--seconds 2.5]
[--size 64] [--rounds 6] [--procs 1] [--quick] [--json FILE] [--results-md FILE]``.

What is measured: ``--clients`` sockets each make sequential round trips for
``--seconds``: a request leaves only once the answer to the previous one is back, so
each socket has one in flight. The figure is round trips per second: answers received
over the wall time from the first send to the last answer (``time.monotonic()``, one
clock for every process), with each round trip's latency (info).

* Roost: ``{"t":"call","id":N,"method":"echo","args":[V]}`` on a ``roost.v1`` socket
  (after ``hello``) to ``Echo.echo(value) -> value`` (``loadtest.echo_servers``),
  answered by ``{"t":"result","id":N,"result":V}`` once the call's event committed
  (protocol/SPEC.md §6). Two scenarios: the sockets spread over ``--objects`` objects
  (``roost``), and all on one object (``roost-one``: one object's events run one at a
  time, so this is one object's ceiling).
* Baseline: a bare ``websockets.asyncio.server.serve`` handler that sends each message
  back on its connection; the client sends it the very same frames (``hello``, then the
  same ``call`` frames, so the answers are the same JSON at the same size or a little
  larger than Roost's ``result``).

Rules that keep the comparison fair:

* The same client code (``loadtest.rpc_clients``: sans-I/O handshake, frames built and
  read by hand on a bare ``asyncio.Protocol``), the same event loop (uvloop when
  installed), the same process layout: each server in its own process, the clients in
  ``--procs`` processes of their own (one by default: with 2 CPUs, one server process
  and one client process run at a time; the idle server is asleep).
* Scenarios take turns round by round, the order rotating every round; one short
  warm-up window each is not recorded; the figure is the median over rounds and the
  ratio is median over median. Latency percentiles pool every measured round trip.
* CPU time of every process is read from ``/proc`` around every window, and the run
  says which side limited it: the server when its process was busy ≥ ``SATURATED`` of
  the wall time, else the client when a client process was.
* The machine may be shared: windows during which other work used the CPUs are marked,
  more rounds are run to replace them, and figures come from the others
  (``loadtest.contention``).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from loadtest.contention import (
    BUDGET,
    CONTENDED,
    Meter,
    contended,
    more_rounds,
    paired_ratios,
    spread,
    usable,
)
from loadtest.echo_servers import echo_path, server_main
from loadtest.process import Child, ChildError, CpuShares
from loadtest.report import Report, Row, machine_facts, render_table, write_section
from loadtest.rpc_clients import client_main

__all__ = [
    "SCENARIOS",
    "Params",
    "Window",
    "finding",
    "main",
    "percentile",
    "positive_int",
    "run_benchmark",
    "window_seconds",
]

SECTION = "rpc"
HEADING = "RPC round trips over roost.v1 (round trips per second)"
#: A process busy this share of the wall time is taken as saturated.
SATURATED = 0.9
MICRO = 1e6
#: Scenario -> the server it talks to.
SCENARIOS = {"roost": "roost", "roost-one": "roost", "baseline": "baseline"}


@dataclass(frozen=True, slots=True)
class Params:
    """The sizes of one run."""

    clients: int
    objects: int
    seconds: float
    size: int
    rounds: int
    warmup_seconds: float
    procs: int
    #: Run extra rounds when some were contended (``loadtest.contention``, rule 2).
    extra_rounds: bool


@dataclass(frozen=True, slots=True)
class Window(CpuShares):
    """One measured window of one scenario."""

    scenario: str
    round: int
    calls: int
    wall: float
    server_user: float
    server_sys: float
    client_cpu: list[float]
    others: float
    latencies: array[float] = field(repr=False)

    @property
    def rate(self) -> float:
        """Round trips per second."""
        return self.calls / self.wall

    @property
    def others_share(self) -> float:
        """CPU seconds of other work on the machine over wall seconds (in CPUs)."""
        return self.others / self.wall

    def to_json(self) -> dict[str, object]:
        """The JSON form, with the derived rates (latencies as percentiles only)."""
        row = asdict(self)
        del row["latencies"]
        row.update(
            rate=self.rate,
            server_cpu=self.server_cpu,
            server_busy=self.server_busy,
            client_busy=self.client_busy,
            others_share=self.others_share,
            contended=contended(self),
            p50_us=percentile(sorted(self.latencies), 0.50) * MICRO,
            p99_us=percentile(sorted(self.latencies), 0.99) * MICRO,
        )
        return row


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ascending ``ordered``; 0 when empty."""
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return ordered[rank]


def shares(items: Sequence[str], parts: int) -> list[list[str]]:
    """``items`` dealt round-robin into ``parts`` lists."""
    return [list(items[i::parts]) for i in range(parts)]


class _Rig:
    """Both servers, the client processes and the sockets between them."""

    def __init__(self, stack: ExitStack, params: Params, data_dir: str) -> None:
        self.params = params
        self.data_dir = Path(data_dir)
        self.servers: dict[str, Child] = {}
        for side in ("roost", "baseline"):
            server = Child(f"{side} server", server_main, side, data_dir)
            stack.callback(server.stop)
            self.servers[side] = server
        self.clients: list[Child] = []
        for index in range(params.procs):
            client = Child(f"client {index}", client_main)
            stack.callback(client.stop)
            self.clients.append(client)
        self.meter = Meter([*self.servers.values(), *self.clients])
        for scenario in SCENARIOS:
            self._connect(scenario)
        for side in ("roost", "baseline"):
            held = self.servers[side].call("count")[1]
            expected = params.clients * (2 if side == "roost" else 1)
            if held != expected:
                raise ChildError(f"{side} server holds {held} sockets, expected {expected}")

    def _connect(self, scenario: str) -> None:
        port = self.servers[SCENARIOS[scenario]].ready[1]
        objects = 1 if scenario == "roost-one" else self.params.objects
        urls = [
            f"ws://127.0.0.1:{port}{echo_path(k % objects)}" for k in range(self.params.clients)
        ]
        split = shares(urls, len(self.clients))
        for client, part in zip(self.clients, split, strict=True):
            client.send("connect", scenario, part)
        for client, part in zip(self.clients, split, strict=True):
            opened = client.receive(60.0, "connect")[1]
            if opened != len(part):
                raise ChildError(f"{client.name}: {opened} sockets open, expected {len(part)}")

    def window(self, scenario: str, number: int, seconds: float) -> Window:
        """Make calls on the sockets of ``scenario`` for ``seconds``; time them."""
        timeout = seconds + 20.0
        server = self.servers[SCENARIOS[scenario]]
        procs = [server, *self.clients]
        before = [proc.cpu() for proc in procs]
        self.meter.start()
        files = [self.data_dir / f"latencies-{index}.bin" for index in range(len(self.clients))]
        side, size = SCENARIOS[scenario], self.params.size
        for client, path in zip(self.clients, files, strict=True):
            client.send("run", scenario, side, seconds, size, timeout, str(path))
        replies = [client.receive(timeout + 5.0, "done") for client in self.clients]
        after = [proc.cpu() for proc in procs]
        others = self.meter.others()
        first = min(reply[2] for reply in replies)
        last = max(reply[3] for reply in replies)
        latencies = array("d")
        for path in files:
            latencies.frombytes(path.read_bytes())
            path.unlink()
        calls = sum(reply[1] for reply in replies)
        if calls != len(latencies):
            raise ChildError(f"{calls} calls counted but {len(latencies)} latencies")
        (su0, ss0), (su1, ss1) = before[0], after[0]
        clients = [sum(b) - sum(a) for a, b in zip(before[1:], after[1:], strict=True)]
        wall = last - first
        return Window(
            scenario, number, calls, wall, su1 - su0, ss1 - ss0, clients, others, latencies
        )


def run_benchmark(params: Params) -> tuple[list[Window], list[Window]]:
    """Run the warm-up and measured windows; returns (measured, warm-up) windows."""
    measured: list[Window] = []
    warmup: list[Window] = []
    scenarios = list(SCENARIOS)
    started = time.monotonic()
    round_seconds = len(scenarios) * (params.seconds + 0.2)
    with tempfile.TemporaryDirectory(prefix="roost-rpc-") as tmp, ExitStack() as stack:
        rig = _Rig(stack, params, tmp)
        for scenario in scenarios:
            warmup.append(rig.window(scenario, 0, params.warmup_seconds))
        number = clean = 0
        while more_rounds(
            number, params.rounds, clean, started, round_seconds, extra=params.extra_rounds
        ):
            number += 1
            shift = (number - 1) % len(scenarios)
            done = [
                rig.window(scenario, number, params.seconds)
                for scenario in scenarios[shift:] + scenarios[:shift]
            ]
            measured += done
            clean += not any(contended(w) for w in done)
        for scenario in scenarios:
            for client in rig.clients:
                client.call("close", scenario)
    return measured, warmup


def finding(label: str, server: float, client: float, client_bound: str) -> str:
    """Which process limited ``label``'s windows, from median CPU busy percentages;
    ``client_bound`` is what to say when it was the client."""
    busy = f"server process {server:.0f}% CPU, busiest client process {client:.0f}%"
    if server >= SATURATED * 100:
        headroom = (
            f"; the client was near saturation too (≥ {SATURATED:.0%})"
            if client >= SATURATED * 100
            else ""
        )
        return f"{label} server-bound ({busy}){headroom}"
    if client >= SATURATED * 100:
        return f"{label} client-bound ({busy}): {client_bound}"
    return (
        f"{label} saturated neither process ({busy}): latency-bound (every connection "
        "waits for its answers) or other work on the CPUs"
    )


def summarize(windows: Sequence[Window], params: Params) -> tuple[list[Row], list[str], str]:
    """The report rows, the saturation findings, and which windows the figures use."""
    windows, used = usable(windows, lambda w: w.scenario, SCENARIOS)
    by = {s: [w for w in windows if w.scenario == s] for s in SCENARIOS}

    def medians(s: str) -> str:
        return f"medians of {len(by[s])} / {len(by['baseline'])} windows"

    median = statistics.median
    rate = {s: median(w.rate for w in by[s]) for s in SCENARIOS}
    ordered = {s: sorted(x for w in by[s] for x in w.latencies) for s in SCENARIOS}

    def lat(s: str, q: float) -> float:
        return percentile(ordered[s], q) * MICRO

    def cpu_per_call(s: str) -> float:
        return sum(w.server_cpu for w in by[s]) / sum(w.calls for w in by[s]) * MICRO

    def client_per_call(s: str) -> float:
        return sum(sum(w.client_cpu) for w in by[s]) / sum(w.calls for w in by[s]) * MICRO

    server_busy = {s: median(w.server_busy for w in by[s]) * 100 for s in SCENARIOS}
    client_busy = {s: median(w.client_busy for w in by[s]) * 100 for s in SCENARIOS}
    n, k = params.clients, params.objects
    rows = [
        Row(
            f"round trips/s, {n} sockets over {k} objects ({medians('roost')})",
            rate["roost"],
            rate["baseline"],
            "/s",
        ),
        Row(
            f"round trips/s, {n} sockets on one object ({medians('roost-one')})",
            rate["roost-one"],
            rate["baseline"],
            "/s",
        ),
        Row(f"latency p50, {k} objects (info)", lat("roost", 0.5), lat("baseline", 0.5), "µs"),
        Row(f"latency p99, {k} objects (info)", lat("roost", 0.99), lat("baseline", 0.99), "µs"),
        Row("latency p50, one object (info)", lat("roost-one", 0.5), lat("baseline", 0.5), "µs"),
        Row("latency p99, one object (info)", lat("roost-one", 0.99), lat("baseline", 0.99), "µs"),
        Row(
            f"server CPU per round trip, {k} objects (info)",
            cpu_per_call("roost"),
            cpu_per_call("baseline"),
            "µs",
        ),
        Row(
            "server CPU per round trip, one object (info)",
            cpu_per_call("roost-one"),
            cpu_per_call("baseline"),
            "µs",
        ),
        Row(
            f"server process CPU busy, {k} objects (info)",
            server_busy["roost"],
            server_busy["baseline"],
            "%",
        ),
        Row(
            f"client CPU per round trip, {k} objects (info; same client code)",
            client_per_call("roost"),
            client_per_call("baseline"),
            "µs",
        ),
        Row(
            f"busiest of {params.procs} client process(es), CPU busy, {k} objects (info)",
            client_busy["roost"],
            client_busy["baseline"],
            "%",
        ),
    ]
    labels = {
        "roost": f"Roost ({k} objects)",
        "roost-one": "Roost (one object)",
        "baseline": "baseline",
    }
    hint = f"its figure is a lower bound; try --procs {params.procs + 1} with more CPUs"
    findings = [finding(labels[s], server_busy[s], client_busy[s], hint) for s in SCENARIOS]

    def paired(top: str) -> str:
        ratios = paired_ratios(
            windows, lambda w: w.round, lambda w: w.scenario, lambda w: w.rate, top, "baseline"
        )
        return spread(ratios)

    used += (
        f"; round trips/s ratio to the baseline window of the same round: {k} objects "
        f"{paired('roost')}, one object {paired('roost-one')}"
    )
    return rows, findings, used


# -- the command --------------------------------------------------------------------------


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def window_seconds(text: str) -> float:
    """An ``argparse`` type: a window length in seconds, above 0 and at most 20."""
    value = float(text)
    if not 0 < value <= 20:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 20], got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: sizes, and where to write JSON and Markdown."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.bench_rpc",
        description="Roost RPC round trips against a bare websockets echo server.",
    )
    parser.add_argument("--clients", type=positive_int, default=None, help="sockets (50; quick 20)")
    parser.add_argument("--objects", type=positive_int, default=10, help="Roost objects (10)")
    parser.add_argument(
        "--seconds", type=window_seconds, default=None, help="seconds a window (2.5; quick 1)"
    )
    parser.add_argument("--size", type=positive_int, default=64, help="echoed string bytes (64)")
    parser.add_argument(
        "--rounds", type=positive_int, default=None, help="measured rounds (6; quick 1)"
    )
    parser.add_argument("--procs", type=positive_int, default=1, help="client processes (1)")
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke: 20 sockets, 1 s windows, 1 round"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results as JSON")
    parser.add_argument(
        "--results-md", type=Path, metavar="FILE", help="write/replace the section in FILE"
    )
    args = parser.parse_args(argv)
    if args.clients is None:
        args.clients = 20 if args.quick else 50
    if args.seconds is None:
        args.seconds = 1.0 if args.quick else 2.5
    if args.rounds is None:
        args.rounds = 1 if args.quick else 6
    if args.objects > args.clients:
        parser.error(f"--objects must be at most --clients ({args.clients}), got {args.objects}")
    if args.procs > args.clients:
        parser.error(f"--procs must be at most --clients ({args.clients}), got {args.procs}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the requested reports."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(args_list)
    params = Params(
        clients=args.clients,
        objects=args.objects,
        seconds=args.seconds,
        size=args.size,
        rounds=args.rounds,
        warmup_seconds=min(1.0, args.seconds / 2),
        procs=args.procs,
        extra_rounds=not args.quick,
    )
    command = shlex.join(["python", "-m", "loadtest.bench_rpc", *args_list])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_facts()
    started = time.perf_counter()
    measured, warmup = run_benchmark(params)
    elapsed = time.perf_counter() - started
    rows, findings, used = summarize(measured, params)
    ran = len({w.round for w in measured})
    report = Report(
        section=SECTION,
        heading=HEADING,
        command=command,
        date=date,
        machine=machine,
        sizes=(
            f"{params.clients} sockets, one call in flight each, {params.seconds:g} s "
            f"windows; Roost: over {params.objects} objects, and all on one object; an "
            f"echoed string of {params.size} bytes; {ran} measured rounds (+1 "
            f"warm-up window of {params.warmup_seconds:g} s each); {params.procs} client "
            "process(es)"
        ),
        baseline_name="bare websockets echo",
        rows=rows,
        notes=[
            'Roost: `{"t":"call","id":N,"method":"echo","args":[V]}` on a '
            "`roost.v1` socket (after `hello`) to `Echo.echo(value: str) -> str`, answered "
            "by `result` once its event committed. Baseline: a bare "
            "`websockets.asyncio.server.serve` handler doing `await ws.send(message)` for "
            "each message, sent the very same frames (its answers are the echoed `call`, "
            "as large as or larger than Roost's `result`). No target: the issue asks for "
            "the ratio only. Each server in its own process, the clients in another; same "
            "client code (sans-I/O handshake, frames built and read by hand) and uvloop on "
            "both sides. Round trips/s = answers / (last answer - first send). Scenarios "
            "take turns, order rotating; medians over rounds; latency percentiles pool all "
            "round trips of a scenario; windows during which other work used more than "
            f"{CONTENDED:g} CPU are left out (and replaced by extra rounds, within "
            f"{BUDGET:g} s). The one-object row compares with the same "
            "baseline windows (the bare server has no objects).",
            "Saturation: " + "; ".join(findings) + ".",
            f"Other work on the machine: {used}.",
            "Windows (round trips/s, in order): "
            + ", ".join(
                f"{w.scenario} {w.rate:,.0f}{'*' if contended(w) else ''}" for w in measured
            )
            + ".",
        ],
        details={
            "params": asdict(params),
            "windows": [w.to_json() for w in measured],
            "warmup": [w.to_json() for w in warmup],
            "findings": findings,
        },
        elapsed=elapsed,
    )
    print(f"{HEADING} — {command}")
    print(
        f"{machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"{machine['event_loop']}; {elapsed:.1f} s"
    )
    for w in measured:
        print(
            f"  round {w.round} {w.scenario:10} {w.rate:>10,.0f} /s  wall {w.wall:.2f} s  "
            f"server {w.server_busy:.0%}  client {w.client_busy:.0%}  "
            f"others {w.others_share:.2f} CPU{'  (contended)' if contended(w) else ''}"
        )
    print(render_table(rows))
    for line in [*findings, used]:
        print(f"note: {line}")
    if args.json is not None:
        report.write_json(args.json)
    if args.results_md is not None:
        write_section(args.results_md, SECTION, report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
