"""What continuous backup costs: an insert event with backups on against off, and the
replica's lag under that load.

Run: ``python -m loadtest backup [--rounds N] [--inserts N] [--json FILE]
[--results-md FILE]``. It runs in the command's own process, on asyncio.

What is measured, and against what:

1. Insert event: ``await stub.add(i)`` (one ``INSERT`` in one RPC event: the RPC, the
   commit, and with backups the shipping of its pages) timed from the caller,
   ``--inserts`` a round, on a hub with backups on (the default: a local folder)
   against the same on a hub with ``backup=False``. Target: at most 1.2x.
2. (info) The same with ``--backup-gated`` on the local folder (an fsync per commit).
3. (info) With an S3 replica (moto's server on 127.0.0.1, when boto3 and moto are
   installed): the insert event, and the lag (``roost_backup_lag_seconds``) sampled
   every 10 ms while the inserts run, p50 and max.

Rules that keep the comparison fair: the hubs run in this one process and take turns
within every round (order rotating); one warm-up round is not recorded; the garbage
collector is paused while a side runs; figures are medians over rounds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import hub
from loadtest.params import Params
from loadtest.report import Row, Target
from loadtest.results import Goal, Outcome, Side
from loadtest.s3_server import s3_server
from loadtest.stats import percentile
from loadtest.storage import gc_paused

__all__ = ["run_backup"]

MICRO = 1e6
HEADING = "Backups: an insert event with backups on vs off"
GOALS = (Goal("ratio", "at_least", 1 / 1.2, f"≤ 1.2{chr(0xD7)} backups off (insert event)"),)
NOTE = (
    "Each figure is the caller's time of one RPC event that inserts one row (RPC, commit "
    "and, with backups, shipping the commit's pages to the object's history), median "
    "over rounds in which the hubs take turns (order rotating, garbage collector "
    "paused). The S3 side pushes to moto's S3 server on this machine every 0.2 s; its "
    "lag is sampled every 10 ms during its inserts."
)


class Ledger(hub.DurableObject):
    """One table that every event appends to."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS entry (k INTEGER PRIMARY KEY, v TEXT)")

    def add(self, k: int) -> None:
        self.ctx.storage.sql.exec("INSERT INTO entry VALUES (?, 'xxxxxxxxxxxxxxxx')", k)


async def _inserts(stub: Any, start: int, n: int) -> float:
    """Microseconds per insert event, ``n`` in a row, garbage collector paused."""
    with gc_paused():
        began = time.perf_counter()
        for k in range(start, start + n):
            await stub.add(k)
        return (time.perf_counter() - began) / n * MICRO


async def _lag_samples(app: hub.Hub, samples: list[float], stop: asyncio.Event) -> None:
    backups = app.host.backups
    assert backups is not None
    while not stop.is_set():
        samples.append(backups.lag_seconds())
        await asyncio.sleep(0.01)


async def _measure(params: Params, root: Path, s3: str | None) -> dict[str, Any]:
    settings: dict[str, hub.BackupSettings | bool] = {
        "on": True,
        "off": False,
        "gated": hub.BackupSettings(gated=True),
    }
    if s3 is not None:
        settings["s3"] = hub.BackupSettings(
            s3=f"s3://roost/bench-{os.getpid()}", s3_endpoint=s3, push_interval=0.2
        )
    figures: dict[str, list[float]] = {side: [] for side in settings}
    lags: list[float] = []
    async with AsyncExitStack() as stack:
        stubs = {}
        apps = {}
        for side, backup in settings.items():
            app = hub.Hub({"LEDGER": Ledger}, data_dir=root / side, backup=backup)
            await stack.enter_async_context(app)
            apps[side] = app
            stubs[side] = app.env.LEDGER.get_by_name("bench")
            await stubs[side].add(-1)
        sides = list(settings)
        next_key = 0
        for round_index in range(params.rounds + 1):
            order = sides[round_index % len(sides) :] + sides[: round_index % len(sides)]
            for side in order:
                stop = asyncio.Event()
                sampler = None
                if side == "s3" and round_index:
                    sampler = asyncio.create_task(_lag_samples(apps[side], lags, stop))
                figure = await _inserts(stubs[side], next_key, params.inserts)
                stop.set()
                if sampler is not None:
                    await sampler
                next_key += params.inserts
                if round_index:  # the first round warms up
                    figures[side].append(figure)
    return {"figures": figures, "lags": lags}


def measure(params: Params) -> tuple[list[Row], dict[str, float]]:
    """Every side in one process; the rows, and the medians by side."""
    with tempfile.TemporaryDirectory(prefix="roost-backup-") as tmp, s3_server() as s3:
        found = asyncio.run(_measure(params, Path(tmp), s3))
    median = {side: statistics.median(values) for side, values in found["figures"].items()}
    rows = [
        Row(
            "insert event, backups on (local folder)",
            median["on"],
            median["off"],
            "µs/op",
            Target("ratio", "at_most", 1.2),
            baseline_word="backups off",
        ),
        Row(
            "insert event, --backup-gated (an fsync a commit, info)",
            median["gated"],
            median["off"],
            "µs/op",
            baseline_word="backups off",
        ),
    ]
    if "s3" in median:
        lags = sorted(found["lags"]) or [0.0]
        rows.append(
            Row(
                "insert event, S3 replica pushed every 0.2 s (info)",
                median["s3"],
                median["off"],
                "µs/op",
                baseline_word="backups off",
            )
        )
        rows.append(
            Row(
                "replica lag under that load, p50 / max (info)",
                percentile(lags, 0.5) * MICRO,
                lags[-1] * MICRO,
                "µs",
                baseline_word="max",
            )
        )
    return rows, median


def run_backup(params: Params, *, progress: bool | None = None) -> Outcome:
    """The ``backup`` scenario: an insert event with backups on against off."""
    rows, median = measure(params)
    return Outcome(
        scenario="backup",
        label="backup",
        params=params.to_json(),
        roost=Side("backups on", median["on"], "µs/op"),
        baseline=Side("backups off", median["off"], "µs/op"),
        higher_is_better=False,
        goals=GOALS,
        notes=[NOTE],
        heading=HEADING,
        sizes=f"{params.rounds} rounds (+1 warm-up) of {params.inserts} insert events a side",
        rows=rows,
        event_loop="asyncio",
    )
