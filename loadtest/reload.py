"""The ``reload`` scenario: chat traffic with exactly-once messages while the app is
reloaded, every few seconds, under a cluster's sockets.

Set-up: ``roost serve APP --workers N --gateways M`` (``loadtest.cluster``; 2 workers
by default); ``--connections`` plain sockets over ``--rooms`` rooms (``Room``: every
message is broadcast to the room, the sender included), then ``--writers`` ``roost.v1``
writers a room, each sending exactly-once messages (``{"t":"msg","data":P,"id":N}``) at
``--rate`` a second, at most ``--window`` unacknowledged (``loadtest.sequenced``).

For ``--duration`` seconds of traffic, from ``--reload-every`` seconds in, the app file
is rewritten (a new ``VERSION``) and the supervisor gets SIGHUP (what ``roost reload``
does: its pid is in ``DATA_DIR/roost.pid``), then the next reload starts
``--reload-every`` seconds after the last one began, or once it finished. A reload
window runs from the SIGHUP to the moment the last worker of the old generation has
exited (read from ``/proc`` every 20 ms); a message sent in a window is a reload
sample, any other a baseline sample: the baseline is the same run outside reloads.
Within a window, the hand-over starts once every new worker is connected to every
gateway (its ready file): from then the gateways hold the events of its partition
until the old worker has finished; before it, the old workers serve as usual while the
new ones start (imports, opening ``hub.db``). Latency of hand-over samples is reported
too.

Reported: sockets closed (must be 0), messages acknowledged, acknowledged messages a
socket of their room never got (lost) and copies or acknowledgements received twice
(duplicated) (both must be 0), messages never acknowledged (must be 0: no socket
closes, so none needs resending), the number of reloads and how long they took, and
latency from send to receipt at every socket of the room (p50, p99) of reload samples
against baseline samples. ``duration`` is this scenario's one window (one server).
"""

from __future__ import annotations

import bisect
import contextlib
import tempfile
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from functools import partial
from typing import Any

from loadtest.cluster import ClusterServer, wait_until
from loadtest.params import Params
from loadtest.report import Row, Target
from loadtest.results import Check, Outcome, Side
from loadtest.rig import LEAD, Connected, Rig, Window
from loadtest.sequenced import Tally, tally
from loadtest.servers import CLUSTER, object_path
from loadtest.stats import Histogram, percentile

__all__ = ["Reloader", "in_window", "reload_label", "run_reload", "split_samples"]

#: Seconds a reload gets to finish before it counts as failed.
RELOAD_TIMEOUT = 60.0
#: Seconds left between the end of a reload and the start of the next at least.
GAP = 0.2
#: Writers' numbers start here, members' at 0.
WRITER_NUMBERS = 1_000_000
MS = 1e3


