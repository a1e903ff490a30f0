"""Idle sockets: server memory per open WebSocket, Roost (parked) vs bare websockets.

Run: ``python -m loadtest.bench_idle [--sockets 10000] [--clients 2] [--quick]
[--json FILE] [--results-md FILE]``.

What is measured: the growth of the server process's resident set (``VmRSS`` of
``/proc/<pid>/status``) from before ``--sockets`` idle WebSockets are opened to after,
divided by the number of sockets.

* Roost: the sockets join one room (``loadtest.servers.Room``); then the room object is
  evicted through the admin endpoint ``POST /_roost/objects/room/bench/hibernate``, so
  every socket is parked (held by the front, no object in memory). The figure with the
  object still live is reported too (info).
* Baseline: a bare ``websockets.asyncio.server.serve`` with the same handler as the
  fan-out benchmark (each connection is awaiting its next message).

Rules that keep the comparison fair:

* Each server runs alone in a fresh process of its own, one after the other, with the
  same client processes (``--clients``, each holding a share) and the same client code;
  neither side compresses (the clients offer no permessage-deflate) or pings.
* Before the "before" figure, ``WARMUP_SOCKETS`` sockets are opened and closed (and the
  Roost room evicted), so one-time costs (imports, the room's first activation, SQLite
  caches) are not charged to the sockets.
* Every reading is taken after ``gc.collect()`` in the server, repeated until RSS
  settles (two readings ``SETTLE_INTERVAL`` apart within ``SETTLE_KIB``).
* RSS counts the server's user-space memory only: the kernel's socket buffers are the
  same for both sides and not in it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from loadtest.bench_fanout import shares
from loadtest.clients import client_main
from loadtest.process import Child, ChildError
from loadtest.report import Report, Row, Target, machine_facts, render_table, write_section
from loadtest.servers import ROOM_NAME, ROOM_PATH, SIDES, server_main

__all__ = ["Params", "SideResult", "main", "run_benchmark"]

SECTION = "idle"
HEADING = "Idle WebSockets: server memory per socket"
WARMUP_SOCKETS = 20
#: Seconds between RSS readings while waiting for it to settle, and the most to wait.
SETTLE_INTERVAL = 0.3
SETTLE_TIMEOUT = 8.0
#: Two consecutive readings this close (KiB) count as settled.
SETTLE_KIB = 32
TARGET_KIB = Target("value", "at_most", 8.0)
TARGET_RATIO = Target("ratio", "at_most", 0.6)
HIBERNATE_PATH = f"/_roost/objects/room/{ROOM_NAME}/hibernate"


@dataclass(frozen=True, slots=True)
class Params:
    """The sizes of one run."""

    sockets: int
    clients: int


@dataclass(frozen=True, slots=True)
class SideResult:
    """The RSS readings of one server, in KiB, and how long opening took."""

    side: str
    sockets: int
    before_kib: int
    live_kib: int
    after_kib: int
    open_seconds: float

    @property
    def per_socket(self) -> float:
        """KiB per socket, after (for Roost: object evicted) minus before."""
        return (self.after_kib - self.before_kib) / self.sockets

    @property
    def per_socket_live(self) -> float:
        """KiB per socket with the sockets open and (Roost) the object still live."""
        return (self.live_kib - self.before_kib) / self.sockets

    def to_json(self) -> dict[str, object]:
        """The JSON form, with the per-socket figures."""
        row = asdict(self)
        row.update(per_socket_kib=self.per_socket, per_socket_live_kib=self.per_socket_live)
        return row


def settled_rss(server: Child) -> int:
    """The server's RSS in KiB after garbage collection, once it stops moving."""
    previous = server.call("gc")[1]
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        time.sleep(SETTLE_INTERVAL)
        current: int = server.call("gc")[1]
        if abs(current - previous) <= SETTLE_KIB or time.monotonic() > deadline:
            return current
        previous = current


