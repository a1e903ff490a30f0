"""The Python SDK's overhead: ``roost_client`` against a bare websockets client, one Roost.

Run: ``python -m loadtest sdk [--clients 10] [--objects 10] [--seconds 1.5] [--size 64]
[--batch 100] [--rounds 5] [--quick] [--json FILE] [--results-md FILE]`` (``--quick``,
also ``--smoke``: 0.6 s windows, 1 round, no extra rounds; sizes: ``loadtest.params``,
where ``--clients`` is ``connections`` and ``--objects`` ``rooms``).

What is measured, against one Roost server (``loadtest.servers``, object ``Sink``)
with the same ``roost.v1`` frames from both clients (``loadtest.sdk_clients``):

* calls: ``--clients`` connections (over ``--objects`` objects), each making sequential
  calls of ``echo(value)`` for ``--seconds``; calls per second and each call's latency
  as the caller sees it. Also with one connection (the latency of ``await call()`` in
  a loop).
* exactly-once messages: every connection sends ``--batch`` ``msg`` frames with ids,
  then waits until all are acknowledged, then the next batch; messages per second.
* client CPU per call / per message: the client process's CPU seconds (``/proc``) over
  the window, divided by what it did. This is the SDK's cost, whatever limits the rate.

The SDK: ``roost_client.connect(url, reconnect=False)``, ``await conn.call("echo", v)``,
``conn.send(v)`` then ``await conn.flush()``. The bare client: ``websockets``' asyncio
client with the same socket options, the same frames built as dicts and encoded with
``msgspec.json`` (the codec the SDK uses too), answers decoded and checked.

Rules that keep the comparison fair: each kind of client in a process of its own (its
CPU time is its own), the server in a third; uvloop everywhere; windows alternate
between the SDK and the bare client, the order switching every round, one warm-up
window each first; the figure is the median over rounds (``statistics.median``) and
the ratio median over median (higher is better for rates: SDK / bare). The run says
which process limited each kind (``rig.SATURATED`` of the wall time busy). Windows
during which other work shared the CPUs are marked, replaced by extra rounds and left
out (``loadtest.contention``); ratios are also given round by round.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
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
from loadtest.params import Params
from loadtest.process import Child, ChildError
from loadtest.report import Row
from loadtest.results import Outcome, Side
from loadtest.rig import finding
from loadtest.sdk_clients import KINDS, client_main
from loadtest.servers import object_path, server_main
from loadtest.stats import percentile

__all__ = ["LOADS", "Window", "run_sdk", "run_windows", "summarize", "warmup_seconds"]

HEADING = "Python SDK overhead: roost_client vs a bare websockets client (same Roost)"
#: What a window does: sequential calls on every connection or on one; message batches.
LOADS = ("calls", "calls-1", "sends")
MICRO = 1e6


def warmup_seconds(params: Params) -> float:
    """Seconds of each warm-up window (half a window, at most 0.5 s)."""
    return min(0.5, params.seconds / 2)


@dataclass(frozen=True, slots=True)
class Window:
    """One measured window of one load (``LOADS``: its ``scenario``) and one kind of client."""

    scenario: str
    kind: str
    round: int
    count: int
    wall: float
    server_cpu: float
    client_user: float
    client_sys: float
    others: float
    latencies: array[float] = field(repr=False)

    @property
    def client_cpu(self) -> float:
        """The client process's CPU seconds, user plus system."""
        return self.client_user + self.client_sys

    @property
    def rate(self) -> float:
        """Calls (or messages) per second."""
        return self.count / self.wall

    @property
    def server_busy(self) -> float:
        """Server CPU seconds over wall seconds."""
        return self.server_cpu / self.wall

    @property
    def client_busy(self) -> float:
        """Client CPU seconds over wall seconds."""
        return self.client_cpu / self.wall

    @property
    def client_per_op(self) -> float:
        """Client CPU microseconds per call (or message)."""
        return self.client_cpu / self.count * MICRO

    @property
    def others_share(self) -> float:
        """CPU seconds of other work on the machine over wall seconds (in CPUs)."""
        return self.others / self.wall

    def to_json(self) -> dict[str, object]:
        """The JSON form, with the derived rates (latencies as percentiles only)."""
        row = asdict(self)
        del row["latencies"]
        ordered = sorted(self.latencies)
        row.update(
            rate=self.rate,
            client_cpu=self.client_cpu,
            server_busy=self.server_busy,
            client_busy=self.client_busy,
            client_cpu_per_op_us=self.client_per_op,
            others_share=self.others_share,
            contended=contended(self),
            p50_us=percentile(ordered, 0.50) * MICRO,
            p99_us=percentile(ordered, 0.99) * MICRO,
        )
        return row


