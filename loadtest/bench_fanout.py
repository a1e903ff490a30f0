"""Broadcast fan-out: deliveries per second to the members of one room, Roost vs bare websockets.

Run: ``python -m loadtest.bench_fanout [--sockets 1000] [--messages N] [--size 64]
[--window W] [--rounds R] [--clients C] [--quick] [--json FILE] [--results-md FILE]``.

What is measured: ``--sockets`` receivers and one publisher are connected to one room.
The publisher sends ``--messages`` text messages of ``--size`` bytes; the server sends
each one to every socket of the room (the publisher included). The figure is
deliveries per second at the receivers: ``sockets * messages`` messages received,
over the wall time from the publisher's first send to the last receiver's last receipt
(``time.monotonic()``, one clock for every process).

* Roost: ``ctx.broadcast(message)`` from ``Room.websocket_message`` (``loadtest.servers``).
* Baseline: a bare ``websockets.asyncio.server.serve`` handler calling
  ``websockets.broadcast(connections, message)`` over all its connections.

Rules that keep the comparison fair:

* The same client code (``loadtest.clients``), the same event loop (uvloop when
  installed), the same process layout: each server in its own process, the clients in
  ``--clients`` processes of their own (one by default: with 2 CPUs, one server process
  and one client process run at a time; the idle server is asleep).
* Pacing: the publisher sends message ``k + window`` only once its own echo of message
  ``k`` is back, so at most ``--window`` messages are in flight and no buffer grows
  without bound on either side; both servers broadcast in accept order, so the
  publisher (connected last) gets each message last.
* Roost and the baseline alternate round by round, the order switching every round;
  one warm-up round each is not recorded; the figure is the median over rounds and the
  ratio is median over median.
* CPU time of every process is read from ``/proc`` around every round, and the run
  says which side limited it: the server when its process was busy ≥ ``SATURATED`` of
  the wall time (the publisher waits on echoes, so a client-bound run leaves the server
  idle), else the client when a client process was; it also says when the client had
  little headroom left.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from loadtest.clients import client_main
from loadtest.process import Child, ChildError, CpuShares
from loadtest.report import Report, Row, Target, machine_facts, render_table, write_section
from loadtest.servers import ROOM_PATH, SIDES, server_main

__all__ = ["Params", "RoundResult", "main", "run_benchmark"]

SECTION = "fanout"
HEADING = "Broadcast fan-out to one room (deliveries per second)"
#: A process busy this share of the wall time is taken as saturated.
SATURATED = 0.9
#: Target: Roost's deliveries per second over the bare server's.
TARGET = Target("ratio", "at_least", 1.5)
MICRO = 1e6


@dataclass(frozen=True, slots=True)
class Params:
    """The sizes of one run."""

    sockets: int
    messages: int
    size: int
    window: int
    rounds: int
    warmup_messages: int
    clients: int


@dataclass(frozen=True, slots=True)
class RoundResult(CpuShares):
    """One measured round of one side."""

    side: str
    round: int
    deliveries: int
    wall: float
    server_user: float
    server_sys: float
    client_cpu: list[float]

    @property
    def rate(self) -> float:
        """Deliveries per second."""
        return self.deliveries / self.wall

    def to_json(self) -> dict[str, object]:
        """The JSON form, with the derived rates."""
        row = asdict(self)
        row.update(
            rate=self.rate,
            server_cpu=self.server_cpu,
            server_busy=self.server_busy,
            client_busy=self.client_busy,
        )
        return row


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal shares."""
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


