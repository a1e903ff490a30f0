"""Storage micro-benchmarks of the object runtime, each next to a baseline from the same run.

Run: ``python -m loadtest.bench_storage [--rounds N] [--json FILE] [--results-md FILE]``.

What is measured, and against what:

1. Point query: ``ctx.storage.sql.exec("SELECT v FROM t WHERE id = ?", i).one()`` run
   ``--points`` times inside one RPC method, timed with ``perf_counter`` inside the
   method (RPC overhead excluded), against ``conn.execute(...).fetchone()`` of plain
   ``sqlite3`` on the same file. Both loops run inside one transaction opened and
   committed outside the timed region, because every Roost event is one transaction.
   An informational row compares with plain ``sqlite3`` that also builds the dict row
   Roost returns, to tell the cost of the row shape from the cost of the wrapper.
2. Insert: ``INSERT INTO t2 (v) VALUES (?)`` ``--inserts`` times inside one RPC method
   against plain ``sqlite3`` between ``BEGIN`` and ``COMMIT``, into the same table. A
   second row times the whole event from the caller (RPC and commit included) against
   ``BEGIN``, the inserts and ``COMMIT``.
3. Wake cost: the caller's latency of ``await stub.first_query()`` (one point query) on
   an evicted object against the same call on a live object, samples interleaved.

Rules that keep the comparison fair:

* Roost and the baselines alternate within every round, the order rotating from round
  to round, and each figure is the median over rounds (ratios are median over median);
  one warm-up round, and the first wake samples, are not recorded.
* The garbage collector is paused during every timed region, on both sides.
* The plain connection uses the hub's pragmas (WAL, ``synchronous=NORMAL``,
  ``foreign_keys=ON``) and is closed before the wake samples, so eviction and wake see
  the file as they would in production (only the hub's own connection open).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import hub
from loadtest.cli import add_output_options, non_negative, positive_int
from loadtest.report import machine_facts, write_section

__all__ = ["Bench", "Params", "Result", "Target", "main", "run_benchmark"]

POINT_QUERY = "SELECT v FROM t WHERE id = ?"
INSERT = "INSERT INTO t2 (v) VALUES (?)"
PAYLOAD = "x" * 32
TIMES = "\u00d7"  # the multiplication sign of "1.12x raw"
MICRO = 1e6
BENCH_NAME = "bench"
SIDES = ("roost", "raw", "raw_dict")
Samples = dict[str, list[float]]
"""Per-round figures by side (``roost``, ``raw``, ``raw_dict``)."""
SECTION = "storage"
HEADING = "Storage micro-benchmarks (object runtime)"


class Bench(hub.DurableObject):
    """The object under test: one table to read, one to append to."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        sql = ctx.storage.sql
        sql.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        sql.exec("CREATE TABLE IF NOT EXISTS t2 (id INTEGER PRIMARY KEY, v TEXT)")

    async def fill(self, rows: int) -> int:
        """Make ``t`` hold ids ``1..rows``; returns the row count."""
        sql = self.ctx.storage.sql
        sql.exec("DELETE FROM t")
        for i in range(1, rows + 1):
            sql.exec("INSERT INTO t (id, v) VALUES (?, ?)", i, f"value-{i:08d}")
        return int(sql.exec("SELECT count(*) AS n FROM t").one()["n"] or 0)

    async def run_points(self, n: int, rows: int) -> float:
        """Seconds for ``n`` point queries through ``sql.exec(...).one()``."""
        sql = self.ctx.storage.sql
        start = time.perf_counter()
        for i in range(n):
            sql.exec(POINT_QUERY, i % rows + 1).one()
        return time.perf_counter() - start

    async def run_inserts(self, n: int) -> float:
        """Seconds for ``n`` inserts through ``sql.exec`` (the commit comes after)."""
        sql = self.ctx.storage.sql
        start = time.perf_counter()
        for _ in range(n):
            sql.exec(INSERT, PAYLOAD)
        return time.perf_counter() - start

    async def first_query(self) -> str:
        """One point query: the work of a typical first event after a wake."""
        return str(self.ctx.storage.sql.exec(POINT_QUERY, 1).one()["v"])


