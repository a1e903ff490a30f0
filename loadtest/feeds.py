"""The ``feeds`` scenario: table change fan-out over ``roost.v1``, and the cost of resuming.

Throughput: one writer, ``--connections`` subscribers, one object.

* Roost: ``FeedRoom`` declares the feed table ``items``; the writer (a ``roost.v1``
  socket) sends ``msg`` frames whose handler inserts one row each; every subscriber
  sent ``{"t":"sub","id":1,"table":"items"}`` (live changes, no snapshot) and receives
  one ``changes`` frame per insert (protocol/SPEC.md §9).
* Baseline: the same job done by hand on the same hub: ``FeedBroadcast`` inserts the
  same row into a table that is not a feed, then ``ctx.broadcast``s the equivalent JSON
  ``changes`` frame to plain sockets. Both sides write the row durably and deliver the
  same bytes to every subscriber, so the ratio is the price (or gain) of the feed
  machinery (change capture, per-subscriber filtering, ``roost.v1`` framing) against
  a broadcast. A bare ``websockets.broadcast`` would skip the write, which is the job.

The writer sends message ``k + window`` once its own change ``k`` came back. Figure:
changes delivered per second at the subscribers (one per ``changes`` frame here).

Resume cost (Roost only): ``--connections`` subscribers hold live subscriptions and note
the ``seq`` of ``subscribed``; the hub is restarted (process stopped, started again on
the same data directory); the writer then makes ``--missed`` changes; then the same
number of new sockets subscribe with ``since`` (replay of the missed changes) and, after
them, with ``snapshot`` (every row of the table). Each is timed from the ``sub`` frames
being sent (all at once) to the last ``subscribed``, with the server's CPU.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, ClassVar

import hub
from loadtest.params import Params
from loadtest.report import Row
from loadtest.results import Outcome, Side
from loadtest.rig import SATURATED, Connected, Rig, Window, finding
from loadtest.stats import Histogram, rate_over
from loadtest.traffic import Figures, figure_rows

__all__ = ["BROADCAST_BINDING", "FEED_BINDING", "FeedBroadcast", "FeedRoom", "run_feeds"]

FEED_BINDING = "FEED"
BROADCAST_BINDING = "FEED_BROADCAST"
FEED_PATH = "/objects/feed/bench"
BROADCAST_PATH = "/objects/feed-broadcast/bench"
SUB = b'{"t":"sub","id":1,"table":"items"}'


class FeedRoom(hub.DurableObject):
    """One feed table, ``items``; every message becomes a row."""

    feeds: ClassVar[Sequence[str]] = ("items",)

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"
        )

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Insert the message as a row (subscribers get it as a change)."""
        self.ctx.storage.sql.exec("INSERT INTO items (body) VALUES (?)", str(message))