class _Rig:
    """Both servers, the client processes and the sockets between them."""

    def __init__(self, stack: ExitStack, params: Params, data_dir: str) -> None:
        self.params = params
        self.servers: dict[str, Child] = {}
        for side in SIDES:
            server = Child(f"{side} server", server_main, side, data_dir)
            stack.callback(server.stop)
            self.servers[side] = server
        self.clients: list[Child] = []
        for index in range(params.clients):
            client = Child(f"client {index}", client_main)
            stack.callback(client.stop)
            self.clients.append(client)
        for side in SIDES:
            self._connect(side)

    def _connect(self, side: str) -> None:
        server = self.servers[side]
        url = f"ws://127.0.0.1:{server.ready[1]}{ROOM_PATH}"
        split = shares(self.params.sockets, len(self.clients))
        for client, count in zip(self.clients, split, strict=True):
            client.send("connect", side, url, count, False)
        for client, count in zip(self.clients, split, strict=True):
            opened = client.receive(60.0, "connect")[1]
            if opened != count:
                raise ChildError(f"{client.name}: {opened} sockets open, expected {count}")
        self.clients[0].call("connect", side, url, 0, True)  # the publisher, last
        held = server.call("count")[1]
        if held != self.params.sockets + 1:
            raise ChildError(f"{side} server holds {held} sockets, expected the room's")

    def round(self, side: str, number: int, messages: int) -> RoundResult:
        """Publish ``messages`` to the room of ``side`` and time their delivery."""
        timeout = 30.0
        procs = [self.servers[side], *self.clients]
        before = [proc.cpu() for proc in procs]
        for client in self.clients[1:]:
            client.call("arm", side, messages, timeout, expect="armed")
        p = self.params
        self.clients[0].send("run", side, messages, p.window, p.size, timeout)
        replies = [client.receive(timeout + 5.0, "done") for client in self.clients]
        after = [proc.cpu() for proc in procs]
        first = replies[0][3]
        last = max(reply[1] for reply in replies)
        received = sum(reply[2] for reply in replies)
        if received != p.sockets * messages:
            raise ChildError(f"{received} messages received, expected {p.sockets * messages}")
        (su0, ss0), (su1, ss1) = before[0], after[0]
        clients = [sum(b) - sum(a) for a, b in zip(before[1:], after[1:], strict=True)]
        return RoundResult(side, number, received, last - first, su1 - su0, ss1 - ss0, clients)


def run_benchmark(params: Params) -> tuple[list[RoundResult], list[RoundResult]]:
    """Run the warm-up and measured rounds; returns (measured, warm-up) rounds."""
    measured: list[RoundResult] = []
    warmup: list[RoundResult] = []
    with tempfile.TemporaryDirectory(prefix="roost-fanout-") as tmp, ExitStack() as stack:
        rig = _Rig(stack, params, tmp)
        for side in SIDES:
            warmup.append(rig.round(side, 0, params.warmup_messages))
        for number in range(1, params.rounds + 1):
            order = SIDES if number % 2 else tuple(reversed(SIDES))
            for side in order:
                measured.append(rig.round(side, number, params.messages))
        for side in SIDES:
            for client in rig.clients:
                client.call("close", side)
    return measured, warmup


def summarize(rounds: Sequence[RoundResult], params: Params) -> tuple[list[Row], list[str]]:
    """The report rows and the saturation findings."""
    by_side = {side: [r for r in rounds if r.side == side] for side in SIDES}
    median = statistics.median
    rate = {side: median(r.rate for r in by_side[side]) for side in SIDES}

    def per_delivery(side: str, seconds: Callable[[RoundResult], float]) -> float:
        done = by_side[side]
        return sum(seconds(r) for r in done) / sum(r.deliveries for r in done) * MICRO

    user = {side: per_delivery(side, lambda r: r.server_user) for side in SIDES}
    system = {side: per_delivery(side, lambda r: r.server_sys) for side in SIDES}
    server_busy = {side: median(r.server_busy for r in by_side[side]) * 100 for side in SIDES}
    client_busy = {side: median(r.client_busy for r in by_side[side]) * 100 for side in SIDES}
    rows = [
        Row(
            f"deliveries/s, {params.sockets} receivers (median of {params.rounds} rounds)",
            rate["roost"],
            rate["baseline"],
            "msg/s",
            TARGET,
        ),
        Row(
            "deliveries per server CPU-second (info; insensitive to CPU sharing)",
            MICRO / (user["roost"] + system["roost"]),
            MICRO / (user["baseline"] + system["baseline"]),
            "msg/s",
        ),
        Row("server user CPU per delivery (info)", user["roost"], user["baseline"], "µs"),
        Row("server system CPU per delivery (info)", system["roost"], system["baseline"], "µs"),
        Row("server process CPU busy (info)", server_busy["roost"], server_busy["baseline"], "%"),
        Row(
            f"busiest of {params.clients} client process(es), CPU busy (info)",
            client_busy["roost"],
            client_busy["baseline"],
            "%",
        ),
    ]
    findings = [
        _finding(side, server_busy[side], client_busy[side], params.clients) for side in SIDES
    ]
    return rows, findings