@dataclass(frozen=True, slots=True)
class Params:
    """The sizes of one run."""

    rounds: int
    points: int
    rows: int
    inserts: int
    wake_samples: int
    wake_warmup: int


@dataclass(frozen=True, slots=True)
class Target:
    """What a result must stay under: a ratio to the baseline or a difference from it."""

    metric: Literal["ratio", "delta"]
    limit: float


@dataclass(frozen=True, slots=True)
class Result:
    """One measure: Roost's figure, the baseline's, and how they compare."""

    name: str
    roost: float
    baseline: float
    unit: str
    ratio: float
    target: Target | None
    baseline_kind: str
    delta: float

    @property
    def met(self) -> bool | None:
        """True when the target is met; None when the row has no target."""
        if self.target is None:
            return None
        value = self.ratio if self.target.metric == "ratio" else self.delta
        return value <= self.target.limit

    def to_json(self) -> dict[str, object]:
        """The JSON form: name, roost, baseline, unit, ratio, target (and delta, met)."""
        row = asdict(self)
        row["met"] = self.met
        return row


def _result(
    name: str,
    roost: float,
    baseline: float,
    unit: str,
    target: Target | None,
    baseline_kind: str,
) -> Result:
    return Result(
        name=name,
        roost=roost,
        baseline=baseline,
        unit=unit,
        ratio=roost / baseline,
        target=target,
        baseline_kind=baseline_kind,
        delta=roost - baseline,
    )