def hibernate(port: int) -> None:
    """Evict the room through the admin endpoint; its sockets stay open (parked)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", HIBERNATE_PATH, body=b"")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200 or json.loads(body).get("hibernated") is not True:
        raise ChildError(f"hibernate answered {response.status} {body[:200]!r}")


def _wait_count(server: Child, expected: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (held := server.call("count")[1]) != expected:
        if time.monotonic() > deadline:
            raise ChildError(f"{server.name} holds {held} sockets, expected {expected}")
        time.sleep(0.05)


def _open(clients: Sequence[Child], side: str, url: str, count: int) -> None:
    split = shares(count, len(clients))
    for client, share in zip(clients, split, strict=True):
        client.send("connect", side, url, share, False)
    for client, share in zip(clients, split, strict=True):
        opened = client.receive(90.0, "connect")[1]
        if opened != share:
            raise ChildError(f"{client.name}: {opened} sockets open, expected {share}")


def _close(clients: Sequence[Child], side: str) -> None:
    for client in clients:
        client.call("close", side, timeout=30.0)


def measure_side(side: str, clients: Sequence[Child], params: Params, data_dir: str) -> SideResult:
    """Start ``side``'s server alone, open the sockets, read its RSS; stop it."""
    server = Child(f"{side} server", server_main, side, data_dir)
    try:
        port = server.ready[1]
        url = f"ws://127.0.0.1:{port}{ROOM_PATH}"
        _open(clients, side, url, min(WARMUP_SOCKETS, params.sockets))
        _close(clients, side)
        _wait_count(server, 0)
        if side == "roost":
            hibernate(port)
        before = settled_rss(server)
        started = time.monotonic()
        _open(clients, side, url, params.sockets)
        open_seconds = time.monotonic() - started
        _wait_count(server, params.sockets)
        live = settled_rss(server)
        if side == "roost":
            hibernate(port)
            _wait_count(server, params.sockets)  # parked: still open
        after = settled_rss(server)
        _close(clients, side)
        return SideResult(side, params.sockets, before, live, after, open_seconds)
    finally:
        server.stop()


def run_benchmark(params: Params) -> list[SideResult]:
    """Measure Roost, then the baseline, with the same client processes."""
    with tempfile.TemporaryDirectory(prefix="roost-idle-") as tmp, ExitStack() as stack:
        clients = []
        for index in range(params.clients):
            client = Child(f"client {index}", client_main)
            stack.callback(client.stop)
            clients.append(client)
        return [measure_side(side, clients, params, tmp) for side in SIDES]


def summarize(results: Sequence[SideResult]) -> list[Row]:
    """The report rows."""
    roost, baseline = (next(r for r in results if r.side == side) for side in SIDES)
    parked = f"RSS growth per socket, {roost.sockets} sockets, Roost room evicted (parked)"
    return [
        Row(parked, roost.per_socket, baseline.per_socket, "KiB", TARGET_KIB),
        Row(parked, roost.per_socket, baseline.per_socket, "KiB", TARGET_RATIO),
        Row(
            "RSS growth per socket, Roost room still live (info)",
            roost.per_socket_live,
            baseline.per_socket,
            "KiB",
        ),
        Row(
            "sockets opened per second, handshake included (info)",
            roost.sockets / roost.open_seconds,
            baseline.sockets / baseline.open_seconds,
            "/s",
        ),
    ]


# -- the command --------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: sizes, and where to write JSON and Markdown."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.bench_idle",
        description="Server memory per idle WebSocket: Roost (parked) vs bare websockets.",
    )
    parser.add_argument(
        "--sockets", type=_positive, default=None, help="idle sockets (10000; quick 1000)"
    )
    parser.add_argument("--clients", type=_positive, default=2, help="client processes (2)")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 1000 sockets")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results as JSON")
    parser.add_argument(
        "--results-md", type=Path, metavar="FILE", help="write/replace the section in FILE"
    )
    args = parser.parse_args(argv)
    if args.sockets is None:
        args.sockets = 1000 if args.quick else 10_000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the requested reports."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(args_list)
    params = Params(sockets=args.sockets, clients=args.clients)
    command = shlex.join(["python", "-m", "loadtest.bench_idle", *args_list])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_facts()
    started = time.perf_counter()
    results = run_benchmark(params)
    elapsed = time.perf_counter() - started
    rows = summarize(results)
    readings = "; ".join(
        f"{r.side}: before {r.before_kib} KiB, open {r.live_kib} KiB, after {r.after_kib} KiB"
        for r in results
    )
    report = Report(
        section=SECTION,
        heading=HEADING,
        command=command,
        date=date,
        machine=machine,
        sizes=(
            f"{params.sockets} idle sockets to one room, held by {params.clients} client "
            f"processes; {WARMUP_SOCKETS} warm-up sockets opened and closed first"
        ),
        baseline_name="bare websockets server",
        rows=rows,
        notes=[
            "Server RSS (VmRSS, KiB = 1024 bytes) after `gc.collect()` in the server, once "
            "settled, before and after the sockets open; growth / sockets. Roost: the room "
            f"is then evicted with `POST {HIBERNATE_PATH}` (sockets stay open, parked). "
            "Baseline: bare `websockets.asyncio.server.serve`, handler awaiting messages "
            "(`compression=None`, `ping_interval=None`, as Roost neither compresses by "
            "default nor pings). Each server alone in its own process; same client "
            "processes and code (no permessage-deflate offered); uvloop on both sides.",
            f"Readings: {readings}.",
        ],
        details={"params": asdict(params), "sides": [r.to_json() for r in results]},
        elapsed=elapsed,
    )
    print(f"{HEADING} — {command}")
    print(
        f"{machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"{machine['event_loop']}; {elapsed:.1f} s"
    )
    print(readings)
    print(render_table(rows))
    if args.json is not None:
        report.write_json(args.json)
    if args.results_md is not None:
        write_section(args.results_md, SECTION, report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
