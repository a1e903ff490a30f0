"""The ``idle`` scenario: server memory per parked WebSocket, Roost vs a bare server.

What is measured: the growth of the server process's resident set (``VmRSS``) from
before ``--connections`` idle WebSockets are opened to after, over the sockets opened.

* Roost: the sockets join ``--rooms`` rooms (``loadtest.servers.Room``); then every room
  is evicted (``app.hibernate``), so each socket is parked: held by the front, no object
  in memory. The figure with the rooms still live is reported too (info).
* Baseline: a bare ``websockets.asyncio.server.serve`` whose handler awaits the next
  message of each connection.
* ``--attachment N``: each Room socket serializes an attachment of N JSON bytes in
  ``fetch`` (``ws.serialize_attachment``, ``loadtest.servers.attachment_value``), and
  the baseline holds the same N bytes per connection; the target is then
  ``ATTACHMENT_TARGET_KIB`` per parked socket (issue 15: 64 bytes, at most 7 KiB).

Rules that keep the comparison fair:

* Each server runs alone in a fresh process, one after the other, with the same client
  processes and code; neither side compresses or pings.
* Before the "before" reading, ``WARMUP_SOCKETS`` sockets are opened and closed (and
  the rooms evicted), so one-time costs (imports, first activations, SQLite caches) are
  not charged to the sockets.
* Every reading is taken after ``gc.collect()`` in the server, repeated until RSS
  settles. RSS is user-space memory only: the kernel's socket buffers are the same for
  both sides and not in it.
* The sockets are then held for ``--duration`` seconds; the server's CPU while they sit
  idle is reported.

With ``--workers N [--gateways M]`` the Roost side is a cluster (``loadtest.cluster``):
its RSS is summed over the supervisor and every gateway and worker (no ``gc.collect()``
in them: none can be asked), the sockets held are counted from ``/proc/net/tcp`` (one
count over every gateway) and the rooms are evicted through the admin API. Several
gateways hold more sockets than one process's open-file limit allows.

For many sockets (``--connections 100000``) the clients connect from several local
addresses (``--sources``: 127.0.0.1..N, each with its own ephemeral ports) from several
processes (``--procs``), every process raising its open-file limit as far as it may; a
client process stops opening after ``--give-up`` failures, and the result says how many
sockets were open and what stopped the rest (errors by kind, the open-file limits).
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field

from loadtest.cluster import ClusterServer
from loadtest.params import Params
from loadtest.process import raise_fd_limit
from loadtest.report import Row, Target
from loadtest.results import Goal, Outcome, Side
from loadtest.rig import Connected, Rig, Server
from loadtest.servers import CLUSTER, SIDES, object_path

__all__ = ["ATTACHMENT_GOALS", "GOALS", "SideMemory", "idle_sides", "run_idle", "settled_rss"]

WARMUP_SOCKETS = 20
SETTLE_INTERVAL = 0.3
SETTLE_TIMEOUT = 8.0
SETTLE_KIB = 32
TARGET_KIB = 8.0
#: The target of a parked socket with an attachment (``--attachment``).
ATTACHMENT_TARGET_KIB = 7.0
GOALS = (
    Goal("value", "at_most", TARGET_KIB, "≤ 8 KiB per parked socket"),
    Goal("ratio", "at_least", 1 / 0.6, f"≤ 0.6{chr(0xD7)} bare (ratio ≥ 1.67)"),
)
ATTACHMENT_GOALS = (Goal("value", "at_most", ATTACHMENT_TARGET_KIB, "≤ 7 KiB per parked socket"),)


@dataclass(frozen=True, slots=True)
class SideMemory:
    """The RSS readings of one server, in KiB, and how opening went."""

    side: str
    asked: int
    opened: int
    before_kib: int
    live_kib: int
    after_kib: int
    open_seconds: float
    idle_cpu_seconds: float
    hold_seconds: float
    errors: dict[str, int]
    connect_p50_ms: float
    connect_p99_ms: float
    #: A cluster's processes before and after: RSS, open files and their limit.
    processes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    @property
    def per_socket(self) -> float:
        """KiB per socket, after (Roost: rooms evicted) minus before."""
        return (self.after_kib - self.before_kib) / max(1, self.opened)

    @property
    def per_socket_live(self) -> float:
        """KiB per socket with the sockets open and (Roost) the rooms still live."""
        return (self.live_kib - self.before_kib) / max(1, self.opened)

    def to_json(self) -> dict[str, object]:
        """The JSON form, with the per-socket figures."""
        return {
            **asdict(self),
            "per_socket_kib": self.per_socket,
            "per_socket_live_kib": self.per_socket_live,
        }


def idle_sides(params: Params) -> tuple[str, str]:
    """The servers compared: Roost (one process, or the cluster) and the bare server."""
    return (CLUSTER, "baseline") if params.cluster else SIDES


def settled_rss(server: Server) -> int:
    """The server's RSS in KiB after garbage collection, once it stops moving."""
    previous = server.call("gc")[1]
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        time.sleep(SETTLE_INTERVAL)
        current: int = server.call("gc")[1]
        if abs(current - previous) <= SETTLE_KIB or time.monotonic() > deadline:
            return current
        previous = current