class Reloader:
    """Reloads ``server`` every ``every`` seconds from ``first`` until ``last``
    (``time.monotonic()`` instants), in a thread of the parent, noting each reload's
    (SIGHUP, new workers connected, old workers gone) instants."""

    def __init__(self, server: ClusterServer, every: float, first: float, last: float) -> None:
        self.server = server
        self.every = every
        self.first = first
        self.last = last
        self.reloads: list[tuple[float, float, float]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reloader", daemon=True)

    def start(self) -> None:
        """Start reloading."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the reload under way, if any; wait for the thread."""
        self._stop.set()
        self._thread.join(2 * RELOAD_TIMEOUT + 5.0)

    @property
    def windows(self) -> list[tuple[float, float]]:
        """Each reload's window: SIGHUP to the old workers gone."""
        return sorted((begun, ended) for begun, _, ended in self.reloads)

    @property
    def hand_overs(self) -> list[tuple[float, float]]:
        """Each reload's hand-over: new workers connected (the gateways hold the
        partitions' events from then) to the old workers gone."""
        return sorted((ready, ended) for _, ready, ended in self.reloads)

    def _run(self) -> None:
        at = self.first
        while not self._stop.wait(max(0.0, at - time.monotonic())):
            if time.monotonic() > self.last:
                return
            begun = time.monotonic()
            try:
                generation, old = self.server.reload()
            except OSError as exc:
                self.failures.append(f"reload at +{begun - self.first:.1f} s: {exc!r}")
                return
            connected = wait_until(partial(self.server.connected, generation), RELOAD_TIMEOUT)
            ready = time.monotonic()
            done = wait_until(partial(self.server.reloaded, generation, old), RELOAD_TIMEOUT)
            ended = time.monotonic()
            self.reloads.append((begun, ready, ended))
            if not (connected and done):
                self.failures.append(
                    f"reload to generation {generation} not done after {RELOAD_TIMEOUT:g} s"
                )
                return
            at = max(begun + self.every, ended + GAP)


def in_window(instant: float, windows: Sequence[tuple[float, float]]) -> bool:
    """True when ``instant`` falls in one of ``windows`` (sorted, not overlapping)."""
    at = bisect.bisect_right(windows, (instant, float("inf"))) - 1
    return at >= 0 and windows[at][0] <= instant <= windows[at][1]


def split_samples(
    samples: Iterable[bytes],
    windows: Sequence[tuple[float, float]],
    inner: Sequence[tuple[float, float]] = (),
) -> tuple[Histogram, Histogram, Histogram]:
    """Latencies of the (send time, latency) ``samples`` (``Recorder.samples`` bytes):
    those sent in one of ``windows``, those of them sent in one of ``inner``, and the
    others."""
    during, within, outside = array("d"), array("d"), array("d")
    for chunk in samples:
        pairs = array("d")
        pairs.frombytes(chunk)
        for index in range(0, len(pairs) - 1, 2):
            sent, latency = pairs[index], pairs[index + 1]
            if in_window(sent, windows):
                during.append(latency)
                if in_window(sent, inner):
                    within.append(latency)
            else:
                outside.append(latency)
    return Histogram.of(during), Histogram.of(within), Histogram.of(outside)


def layout(params: Params) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """(members, writers): plain sockets over the rooms, then the writers of each room."""
    rooms = params.rooms
    members = [
        (object_path("room", i % rooms), "seq_member", i % rooms) for i in range(params.connections)
    ]
    writers = [
        (object_path("room", room), "seq_writer", room)
        for _ in range(max(1, params.writers))
        for room in range(rooms)
    ]
    return members, writers


def run_reload(params: Params, *, progress: bool | None = None) -> Outcome:
    """Run chat traffic against a cluster while reloading it; count what a reload cost."""
    members, writers = layout(params)
    options: dict[str, Any] = {"ramp": params.ramp, "sources": params.source_addresses()}
    run_options = {**params.run_options(), "seconds": params.duration}
    with tempfile.TemporaryDirectory(prefix="roost-reload-") as tmp, ExitStack() as stack:
        shape = (params.workers, params.gateway_count)
        rig = Rig(stack, (CLUSTER,), params.procs, tmp, progress=progress, shape=shape)
        server = rig.servers[CLUSTER]
        assert isinstance(server, ClusterServer)
        connected = rig.connect(CLUSTER, "load", members, options)
        wrote = rig.connect(CLUSTER, "load", writers, {**options, "first_number": WRITER_NUMBERS})
        connected.opened += wrote.opened
        connected.errors.update(wrote.errors)
        now = time.monotonic()
        reloader = Reloader(
            server,
            params.reload_every,
            first=now + LEAD + params.reload_every,
            last=now + LEAD + params.duration - 1.0,
        )
        reloader.start()
        try:
            window = rig.run(CLUSTER, "load", 1, run_options)
        finally:
            reloader.stop()
        held = server.count()
        with contextlib.suppress(Exception):
            rig.close("load")
    return summarize(params, window, connected, held, reloader)


def _closed(window: Window, connected: Connected, held: int) -> int:
    """Sockets that closed: seen closing by the clients, or missing from the server."""
    seen = window.errors["connection_lost"] + window.errors["closed_by_server"]
    return max(seen, connected.opened - held)


def summarize(
    params: Params, window: Window, connected: Connected, held: int, reloader: Reloader
) -> Outcome:
    """The outcome of ``reload``: latency in reload windows against outside them, and
    the counts that must be zero."""
    reports = [t for outcome in window.outcomes for t in outcome.get("tallies", [])]
    counts: Tally = tally(reports)
    windows = reloader.windows
    during, hand_over, outside = split_samples(
        (o["samples"] for o in window.outcomes), windows, reloader.hand_overs
    )
    closed = _closed(window, connected, held)
    lengths = sorted(stop - start for start, stop in windows)
    holds = sorted(stop - start for start, stop in reloader.hand_overs)
    errors = {f"{CLUSTER}:{k}": v for k, v in (connected.errors + window.errors).items()}
    checks = [
        Check("sockets closed", closed),
        Check("acknowledged copies lost", counts.lost),
        Check("copies or acks duplicated", counts.duplicated),
        Check("messages never acknowledged", counts.unacknowledged),
        Check("reloads that failed", len(reloader.failures)),
    ]
    word = "outside reloads"
    rows = [
        Row(
            f"latency {name}, send to receipt: sent during a reload vs outside",
            during.quantile(q) * MS,
            outside.quantile(q) * MS,
            "ms",
            baseline_word=word,
        )
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
    ]
    rows += [
        Row(
            f"latency {name}, sent during a hand-over (info)",
            hand_over.quantile(q) * MS,
            outside.quantile(q) * MS,
            "ms",
            baseline_word=word,
        )
        for name, q in (("p50", 0.5), ("p99", 0.99))
    ]
    nan = float("nan")
    zero = Target("value", "at_most", 0)
    rows += [
        Row(
            f"receipts timed: during reloads (hand-overs: {hand_over.total:,}) vs outside (info)",
            during.total,
            outside.total,
            "receipts",
            baseline_word=word,
        ),
        Row("reloads done", len(windows), nan, "reloads"),
        Row("reload time p50, SIGHUP to old workers gone (info)", _ms(lengths, 0.5), nan, "ms"),
        Row("reload time max (info)", _ms(lengths, 1.0), nan, "ms"),
        Row(
            "hand-over time p50, new workers connected to old gone (info)",
            _ms(holds, 0.5),
            nan,
            "ms",
        ),
        Row("hand-over time max (info)", _ms(holds, 1.0), nan, "ms"),
        Row("time in reload windows (info)", sum(lengths) / params.duration * 100, nan, "%"),
        Row("sockets closed", closed, nan, "sockets", zero),
        Row("messages acknowledged (info)", counts.acknowledged, nan, "msgs"),
        Row(
            "copies of acknowledged messages a socket never received (lost)",
            counts.lost,
            nan,
            "copies",
            zero,
        ),
        Row(
            "copies or acknowledgements received twice (duplicated)",
            counts.duplicated,
            nan,
            "copies",
            zero,
        ),
        Row("messages never acknowledged", counts.unacknowledged, nan, "msgs", zero),
        Row(
            "deliveries per second over the run (info)",
            counts.delivered / params.duration,
            nan,
            "msg/s",
        ),
        Row("server CPU busy, all cluster processes (info)", window.server_busy * 100, nan, "%"),
        Row("machine CPU busy, all processes (info)", window.machine_busy * 100, nan, "%"),
    ]
    begun = windows[0][0] if windows else 0.0
    notes = [
        _method(params),
        "Reloads (start after the first: SIGHUP to new workers connected + hand-over, in "
        "s): "
        + (
            ", ".join(
                f"+{s - begun:.1f} ({r - s:.2f} + {e - r:.2f})"
                for s, r, e in sorted(reloader.reloads)
            )
            or "none"
        )
        + f"; sockets open at the end: {held} of {connected.opened}; writers sent "
        f"{counts.sent:,} messages, {counts.delivered:,} copies received.",
    ]
    if reloader.failures:
        notes.append("Reload failures: " + "; ".join(reloader.failures) + ".")
    return Outcome(
        scenario="reload",
        label=reload_label(params),
        params=params.to_json(),
        roost=Side(
            "sent during reloads",
            during.quantile(0.99) * MS,
            "ms (p99)",
            {"latency_ms": during.summary_ms()},
        ),
        baseline=Side(
            "sent outside reloads, same run",
            outside.quantile(0.99) * MS,
            "ms (p99)",
            {"latency_ms": outside.summary_ms()},
        ),
        higher_is_better=False,
        checks=checks,
        errors=errors,
        heading=(
            "Reload under load: exactly-once chat while the workers are replaced "
            f"({params.workers} workers, {params.gateway_count} gateway(s))"
        ),
        sizes=_sizes(params),
        notes=notes,
        rows=rows,
        latency={"roost": during, "baseline": outside},
        series={"roost": window.series},
        extra={
            "reloads": [list(r) for r in sorted(reloader.reloads)],
            "tally": {
                "sockets": counts.sockets,
                "sent": counts.sent,
                "acknowledged": counts.acknowledged,
                "unacknowledged": counts.unacknowledged,
                "lost": counts.lost,
                "duplicated": counts.duplicated,
                "delivered": counts.delivered,
            },
            "held_at_end": held,
        },
    )


def reload_label(params: Params) -> str:
    """``reload`` (2 workers, 1 gateway), else ``reload-2g``, ``reload-2g-4w``: the name
    of its section in RESULTS.md."""
    label = "reload"
    if params.gateway_count > 1:
        label += f"-{params.gateway_count}g"
    if params.workers != 2:
        label += f"-{params.workers}w"
    return label


def _ms(lengths: Sequence[float], q: float) -> float:
    return percentile(lengths, q) * MS


def _sizes(params: Params) -> str:
    p = params
    return (
        f"cluster of {p.workers} worker(s), {p.gateway_count} gateway(s), reloaded every "
        f"{p.reload_every:g} s: {p.connections} sockets over {p.rooms} rooms + "
        f"{max(1, p.writers)} roost.v1 writer(s) a room, {p.rate:g} exactly-once msg/s each "
        f"(at most {p.window} unacknowledged), {p.size} bytes; {p.duration:g} s; "
        f"{p.procs} client process(es)"
    )


def _method(params: Params) -> str:
    return (
        f"`roost serve APP --workers {params.workers} --gateways {params.gateway_count}`; "
        "each reload rewrites APP (a new `VERSION`) and sends SIGHUP to the pid in "
        "`DATA_DIR/roost.pid` (as `roost reload` does). A reload window runs from the "
        "SIGHUP until the last old worker exited; a message sent in one is a reload "
        "sample, any other (after a 1 s warm-up) a baseline sample of the same run. "
        "Writers: `roost.v1`, `msg` with ids 1, 2, ... (exactly once), paced on `--rate` "
        "and on their acks; every socket of the room gets the broadcast copy (`Room`: "
        "`ctx.broadcast`), the writer included. Lost: a copy of an acknowledged message "
        "that a socket of its room never received; duplicated: a copy received twice, or "
        "an id acknowledged twice; latency: receipt - send time stamped in the message."
    )