# -- measuring ----------------------------------------------------------------------------


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the garbage collector out of a timed region (as ``timeit`` does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def open_raw(path: Path) -> sqlite3.Connection:
    """A plain connection to the object's file with the hub's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def raw_points(conn: sqlite3.Connection, n: int, rows: int) -> float:
    """Seconds for ``n`` point queries with plain sqlite3, inside one transaction."""
    conn.execute("BEGIN")
    try:
        start = time.perf_counter()
        for i in range(n):
            conn.execute(POINT_QUERY, (i % rows + 1,)).fetchone()
        return time.perf_counter() - start
    finally:
        conn.execute("COMMIT")


def raw_points_dict(conn: sqlite3.Connection, n: int, rows: int) -> float:
    """Seconds for ``n`` plain point queries that also build a dict row, as Roost does."""
    conn.execute("BEGIN")
    try:
        start = time.perf_counter()
        for i in range(n):
            cursor = conn.execute(POINT_QUERY, (i % rows + 1,))
            names = [column[0] for column in cursor.description]
            # No strict=: the lengths match by construction, and on Python 3.11 the
            # keyword alone costs about 0.2 µs a call (zip takes the slow path).
            dict(zip(names, cursor.fetchone()))  # noqa: B905
        return time.perf_counter() - start
    finally:
        conn.execute("COMMIT")


def raw_inserts(conn: sqlite3.Connection, n: int) -> tuple[float, float]:
    """Seconds for ``n`` plain inserts, and for BEGIN + the inserts + COMMIT."""
    event_start = time.perf_counter()
    conn.execute("BEGIN")
    start = time.perf_counter()
    for _ in range(n):
        conn.execute(INSERT, (PAYLOAD,))
    inserts = time.perf_counter() - start
    conn.execute("COMMIT")
    return inserts, time.perf_counter() - event_start


async def _timed_call(stub: hub.DurableObjectStub) -> float:
    start = time.perf_counter()
    await stub.first_query()
    return time.perf_counter() - start


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def _storage_rounds(
    stub: hub.DurableObjectStub, conn: sqlite3.Connection, params: Params
) -> tuple[Samples, Samples, Samples]:
    """Per-round µs/op of point queries, inserts and whole insert events, by side."""
    points: Samples = {side: [] for side in SIDES}
    inserts: Samples = {side: [] for side in SIDES[:2]}
    events: Samples = {side: [] for side in SIDES[:2]}
    for round_no in range(params.rounds + 1):  # round 0 is the warm-up
        shift = round_no % len(SIDES)  # rotate who goes first
        for side in SIDES[shift:] + SIDES[:shift]:
            insert = event = 0.0
            gc.collect()
            with gc_paused():
                if side == "roost":
                    point = await stub.run_points(params.points, params.rows)
                    event_start = time.perf_counter()
                    insert = await stub.run_inserts(params.inserts)
                    event = time.perf_counter() - event_start
                elif side == "raw":
                    point = raw_points(conn, params.points, params.rows)
                    insert, event = raw_inserts(conn, params.inserts)
                else:
                    point = raw_points_dict(conn, params.points, params.rows)
            if round_no == 0:
                continue
            points[side].append(point / params.points * MICRO)
            if side != "raw_dict":
                inserts[side].append(insert / params.inserts * MICRO)
                events[side].append(event / params.inserts * MICRO)
    return points, inserts, events


async def _wake_samples(
    app: hub.Hub, stub: hub.DurableObjectStub, params: Params
) -> tuple[list[float], list[float]]:
    """Caller-timed µs of ``first_query()`` on an evicted and on a live object."""
    wake: list[float] = []
    live: list[float] = []
    for sample in range(params.wake_warmup + params.wake_samples):
        gc.collect()
        with gc_paused():
            live_time = await _timed_call(stub)
        await app.hibernate("BENCH", BENCH_NAME)
        with gc_paused():
            wake_time = await _timed_call(stub)
        if sample >= params.wake_warmup:
            live.append(live_time * MICRO)
            wake.append(wake_time * MICRO)
    return wake, live


async def run_benchmark(params: Params, data_dir: Path) -> list[Result]:
    """Run every measure in one hub and return the results, Roost next to its baseline."""
    async with hub.Hub(objects={"BENCH": Bench}, data_dir=data_dir) as app:
        stub = app.env.BENCH.get_by_name(BENCH_NAME)
        await stub.fill(params.rows)
        conn = open_raw(app.host.path_for(stub.id))
        try:
            points, inserts, events = await _storage_rounds(stub, conn, params)
        finally:
            conn.close()  # before the wake samples: eviction then sees only the hub's own
        wake, live = await _wake_samples(app, stub, params)

    median = statistics.median
    raw, dict_raw, live_kind = "raw sqlite3", "raw sqlite3 + dict row", "live object"
    return [
        _result(
            "point query: sql.exec(...).one()",
            median(points["roost"]),
            median(points["raw"]),
            "µs/op",
            Target("ratio", 1.3),
            raw,
        ),
        _result(
            "point query vs raw building the same dict row (info)",
            median(points["roost"]),
            median(points["raw_dict"]),
            "µs/op",
            None,
            dict_raw,
        ),
        _result(
            "insert: sql.exec(INSERT ...)",
            median(inserts["roost"]),
            median(inserts["raw"]),
            "µs/op",
            Target("ratio", 1.3),
            raw,
        ),
        _result(
            "insert event incl. RPC + commit, caller-timed (info)",
            median(events["roost"]),
            median(events["raw"]),
            "µs/op",
            None,
            raw,
        ),
        _result(
            "first call on an evicted object, p50 (caller-timed)",
            median(wake),
            median(live),
            "µs",
            Target("delta", 1000.0),
            live_kind,
        ),
        _result(
            "first call on an evicted object, p90 (caller-timed, info)",
            _percentile(wake, 0.9),
            _percentile(live, 0.9),
            "µs",
            None,
            live_kind,
        ),
    ]


# -- the machine --------------------------------------------------------------------------


# -- reporting ----------------------------------------------------------------------------


def _number(value: float) -> str:
    if abs(value) < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _baseline_word(result: Result) -> str:
    return "live" if result.baseline_kind == "live object" else "raw"


def _compare(result: Result) -> str:
    word = _baseline_word(result)
    if word == "live":
        sign = "+" if result.delta >= 0 else "-"
        delta = f"{sign}{_number(abs(result.delta))} {result.unit}"
        return f"{delta} over {word} ({result.ratio:.2f}{TIMES})"
    return f"{result.ratio:.2f}{TIMES} {word}"


def _target_text(result: Result) -> str:
    target = result.target
    if target is None:
        return "—"
    word = _baseline_word(result)
    if target.metric == "ratio":
        return f"≤ {target.limit:g}{TIMES} {word}"
    return f"≤ +{target.limit:g} {result.unit} over {word}"


def _met_text(result: Result) -> str:
    met = result.met
    return "—" if met is None else ("met" if met else "NOT met")


def render_table(results: Sequence[Result]) -> str:
    """A plain-text table for stdout."""
    header = ("measure", "Roost", "baseline", "ratio", "target", "met?")
    rows = [
        (
            r.name,
            f"{_number(r.roost)} {r.unit}",
            f"{_number(r.baseline)} {r.unit} ({r.baseline_kind})",
            _compare(r),
            _target_text(r),
            _met_text(r),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [_join(header, widths), "  ".join("-" * w for w in widths)]
    lines += [_join(row, widths) for row in rows]
    return "\n".join(lines)


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()


def render_section(
    results: Sequence[Result],
    params: Params,
    machine: dict[str, str | int],
    command: str,
    date: str,
) -> str:
    """The Markdown section for RESULTS.md, markers included."""
    lines = [
        f"<!-- {SECTION}:begin -->",
        f"## {HEADING}",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine['nproc']} CPUs (nproc), {machine['cpu_model']}, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, {machine['platform']}",
        f"- Date: {date}",
        f"- Sizes: {params.rounds} rounds (+1 warm-up) of {params.points} point queries "
        f"over {params.rows} rows and {params.inserts} inserts; "
        f"{params.wake_samples} wake/live samples (+{params.wake_warmup} warm-up)",
        "",
        "| measure | Roost | baseline (raw sqlite3 / live object) | ratio | target | met? |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in results:
        name = r.name.replace("|", r"\|")
        lines.append(
            f"| {name} | {_number(r.roost)} {r.unit} "
            f"| {_number(r.baseline)} {r.unit} ({r.baseline_kind}) | {_compare(r)} "
            f"| {_target_text(r)} | {_met_text(r)} |"
        )
    lines += [
        "",
        "Point query and insert are timed inside one RPC method (RPC excluded); the raw "
        "sqlite3 loops run on the same file through a second connection with the same "
        "pragmas, inside one transaction, like an event. Roost returns a dict row; raw "
        "`fetchone()` a tuple, so the (info) row also compares with raw sqlite3 building "
        "the same dict. Figures are medians over rounds in which Roost and the baselines "
        "take turns (order rotating, garbage collector paused); ratios are median over "
        "median. Wake samples time `await stub.first_query()` from the caller right after "
        "`app.hibernate(...)`, interleaved with the same call on the live object.",
        f"<!-- {SECTION}:end -->",
    ]
    return "\n".join(lines)


# -- the command --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: sizes, and where to write JSON and Markdown."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.bench_storage",
        description="Roost storage micro-benchmarks against raw sqlite3 and a live object.",
    )
    parser.add_argument("--rounds", type=positive_int, default=15, help="measured rounds (15)")
    parser.add_argument("--points", type=positive_int, default=20_000, help="queries a round")
    parser.add_argument("--rows", type=positive_int, default=10_000, help="rows in the table")
    parser.add_argument("--inserts", type=positive_int, default=5_000, help="inserts a round")
    parser.add_argument("--wake-samples", type=positive_int, default=300, help="wake samples")
    parser.add_argument(
        "--wake-warmup", type=non_negative, default=20, help="unrecorded wake samples"
    )
    add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the requested reports."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(args_list)
    params = Params(
        rounds=args.rounds,
        points=args.points,
        rows=args.rows,
        inserts=args.inserts,
        wake_samples=args.wake_samples,
        wake_warmup=args.wake_warmup,
    )
    command = shlex.join(["python", "-m", "loadtest.bench_storage", *args_list])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_facts(event_loop="asyncio")  # runs in-process on asyncio.run
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        results = asyncio.run(run_benchmark(params, Path(tmp)))
    elapsed = time.perf_counter() - started

    print(f"{HEADING} — {command}")
    print(
        f"{machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}; {elapsed:.1f} s"
    )
    print(render_table(results))
    if args.json is not None:
        report = {
            "scenario": SECTION,
            "params": asdict(params),
            "results": [r.to_json() for r in results],
            "machine": machine,
            "command": command,
            "date": date,
            "elapsed_seconds": round(elapsed, 2),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    if args.results_md is not None:
        write_section(
            args.results_md, SECTION, render_section(results, params, machine, command, date)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