class FeedBroadcast(FeedRoom):
    """The baseline: insert the row into a plain table, broadcast the equivalent frame."""

    feeds: ClassVar[Sequence[str]] = ()

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Insert the row, then send every socket what a feed subscriber would get."""
        sql = self.ctx.storage.sql
        body = str(message)
        row_id = sql.exec("INSERT INTO items (body) VALUES (?) RETURNING id", body).one()["id"]
        change = {"seq": row_id, "op": "insert", "row": {"id": row_id, "body": body}}
        frame = {"t": "changes", "id": 1, "changes": [change]}
        self.ctx.broadcast(json.dumps(frame, separators=(",", ":")))


def _connect(rig: Rig, params: Params, group: str, roost_v1: bool) -> Connected:
    path = FEED_PATH if roost_v1 else BROADCAST_PATH
    subs = [(path, "subscriber", 0) for _ in range(params.connections)]
    options: dict[str, Any] = {"roost_v1": roost_v1, "ramp": params.ramp}
    connected = rig.connect("roost", group, subs, options)
    writer = rig.connect(
        "roost", group, [(path, "feed_writer", 0)], {**options, "first_number": 1_000_000}
    )
    connected.opened += writer.opened
    connected.errors.update(writer.errors)
    if roost_v1:
        _subscribe(rig, group, SUB)
    return connected


def _subscribe(rig: Rig, group: str, frame: bytes) -> dict[str, Any]:
    """Send ``frame`` on every subscriber of ``group``; the merged answer."""
    server = rig.servers["roost"]
    cpu0 = sum(server.cpu())
    for client in rig.clients:
        client.send("subscribe", group, frame, 120.0)
    replies = rig.wait(rig.clients, "subscribed", 180.0)
    cpu = sum(server.cpu()) - cpu0
    times = Histogram()
    errors: Counter[str] = Counter()
    for reply in replies:
        times.merge(Histogram.from_wire(reply[1]))
        errors.update(reply[7])
    first = min(r[2] for r in replies)
    last = max(r[3] for r in replies)
    return {
        "times": times,
        "wall": last - first,
        "cpu": cpu,
        "changes": sum(r[4] for r in replies),
        "rows": sum(r[5] for r in replies),
        "seq": max(r[6] for r in replies),
        "errors": errors,
    }


def run_feeds(params: Params, *, progress: bool | None = None) -> Outcome:
    """Feed fan-out against a hand-made broadcast, then the resume cost."""
    run_options = params.run_options()
    groups = {"roost": "feed", "baseline": "bcast"}
    windows: list[Window] = []
    connected: dict[str, Connected] = {}
    with tempfile.TemporaryDirectory(prefix="roost-feeds-") as tmp, ExitStack() as stack:
        rig = Rig(stack, ("roost",), params.procs, tmp, progress=progress)
        connected["roost"] = _connect(rig, params, "feed", True)
        connected["baseline"] = _connect(rig, params, "bcast", False)
        for number in range(1, params.rounds + 1):
            order = ("roost", "baseline") if number % 2 else ("baseline", "roost")
            for side in order:
                window = rig.run("roost", groups[side], number, run_options)
                window.side = side
                windows.append(window)
        rig.close("feed")
        rig.close("bcast")
        resume = _resume(rig, stack, params, tmp)
    return _summarize(params, windows, connected, resume)


def _resume(rig: Rig, stack: ExitStack, params: Params, tmp: str) -> dict[str, dict[str, Any]]:
    """Subscribers before a restart, missed changes, then ``since`` vs ``snapshot``."""
    subs = [(FEED_PATH, "subscriber", 0) for _ in range(params.connections)]
    v1 = {"roost_v1": True, "ramp": params.ramp}
    rig.connect("roost", "before", subs, v1)
    before = _subscribe(rig, "before", SUB)
    seq = int(before["seq"])
    rig.stop_server("roost")  # the restart: the process ends, its sockets with it
    rig.close("before")
    rig.start_server(stack, "roost", tmp)
    rig.connect("roost", "writer", [(FEED_PATH, "feed_writer", 0)], {**v1, "first_number": 9})
    _subscribe(rig, "writer", SUB)
    rig.run(
        "roost",
        "writer",
        0,
        {"seconds": 60.0, "size": params.size, "window": 1, "count": params.missed},
    )
    rig.close("writer")
    result: dict[str, dict[str, Any]] = {}
    frames = {
        "since": b'{"t":"sub","id":1,"table":"items","since":%d}' % seq,
        "snapshot": b'{"t":"sub","id":1,"table":"items","snapshot":true}',
    }
    for kind, frame in frames.items():
        rig.connect("roost", kind, subs, v1)
        result[kind] = _subscribe(rig, kind, frame)
        rig.close(kind)
    result["since"]["from_seq"] = seq
    return result


def _summarize(
    params: Params,
    windows: list[Window],
    connected: dict[str, Connected],
    resume: dict[str, dict[str, Any]],
) -> Outcome:
    sides = ("roost", "baseline")
    per_room: Counter[int] = Counter({0: params.connections + 1})
    by = {side: [w for w in windows if w.side == side] for side in sides}
    figures = {side: Figures.of(by[side], connected[side], per_room) for side in sides}
    names = {"roost": "Roost feed", "baseline": "ctx.broadcast of the same frame"}
    errors = {f"{s}:{k}": v for s in sides for k, v in figures[s].errors.items()}
    since, snap = resume["since"], resume["snapshot"]
    expected = params.connections * params.missed
    if since["changes"] != expected:
        errors["resume:since_changes_missing"] = expected - int(since["changes"])
    for kind in ("since", "snapshot"):
        for key, value in resume[kind]["errors"].items():
            errors[f"resume-{kind}:{key}"] = value
    findings = [
        finding(s, figures[s].server_busy * 100, figures[s].client_busy * 100) for s in sides
    ]
    rows = figure_rows(params, figures["roost"], figures["baseline"], "msg/s", len(by["roost"]))
    rows[0] = Row(
        f"changes delivered/s, {params.connections} subscribers (median of "
        f"{len(by['roost'])} windows)",
        figures["roost"].rate,
        figures["baseline"].rate,
        "changes/s",
        baseline_word="broadcast",
    )
    rows += [
        Row(
            f"resume after a restart: {params.connections} subscribers, `since` with "
            f"{params.missed} missed changes vs `snapshot` of "
            f"{snap['rows'] // max(1, params.connections)} rows (all subscribed, wall)",
            since["wall"] * 1e3,
            snap["wall"] * 1e3,
            "ms",
            baseline_word="snapshot",
        ),
    ]
    resume_rows: tuple[tuple[str, Callable[[dict[str, Any]], float]], ...] = (
        ("resume: server CPU, `since` vs `snapshot`", lambda r: r["cpu"]),
        ("resume: per subscriber, sub to subscribed, p50", lambda r: r["times"].quantile(0.5)),
        ("resume: per subscriber, p99", lambda r: r["times"].quantile(0.99)),
    )
    rows += [
        Row(name, figure(since) * 1e3, figure(snap) * 1e3, "ms", baseline_word="snapshot")
        for name, figure in resume_rows
    ]
    resume_json = {
        kind: {
            "wall_ms": r["wall"] * 1e3,
            "server_cpu_ms": r["cpu"] * 1e3,
            "changes": r["changes"],
            "rows": r["rows"],
            "per_subscriber_ms": r["times"].summary_ms(),
        }
        for kind, r in resume.items()
    }
    return Outcome(
        scenario="feeds",
        label="feeds",
        params=params.to_json(),
        roost=Side(names["roost"], figures["roost"].rate, "changes/s", figures["roost"].to_json()),
        baseline=Side(
            names["baseline"], figures["baseline"].rate, "changes/s", figures["baseline"].to_json()
        ),
        higher_is_better=True,
        errors=errors,
        client_saturated=statistics.median(w.client_busy for w in by["roost"]) >= SATURATED,
        heading="Change feeds: fan-out of table changes, and the cost of resuming",
        sizes=(
            f"1 writer, {params.connections} subscribers, one object, window "
            f"{params.window}, {params.size}-byte bodies; {params.rounds} window(s) of "
            f"{params.window_seconds:g} s a side; resume with {params.missed} missed changes"
        ),
        notes=[
            'Roost: `FeedRoom` with `feeds = ("items",)`, the writer\'s `roost.v1` `msg` '
            "inserts one row, every subscriber sent `sub` (live, no snapshot) and gets one "
            "`changes` frame per insert. Baseline: `FeedBroadcast` on the same hub inserts "
            "the same row into a plain table and `ctx.broadcast`s the equivalent `changes` "
            "JSON to plain sockets: the same durable write and the same bytes to every "
            "subscriber, done by hand (a bare websockets.broadcast would skip the write). "
            "Latency: from the writer's send to the change's receipt.",
            "Resume: subscribers note `subscribed`'s seq, the hub process is stopped and "
            f"started again on its data, the writer makes {params.missed} changes, then "
            f"{params.connections} new sockets `sub` with `since` (replay) and, after them, "
            "with `snapshot`; wall time from the `sub` frames to the last `subscribed`. "
            f"Figures: since {resume_json['since']}; snapshot {resume_json['snapshot']}.",
            "Saturation: " + "; ".join(findings) + ".",
            "Windows (changes/s, in order): "
            + ", ".join(
                f"{w.side} {rate_over(w.series, w.warmup, w.seconds):,.0f}" for w in windows
            )
            + ".",
        ],
        rows=rows,
        extra={"resume": resume_json, "findings": findings},
        latency={s: figures[s].latency for s in sides},
        series={s: by[s][-1].series for s in sides},
    )