class _Rig:
    """The Roost server and one client process of each kind, connected."""

    def __init__(self, stack: ExitStack, params: Params, data_dir: str) -> None:
        self.params = params
        self.data_dir = Path(data_dir)
        self.server = Child("roost server", server_main, "roost", data_dir)
        stack.callback(self.server.stop)
        self.clients: dict[str, Child] = {}
        for kind in KINDS:
            client = Child(f"{kind} client", client_main, kind)
            stack.callback(client.stop)
            self.clients[kind] = client
        port = self.server.ready[1]
        urls = [
            f"ws://127.0.0.1:{port}{object_path('sink', k % params.rooms)}"
            for k in range(params.connections)
        ]
        for kind in KINDS:
            opened = self.clients[kind].call("connect", urls, timeout=60.0)[1]
            if opened != params.connections:
                raise ChildError(
                    f"{kind} client: {opened} connections, expected {params.connections}"
                )
        self.meter = Meter([self.server, *self.clients.values()])
        held = self.server.call("count")[1]
        if held != params.connections * len(KINDS):
            raise ChildError(f"roost server holds {held} sockets, expected the clients'")

    def window(self, scenario: str, kind: str, number: int, seconds: float) -> Window:
        """Run ``scenario`` on the ``kind`` client for ``seconds``; time it."""
        p = self.params
        timeout = seconds + 20.0
        client = self.clients[kind]
        path = self.data_dir / f"latencies-{kind}.bin"
        server0, client0 = self.server.cpu(), client.cpu()
        self.meter.start()
        if scenario == "sends":
            client.send("sends", seconds, p.size, p.batch, timeout)
        else:
            count = 1 if scenario == "calls-1" else p.connections
            client.send("calls", count, seconds, p.size, timeout, str(path))
        reply = client.receive(timeout + 5.0, "done")
        server1, client1 = self.server.cpu(), client.cpu()
        others = self.meter.others()
        latencies = array("d")
        if scenario != "sends":
            latencies.frombytes(path.read_bytes())
            path.unlink()
        _, done, first, last = reply
        return Window(
            scenario,
            kind,
            number,
            done,
            last - first,
            sum(server1) - sum(server0),
            client1[0] - client0[0],
            client1[1] - client0[1],
            others,
            latencies,
        )


def run_windows(params: Params) -> tuple[list[Window], list[Window]]:
    """Run the warm-up and measured windows; returns (measured, warm-up) windows."""
    measured: list[Window] = []
    warmup: list[Window] = []
    started = time.monotonic()
    round_seconds = len(LOADS) * len(KINDS) * (params.seconds + 0.3)
    with tempfile.TemporaryDirectory(prefix="roost-sdk-") as tmp, ExitStack() as stack:
        rig = _Rig(stack, params, tmp)
        for scenario in LOADS:
            for kind in KINDS:
                warmup.append(rig.window(scenario, kind, 0, warmup_seconds(params)))
        number = clean = 0
        while more_rounds(
            number, params.rounds, clean, started, round_seconds, extra=not params.smoke
        ):
            number += 1
            kinds = KINDS if number % 2 else tuple(reversed(KINDS))
            done = [
                rig.window(scenario, kind, number, params.seconds)
                for scenario in LOADS
                for kind in kinds
            ]
            measured += done
            clean += not any(contended(w) for w in done)
        for client in rig.clients.values():
            client.call("close")
    return measured, warmup