def _wait_count(server: Server, expected: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while (held := int(server.call("count")[1])) != expected:
        if time.monotonic() > deadline:
            return held
        time.sleep(0.1)
    return held


def _rooms(params: Params) -> list[str]:
    return [object_path("room", k).rsplit("/", 1)[1] for k in range(params.rooms)]


def _hibernate(server: Server, side: str, names: Sequence[str]) -> None:
    if side != "baseline":
        server.call("hibernate", "ROOM", list(names), timeout=120.0)


def measure_side(
    rig: Rig, stack: ExitStack, side: str, params: Params, data_dir: str
) -> SideMemory:
    """Start ``side``'s server alone, open the sockets, read its RSS; stop it."""
    server = rig.start_server(stack, side, data_dir)
    names = _rooms(params)
    options = {
        "sources": params.source_addresses(),
        "ramp": params.ramp,
        "give_up": params.give_up,
    }
    warm = [(object_path("room", k % params.rooms), "member", 0) for k in range(WARMUP_SOCKETS)]
    rig.connect(side, "warm", warm, options)
    rig.close("warm")
    _wait_count(server, 0)
    _hibernate(server, side, names)
    before = settled_rss(server)
    processes = {"before": server.census()} if isinstance(server, ClusterServer) else {}
    query = f"?attachment={params.attachment}" if params.attachment else ""
    items = [
        (object_path("room", k % params.rooms) + query, "member", k % params.rooms)
        for k in range(params.connections)
    ]
    connected: Connected = rig.connect(side, side, items, options, timeout=3600.0)
    held = _wait_count(server, connected.opened)
    live = settled_rss(server)
    _hibernate(server, side, names)
    held = _wait_count(server, connected.opened)  # parked: still open
    after = settled_rss(server)
    if isinstance(server, ClusterServer):
        processes["after"] = server.census()
    cpu0 = sum(server.cpu())
    time.sleep(params.duration)
    idle_cpu = sum(server.cpu()) - cpu0
    held = _wait_count(server, connected.opened, timeout=5.0)
    errors = dict(connected.errors)
    if held != connected.opened:
        errors["dropped_while_idle"] = connected.opened - held
    rig.close(side)
    rig.stop_server(side)
    return SideMemory(
        side=side,
        asked=params.connections,
        opened=connected.opened,
        before_kib=before,
        live_kib=live,
        after_kib=after,
        open_seconds=connected.seconds,
        idle_cpu_seconds=idle_cpu,
        hold_seconds=params.duration,
        errors=errors,
        connect_p50_ms=connected.times.quantile(0.5) * 1e3,
        connect_p99_ms=connected.times.quantile(0.99) * 1e3,
        processes=processes,
    )


def run_idle(params: Params, *, progress: bool | None = None) -> Outcome:
    """Measure Roost, then the baseline, with the same client processes."""
    sides = idle_sides(params)
    with tempfile.TemporaryDirectory(prefix="roost-idle-") as tmp, ExitStack() as stack:
        shape = (params.workers, params.gateway_count)
        rig = Rig(stack, (), params.procs, tmp, progress=progress, shape=shape)
        results = {side: measure_side(rig, stack, side, params, tmp) for side in sides}
    return summarize(params, results)


def fd_limits() -> dict[str, int]:
    """This process's open-file limits after raising them as far as allowed (the children
    do the same), and the kernel's ceiling."""
    soft = raise_fd_limit()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        with open("/proc/sys/fs/nr_open", encoding="ascii") as nr_open:
            ceiling = int(nr_open.read())
    except OSError:
        ceiling = -1
    return {"soft": soft, "hard": hard, "nr_open": ceiling}


def summarize(params: Params, results: dict[str, SideMemory]) -> Outcome:
    """The outcome of ``idle`` from both sides' readings."""
    sides = list(results)
    roost, base = results[sides[0]], results[sides[1]]
    cluster = roost.side == CLUSTER
    limits = fd_limits()
    errors = {f"{s}:{k}": v for s in sides for k, v in results[s].errors.items()}
    if cluster:
        subject = (
            f"Roost as a cluster ({params.workers} worker(s), {params.gateway_count} gateway(s))"
        )
        method = (
            "Roost: `roost serve --workers N --gateways M`; RSS (VmRSS) summed over the "
            "supervisor, its gateways and workers, once settled (no `gc.collect()` in them), "
            "before and after the sockets open; growth / sockets open; sockets held counted "
            "from /proc/net/tcp (ESTABLISHED on the port, every gateway); the rooms are then "
            "evicted through `POST /_roost/objects/room/{name}/hibernate` (sockets stay "
            "open, parked). Baseline: bare `websockets.asyncio.server.serve` in one process, "
            "RSS after `gc.collect()`, handler awaiting messages (`compression=None`, "
            "`ping_interval=None`). Each server alone; same client processes and code (no "
            "permessage-deflate offered); uvloop on both sides."
        )
    else:
        subject = "Roost (parked)"
        method = (
            "Server RSS (VmRSS, KiB = 1024 bytes) after `gc.collect()` in the server, once "
            "settled, before and after the sockets open; growth / sockets open. Roost: the "
            "rooms are then evicted with `app.hibernate` (sockets stay open, parked). "
            "Baseline: bare `websockets.asyncio.server.serve`, handler awaiting messages "
            "(`compression=None`, `ping_interval=None`). Each server alone in its own "
            "process; same client processes and code (no permessage-deflate offered); "
            "uvloop on both sides."
        )
    notes = [
        method,
        "Readings: "
        + "; ".join(
            f"{r.side}: {r.opened} of {r.asked} open, before {r.before_kib} KiB, open "
            f"{r.live_kib} KiB, after {r.after_kib} KiB"
            for r in results.values()
        )
        + ".",
    ]
    if roost.processes:
        notes.append("Cluster processes, parked: " + process_table(roost.processes) + ".")
    stopped = stopped_by(roost, limits)
    if roost.opened < params.connections or base.opened < params.connections:
        notes.append(
            f"Not every socket opened: {errors or 'no error reported'}; open-file limits "
            f"per process: soft {limits['soft']}, hard {limits['hard']} (kernel ceiling "
            f"fs.nr_open {limits['nr_open']}); a process may raise its soft limit to the "
            "hard one, and only one with CAP_SYS_RESOURCE the hard limit itself."
            + (f" Roost stopped at {roost.opened:,}: {stopped}." if stopped else "")
        )
    parked = "cluster rooms evicted (parked)" if cluster else "Roost rooms evicted (parked)"
    targets = (Target("value", "at_most", TARGET_KIB), Target("ratio", "at_most", 0.6))
    goals = GOALS
    if params.attachment:
        parked += f", a {params.attachment}-byte attachment each"
        targets = (Target("value", "at_most", ATTACHMENT_TARGET_KIB),)
        goals = ATTACHMENT_GOALS
    rows = [
        Row(
            f"RSS growth per socket, {roost.opened} sockets, {parked}",
            roost.per_socket,
            base.per_socket,
            "KiB",
            targets,
        ),
        Row(
            "RSS growth per socket, Roost rooms still live (info)",
            roost.per_socket_live,
            base.per_socket,
            "KiB",
        ),
        Row(
            "sockets opened per second, handshake included (info)",
            roost.opened / roost.open_seconds if roost.open_seconds else 0.0,
            base.opened / base.open_seconds if base.open_seconds else 0.0,
            "/s",
        ),
        Row("connect time p50 (info)", roost.connect_p50_ms, base.connect_p50_ms, "ms"),
        Row("connect time p99 (info)", roost.connect_p99_ms, base.connect_p99_ms, "ms"),
        Row(
            f"server CPU while {roost.opened} sockets sit idle (info)",
            roost.idle_cpu_seconds / roost.hold_seconds * 100,
            base.idle_cpu_seconds / base.hold_seconds * 100,
            "%",
        ),
        Row("sockets open (info)", roost.opened, base.opened, "sockets"),
    ]
    label = "idle" if params.connections < 100_000 else f"idle, {params.connections:,} asked"
    if cluster:
        label = "idle-cluster" + ("-100k" if params.connections >= 100_000 else "")
    if params.attachment:
        label += "-attachment"
    shape = (
        f"Roost as {params.workers} worker(s) behind {params.gateway_count} gateway(s): "
        if cluster
        else ""
    )
    return Outcome(
        scenario="idle",
        label=label,
        params=params.to_json(),
        roost=Side(subject, roost.per_socket, "KiB/socket", roost.to_json()),
        baseline=Side("bare websockets server", base.per_socket, "KiB/socket", base.to_json()),
        higher_is_better=False,
        goals=goals,
        notes=notes,
        errors=errors,
        heading="Idle WebSockets: server memory per socket"
        + (", Roost as a cluster" if cluster else "")
        + (f", a {params.attachment}-byte attachment each" if params.attachment else ""),
        sizes=(
            f"{shape}{params.connections} idle sockets over {params.rooms} room(s), held by "
            f"{params.procs} client process(es) from {max(1, params.sources)} local "
            f"address(es)"
            + (f", each with a {params.attachment}-byte attachment" if params.attachment else "")
            + f"; {WARMUP_SOCKETS} warm-up sockets opened and closed first; held "
            f"{params.duration:g} s"
        ),
        rows=rows,
        extra={
            "fd_limits": limits,
            "opened": {"roost": roost.opened, "baseline": base.opened},
            "stopped_by": stopped,
        },
    )


def process_table(processes: dict[str, dict[str, dict[str, int]]]) -> str:
    """``gateway 0 +97,412 KiB RSS, 16,702 of 20,000 files; ...`` from a cluster's census
    before and after the sockets opened."""
    before, after = processes.get("before", {}), processes.get("after", {})
    parts = []
    for label, now in after.items():
        grown = now["rss_kib"] - before.get(label, {}).get("rss_kib", 0)
        parts.append(
            f"{label} {grown:+,} KiB RSS ({now['rss_kib']:,} KiB), {now['open_files']:,} of "
            f"{now['fd_limit']:,} open files"
        )
    return "; ".join(parts)


def stopped_by(memory: SideMemory, limits: dict[str, int]) -> str:
    """Why fewer sockets opened than asked, as far as the readings tell ("" if all did)."""
    if memory.opened >= memory.asked:
        return ""
    after = memory.processes.get("after", {})
    full = [
        label
        for label, p in after.items()
        if p["fd_limit"] > 0 and p["open_files"] >= p["fd_limit"] - 64
    ]
    kinds = ", ".join(f"{k} {v}" for k, v in memory.errors.items()) or "none"
    if full:
        return f"stopped by the open-file limit of {', '.join(full)}; connect errors: {kinds}"
    if after:
        return f"no process at its open-file limit; connect errors: {kinds}"
    return f"stopped by the open-file limit of one process ({limits}); connect errors: {kinds}"