def _finding(side: str, server: float, client: float, clients: int) -> str:
    """Which process limited ``side``'s rounds, from median CPU busy percentages."""
    busy = f"server process {server:.0f}% CPU, busiest client process {client:.0f}%"
    if server >= SATURATED * 100:
        headroom = (
            f"; the client side was near saturation too (≥ {SATURATED:.0%}: all CPUs busy), "
            "so a faster server would soon be client-bound here"
            if client >= SATURATED * 100
            else ""
        )
        return f"{side} rounds server-bound ({busy}){headroom}"
    if client >= SATURATED * 100:
        return (
            f"{side} rounds client-bound ({busy}): the {side} figure is a lower bound; "
            f"try --clients {clients + 1} on a machine with more CPUs"
        )
    return f"{side} rounds saturated neither process ({busy}; likely other work on the CPUs)"


# -- the command --------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: sizes, and where to write JSON and Markdown."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.bench_fanout",
        description="Roost broadcast fan-out against a bare websockets server.",
    )
    parser.add_argument(
        "--sockets", type=_positive, default=None, help="receivers (1000; quick 200)"
    )
    parser.add_argument(
        "--messages", type=_positive, default=None, help="messages a round (250; quick 500)"
    )
    parser.add_argument("--size", type=_positive, default=64, help="message bytes (64)")
    parser.add_argument("--window", type=_positive, default=32, help="messages in flight (32)")
    parser.add_argument(
        "--rounds", type=_positive, default=None, help="measured rounds a side (5; quick 1)"
    )
    parser.add_argument("--clients", type=_positive, default=1, help="client processes (1)")
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke: 200 sockets, 500 messages, 1 round"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results as JSON")
    parser.add_argument(
        "--results-md", type=Path, metavar="FILE", help="write/replace the section in FILE"
    )
    args = parser.parse_args(argv)
    if args.size < 10:
        parser.error(f"--size must be at least 10 (a sequence number), got {args.size}")
    if args.sockets is None:
        args.sockets = 200 if args.quick else 1000
    if args.messages is None:
        args.messages = 500 if args.quick else 250
    if args.rounds is None:
        args.rounds = 1 if args.quick else 5
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the requested reports."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(args_list)
    params = Params(
        sockets=args.sockets,
        messages=args.messages,
        size=args.size,
        window=args.window,
        rounds=args.rounds,
        warmup_messages=max(20, args.messages // 5),
        clients=args.clients,
    )
    command = shlex.join(["python", "-m", "loadtest.bench_fanout", *args_list])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_facts()
    started = time.perf_counter()
    measured, warmup = run_benchmark(params)
    elapsed = time.perf_counter() - started
    rows, findings = summarize(measured, params)
    report = Report(
        section=SECTION,
        heading=HEADING,
        command=command,
        date=date,
        machine=machine,
        sizes=(
            f"{params.sockets} receivers + 1 publisher in one room; {params.messages} "
            f"text messages of {params.size} bytes a round, window {params.window}; "
            f"{params.rounds} measured rounds a side (+1 warm-up of "
            f"{params.warmup_messages}); {params.clients} client process(es)"
        ),
        baseline_name="bare websockets.broadcast",
        rows=rows,
        notes=[
            "Roost: `ctx.broadcast(message)` in `websocket_message`; baseline: a bare "
            "`websockets.asyncio.server.serve` handler calling `websockets.broadcast` over "
            "all its connections (no compression, no pings, same backlog). Each server runs "
            "in its own process, the clients in others; same client code and uvloop on both "
            "sides. Deliveries/s = receivers * messages / (last receipt - first send). "
            f"Pacing: the publisher sends message k+{params.window} only after its own echo "
            f"of message k is back (at most {params.window} in flight). Roost and baseline "
            "alternate round by round, order switching; medians over rounds. CPU figures "
            "come from /proc around each round.",
            "Saturation: " + "; ".join(findings) + ".",
            "Rounds (msg/s, in order): "
            + ", ".join(f"{r.side} {r.rate:,.0f}" for r in measured)
            + ".",
        ],
        details={
            "params": asdict(params),
            "rounds": [r.to_json() for r in measured],
            "warmup": [r.to_json() for r in warmup],
            "findings": findings,
        },
        elapsed=elapsed,
    )
    print(f"{HEADING} — {command}")
    print(
        f"{machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"{machine['event_loop']}; {elapsed:.1f} s"
    )
    for r in measured:
        print(
            f"  round {r.round} {r.side:8} {r.rate:>12,.0f} msg/s  wall {r.wall:.2f} s  "
            f"server {r.server_busy:.0%}  client {r.client_busy:.0%}"
        )
    print(render_table(rows))
    for finding in findings:
        print(f"note: {finding}")
    if args.json is not None:
        report.write_json(args.json)
    if args.results_md is not None:
        write_section(args.results_md, SECTION, report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