def summarize(windows: Sequence[Window], params: Params) -> tuple[list[Row], list[str], str]:
    """The report rows, the saturation findings, and which windows the figures use."""
    windows, used = usable(
        windows, lambda w: (w.scenario, w.kind), [(s, k) for s in LOADS for k in KINDS]
    )
    by = {
        (s, k): [w for w in windows if (w.scenario, w.kind) == (s, k)] for s in LOADS for k in KINDS
    }
    median = statistics.median

    def medians(s: str) -> str:
        return f"medians of {len(by[s, 'sdk'])} / {len(by[s, 'bare'])} windows"

    def rate(s: str, k: str) -> float:
        return median(w.rate for w in by[s, k])

    def per_op(s: str, k: str) -> float:
        return sum(w.client_cpu for w in by[s, k]) / sum(w.count for w in by[s, k]) * MICRO

    def server_per_op(s: str, k: str) -> float:
        return sum(w.server_cpu for w in by[s, k]) / sum(w.count for w in by[s, k]) * MICRO

    def lat(s: str, k: str, q: float) -> float:
        return percentile(sorted(x for w in by[s, k] for x in w.latencies), q) * MICRO

    def busy(s: str, k: str, *, server: bool) -> float:
        return median(w.server_busy if server else w.client_busy for w in by[s, k]) * 100

    def figure(what: str, s: str, k: str) -> float:
        if what == "rate":
            return rate(s, k)
        if what == "cpu":
            return per_op(s, k)
        if what == "server":
            return server_per_op(s, k)
        if what in ("p50", "p99"):
            return lat(s, k, 0.5 if what == "p50" else 0.99)
        return busy(s, k, server=what == "server_busy")

    def row(name: str, s: str, unit: str, what: str) -> Row:
        sdk, bare = figure(what, s, "sdk"), figure(what, s, "bare")
        return Row(name, sdk, bare, unit, baseline_word="bare client")

    n, b = params.connections, params.batch
    rows = [
        row(f"calls/s, {n} connections ({medians('calls')})", "calls", "/s", "rate"),
        row(f"client CPU per call, {n} connections", "calls", "µs", "cpu"),
        row(f"calls/s, 1 connection ({medians('calls-1')})", "calls-1", "/s", "rate"),
        row("client CPU per call, 1 connection", "calls-1", "µs", "cpu"),
        row("call latency p50, 1 connection (info)", "calls-1", "µs", "p50"),
        row("call latency p99, 1 connection (info)", "calls-1", "µs", "p99"),
        row(f"call latency p50, {n} connections (info)", "calls", "µs", "p50"),
        row(f"call latency p99, {n} connections (info)", "calls", "µs", "p99"),
        row(
            f"exactly-once messages/s, {n} connections, batches of {b} until acked "
            f"({medians('sends')})",
            "sends",
            "/s",
            "rate",
        ),
        row("client CPU per exactly-once message", "sends", "µs", "cpu"),
        row(f"server CPU per call, {n} connections (info; same server)", "calls", "µs", "server"),
        row(f"client process CPU busy, calls, {n} connections (info)", "calls", "%", "client_busy"),
        row(f"server process CPU busy, calls, {n} connections (info)", "calls", "%", "server_busy"),
    ]
    findings = [
        finding(
            f"{s} with the {k} client",
            busy(s, k, server=True),
            busy(s, k, server=False),
            "the client's own cost per call sets the rate",
        )
        for s in LOADS
        for k in KINDS
    ]

    def paired(s: str, value: Callable[[Window], float]) -> str:
        def group(w: Window) -> str:
            return w.kind if w.scenario == s else ""

        return spread(paired_ratios(windows, lambda w: w.round, group, value, "sdk", "bare"))

    def per_second(w: Window) -> float:
        return w.rate

    def cpu_per_op(w: Window) -> float:
        return w.client_per_op

    used += (
        "; SDK / bare client ratios of windows of the same round: calls/s with "
        f"{n} connections {paired('calls', per_second)}, with 1 connection "
        f"{paired('calls-1', per_second)}; exactly-once messages/s "
        f"{paired('sends', per_second)}; client CPU per call with {n} connections "
        f"{paired('calls', cpu_per_op)}, with 1 connection {paired('calls-1', cpu_per_op)}"
    )
    return rows, findings, used


