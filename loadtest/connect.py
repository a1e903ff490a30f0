"""The ``connect`` scenario: server CPU per WebSocket upgrade, Roost vs a bare server.

What is measured: the CPU time (user + system, from ``/proc/<pid>/stat``) the server
process spends while ``--connections`` WebSockets open, over the upgrades that
completed; then, separately, while they close again.

* Roost: each socket is an upgrade to a room (``loadtest.servers.Room``, spread over
  ``--rooms``), whose ``fetch`` accepts it as a hibernatable socket with the tag
  ``member`` (``ctx.accept_websocket(request, tags=["member"])``): routing, the
  object's event, the socket table, the 101 and the access-log decision all count.
* Baseline: a bare ``websockets.asyncio.server.serve`` whose handler registers the
  connection and awaits its messages (``loadtest.servers``).

Rules that keep the comparison fair:

* Both servers run at once, each in its own process, with the same client processes
  and code; the sides take turns, one wave at a time (``--rounds`` waves of
  ``--connections`` sockets a side), so other work on the machine hits both alike.
* Before the measured waves, one unmeasured wave a side (``WARMUP_SOCKETS``) opens and
  closes, so one-time costs (imports, the rooms' first activation, SQLite files) are
  not charged to the upgrades.
* The CPU of a wave's opening is read from before the first connect to after the last
  socket's handshake completed at its client; closing is read from then to after the
  server holds no socket of the wave. The rooms stay live (``idle_timeout`` of an
  hour), so no upgrade pays for a wake.

With ``--workers N [--gateways M]`` the Roost side is a cluster (``loadtest.cluster``):
its CPU is summed over the supervisor and every gateway and worker, the sockets it
holds counted from ``/proc/net/tcp``.

``/proc`` counts CPU in clock ticks (10 ms here): a wave should cost well over that
(500 sockets a wave at a few hundred µs each is over 100 ms).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field

from loadtest.idle import idle_sides
from loadtest.params import Params
from loadtest.report import Row, Target
from loadtest.results import Goal, Outcome, Side
from loadtest.rig import Rig, Server
from loadtest.servers import CLUSTER, LOG_VARIABLE, object_path
from loadtest.stats import Histogram

__all__ = ["GOALS", "TARGET_US", "SideConnects", "run_connect", "summarize"]

#: The issue's target: server CPU per upgrade, in µs (user + system).
TARGET_US = 250.0
GOALS = (Goal("value", "at_most", TARGET_US, f"≤ {TARGET_US:g} µs per upgrade"),)
#: Sockets of the unmeasured wave each side opens and closes first.
WARMUP_SOCKETS = 100
#: Seconds allowed for the server to see a wave's sockets gone.
CLOSE_WAIT = 60.0


@dataclass(slots=True)
class SideConnects:
    """What one server spent on the measured waves."""

    side: str
    upgrades: int = 0
    open_user: float = 0.0
    open_sys: float = 0.0
    close_user: float = 0.0
    close_sys: float = 0.0
    open_seconds: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    times: Histogram = field(default_factory=Histogram)

    @property
    def per_upgrade_us(self) -> float:
        """Server CPU (user + system) per completed upgrade, in µs."""
        return (self.open_user + self.open_sys) / max(1, self.upgrades) * 1e6

    @property
    def per_close_us(self) -> float:
        """Server CPU (user + system) per socket closed, in µs."""
        return (self.close_user + self.close_sys) / max(1, self.upgrades) * 1e6

    def to_json(self) -> dict[str, object]:
        """The JSON form, with the per-socket figures (the histogram left out)."""
        fields = asdict(self)
        fields.pop("times")
        return {
            **fields,
            "errors": dict(self.errors),
            "per_upgrade_us": self.per_upgrade_us,
            "per_close_us": self.per_close_us,
            "connect_p50_ms": self.times.quantile(0.5) * 1e3,
            "connect_p99_ms": self.times.quantile(0.99) * 1e3,
        }


def _items(params: Params, count: int) -> list[tuple[str, str, int]]:
    """``count`` member sockets spread over the rooms."""
    return [
        (object_path("room", k % params.rooms), "member", k % params.rooms) for k in range(count)
    ]


def _wait_empty(server: Server, timeout: float = CLOSE_WAIT) -> int:
    """Wait until the server holds no socket; how many it still holds."""
    deadline = time.monotonic() + timeout
    while (held := int(server.call("count")[1])) and time.monotonic() < deadline:
        time.sleep(0.02)
    return held


def _wave(rig: Rig, side: str, params: Params, count: int, tally: SideConnects | None) -> None:
    """Open ``count`` sockets to ``side`` and close them; charge ``tally`` (if given)."""
    server = rig.servers[side]
    options = {"ramp": params.ramp, "sources": params.source_addresses()}
    group = f"{side}-wave"
    begun = server.cpu()
    connected = rig.connect(side, group, _items(params, count), options)
    opened = server.cpu()
    rig.close(group)
    left = _wait_empty(server)
    closed = server.cpu()
    if tally is None:
        return
    tally.upgrades += connected.opened
    tally.open_user += opened[0] - begun[0]
    tally.open_sys += opened[1] - begun[1]
    tally.close_user += closed[0] - opened[0]
    tally.close_sys += closed[1] - opened[1]
    tally.open_seconds += connected.seconds
    tally.errors.update(connected.errors)
    tally.times.merge(connected.times)
    if left:
        tally.errors["not_closed"] += left


def run_connect(params: Params, *, progress: bool | None = None) -> Outcome:
    """Open and close ``rounds`` waves on each side in turn, after a warm-up wave each."""
    sides = idle_sides(params)
    with tempfile.TemporaryDirectory(prefix="roost-connect-") as tmp, ExitStack() as stack:
        shape = (params.workers, params.gateway_count)
        rig = Rig(stack, sides, params.procs, tmp, progress=progress, shape=shape)
        for side in sides:
            _wave(rig, side, params, WARMUP_SOCKETS, None)
        tallies = {side: SideConnects(side) for side in sides}
        for _ in range(params.rounds):
            for side in sides:
                _wave(rig, side, params, params.connections, tallies[side])
    return summarize(params, tallies[sides[0]], tallies[sides[1]])


def _logging() -> str:
    """How the Roost server logs in this run (``servers.LOG_VARIABLE``)."""
    level = os.environ.get(LOG_VARIABLE)
    if level:
        return f"logging as `roost serve` does, at {level!r} (access log on at info)"
    return "no logging configured (access log off, as `roost serve --no-access-log`)"


def summarize(params: Params, roost: SideConnects, base: SideConnects) -> Outcome:
    """The outcome of ``connect`` from both sides' tallies."""
    us = "µs"

    def per(seconds: float, tally: SideConnects) -> float:
        return seconds / max(1, tally.upgrades) * 1e6

    rows = [
        Row(
            f"server CPU per upgrade (user+system), {roost.upgrades:,} upgrades",
            roost.per_upgrade_us,
            base.per_upgrade_us,
            us,
            Target("value", "at_most", TARGET_US),
        ),
        Row(
            "server user CPU per upgrade (info)",
            per(roost.open_user, roost),
            per(base.open_user, base),
            us,
        ),
        Row(
            "server system CPU per upgrade (info)",
            per(roost.open_sys, roost),
            per(base.open_sys, base),
            us,
        ),
        Row("server CPU per close (info)", roost.per_close_us, base.per_close_us, us),
        Row(
            "upgrades per second, client-paced (info)",
            roost.upgrades / roost.open_seconds if roost.open_seconds else 0.0,
            base.upgrades / base.open_seconds if base.open_seconds else 0.0,
            "/s",
        ),
        Row(
            "connect time p50 (info)",
            roost.times.quantile(0.5) * 1e3,
            base.times.quantile(0.5) * 1e3,
            "ms",
        ),
        Row(
            "connect time p99 (info)",
            roost.times.quantile(0.99) * 1e3,
            base.times.quantile(0.99) * 1e3,
            "ms",
        ),
    ]
    errors = {
        f"{tally.side}:{kind}": count
        for tally in (roost, base)
        for kind, count in tally.errors.items()
    }
    method = (
        "Server CPU (user + system, /proc/<pid>/stat, 10 ms ticks) from before a wave's "
        "first connect to after its last handshake completed at the client, over the "
        "upgrades completed; closing is read separately, until the server holds no "
        "socket. Roost: upgrades to `Room` objects (live) whose `fetch` accepts a "
        f"hibernatable socket with the tag `member`; {_logging()}. Baseline: bare "
        "`websockets.asyncio.server.serve`, handler registering the connection and awaiting "
        "messages (`compression=None`, `ping_interval=None`). Both servers up at once, "
        "the sides taking turns one wave at a time; same client processes and code (no "
        "permessage-deflate offered); uvloop on both sides."
    )
    cluster = roost.side == CLUSTER
    if cluster:
        method += (
            f" Roost as a cluster: `roost serve --workers {params.workers} --gateways "
            f"{params.gateway_count}`, CPU summed over the supervisor, its gateways and "
            "workers."
        )
    return Outcome(
        scenario="connect",
        label="connect-cluster" if cluster else "connect",
        params=params.to_json(),
        roost=Side(
            "Roost as a cluster" if cluster else "Roost (hibernatable accept)",
            roost.per_upgrade_us,
            "µs/upgrade",
            roost.to_json(),
        ),
        baseline=Side("bare websockets server", base.per_upgrade_us, "µs/upgrade", base.to_json()),
        higher_is_better=False,
        goals=GOALS,
        notes=[method],
        errors=errors,
        heading="WebSocket upgrades: server CPU per upgrade"
        + (", Roost as a cluster" if cluster else ""),
        sizes=(
            f"{params.rounds} wave(s) a side of {params.connections} sockets over "
            f"{params.rooms} room(s), opened and closed; {WARMUP_SOCKETS} warm-up sockets "
            f"a side first; {params.procs} client process(es)"
        ),
        rows=rows,
    )