def run_sdk(params: Params, *, progress: bool | None = None) -> Outcome:
    """The ``sdk`` scenario: every window, reported as one outcome whose headline is the
    client CPU per call with ``connections`` connections (SDK against the bare client)."""
    measured, warmup = run_windows(params)
    rows, findings, used = summarize(measured, params)
    for w in measured:
        print(
            f"  round {w.round} {w.scenario:8} {w.kind:5} {w.rate:>10,.0f} /s  "
            f"client {w.client_per_op:6.1f} µs/op  wall {w.wall:.2f} s  "
            f"server {w.server_busy:.0%}  client {w.client_busy:.0%}  "
            f"others {w.others_share:.2f} CPU{'  (contended)' if contended(w) else ''}"
        )
    ran = len({w.round for w in measured})
    cpu = rows[1]
    return Outcome(
        scenario="sdk",
        label="sdk",
        params=params.to_json(),
        roost=Side("roost_client SDK", cpu.roost, "µs client CPU/call"),
        baseline=Side("bare websockets client", cpu.baseline, "µs client CPU/call"),
        higher_is_better=False,
        notes=[
            "Here the Roost column is the `roost_client` SDK and the baseline column a bare "
            "`websockets` asyncio client, both talking `roost.v1` to the same Roost server "
            "(`Echo.echo(value: str) -> str`; `websocket_message` does nothing). SDK: "
            '`await roost_client.connect(url, reconnect=False)`, `await conn.call("echo", '
            "v)` in a loop, `conn.send(v)` x batch then `await conn.flush()`. Bare: "
            '`websockets.asyncio.client.connect(url, subprotocols=["roost.v1"], '
            "compression=None, max_size=None)`, `hello`/`welcome`, then the same frames "
            "built as dicts, `msgspec.json`-encoded, sent with `text=True`, answers read "
            "with `decode=False`, decoded and checked; call ids count down from 2^53-1 like "
            "the SDK's. Each client kind in its own process, the server in a third, uvloop "
            "everywhere; client CPU per call = the client process's CPU seconds (/proc) over "
            "the window / calls. SDK and bare windows alternate, order switching every "
            "round; medians over rounds; windows during which other work used more than "
            f"{CONTENDED:g} CPU are left out (and replaced by extra rounds, within "
            f"{BUDGET:g} s). Rates: higher is better; CPU and latency: lower is better.",
            "Saturation: " + "; ".join(findings) + ".",
            f"Other work on the machine: {used}.",
            "Windows (per second, in order): "
            + ", ".join(
                f"{w.scenario} {w.kind} {w.rate:,.0f}{'*' if contended(w) else ''}"
                for w in measured
            )
            + ".",
        ],
        heading=HEADING,
        sizes=(
            f"{params.connections} connections per client over {params.rooms} objects (and 1 "
            f"connection); a string of {params.size} bytes per call / message; batches of "
            f"{params.batch} messages per connection; {params.seconds:g} s windows, "
            f"{ran} measured rounds (+1 warm-up of {warmup_seconds(params):g} s)"
        ),
        rows=rows,
        extra={
            "windows": [w.to_json() for w in measured],
            "warmup": [w.to_json() for w in warmup],
            "findings": findings,
        },
    )
