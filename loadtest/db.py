"""Database objects over HTTP: point selects and batched inserts against a bare server on
raw sqlite3 (and Datasette's JSON API for reads), in one run.

Run: ``python -m loadtest db [--clients N] [--seconds S] [--rounds N] [--rows N]
[--batch N] [--json FILE] [--results-md FILE]``.

What is measured, and against what:

1. Point select: ``--clients`` keep-alive connections, each with one request in flight,
   for ``--seconds`` a side a round, ask for a random row of a ``--rows``-row table:
   Roost's ``POST /db/bench/query`` (``SELECT id, name, v FROM item WHERE id = ?``) and
   its ``select`` verb (``where=[["id", "eq", i]]``), the bare server's ``POST /query``
   with the same SQL (``loadtest.db_servers``), and Datasette's
   ``GET /bench/item/{i}.json?_shape=array`` on the bare server's file.
2. Batched insert: the same connections each ``POST`` ``--batch`` rows a call: Roost's
   ``insert`` verb into table ``log`` against the bare server's ``/insert``, one
   transaction a call on both.

Figures: requests (or rows) a second, median over rounds; p50 / p99 latency over every
recorded request. Rules that keep the comparison fair: the same client code (asyncio
streams on the loop of ``process.run_loop``, garbage collector paused while a side
runs) drives every side; the servers run in processes of their own on the same loop
(Datasette: uvicorn's); sides take turns within every round, the order rotating; one
warm-up round is not recorded; every answer is parsed and its rows counted, and a
non-200 answer or a missing row is an error.
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from loadtest.db_servers import datasette_available, open_raw, server_main, start_datasette
from loadtest.http_load import Count, Request, Window, http_request, run_window
from loadtest.params import Params
from loadtest.process import Child, run_loop
from loadtest.report import Row
from loadtest.results import Outcome, Side
from loadtest.stats import percentile

__all__ = ["run_db"]

NAME = "bench"
SCHEMA = (
    "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, v INTEGER NOT NULL)",
    "CREATE TABLE log (id INTEGER PRIMARY KEY, name TEXT NOT NULL, v INTEGER NOT NULL)",
)
POINT = "SELECT id, name, v FROM item WHERE id = ?"
MILLI = 1e3
HEADING = "Database objects over HTTP: point selects and batched inserts"
NOTE = (
    "Every side is driven by the same asyncio client (keep-alive connections, one request "
    "in flight each, garbage collector paused) in this process; servers run in processes "
    "of their own (Roost with backups on, its default; the bare server on asyncio + "
    "httptools + raw sqlite3 with WAL and synchronous=NORMAL; Datasette with its "
    "defaults, on the bare server's file). Sides take turns in every round (order "
    "rotating); rates are medians over rounds, latencies over every recorded request. "
    "One client process drives every side: when it is the bottleneck (the bare server "
    "first: its CPU busy row tells), a ratio to the bare server is an upper bound of "
    "Roost's. Both tables have a primary key, so on Roost they are change-feed tables: "
    "each inserted row also writes its change-log row (a trigger), as in production."
)


def _row(i: int) -> dict[str, Any]:
    return {"name": f"name-{i:08d}", "v": i * 7 % 1000}


@dataclass(frozen=True)
class Load:
    """One side of one load: its port, request and row count."""

    port: int
    request: Request
    count: Count


def _loads(ports: dict[str, int], token: str, batch: int) -> dict[str, dict[str, Load]]:
    roost, bare = ports["roost"], ports["bare"]

    def roost_query(i: int) -> bytes:
        body = orjson.dumps({"sql": POINT, "params": [i]})
        return http_request("POST", f"/db/{NAME}/query", roost, body, token)

    def roost_select(i: int) -> bytes:
        body = orjson.dumps({"table": "item", "where": [["id", "eq", i]]})
        return http_request("POST", f"/db/{NAME}/select", roost, body, token)

    def bare_query(i: int) -> bytes:
        return http_request("POST", "/query", bare, orjson.dumps({"sql": POINT, "params": [i]}))

    def rows_of(i: int) -> list[dict[str, Any]]:
        return [_row(i + k) for k in range(batch)]

    def roost_insert(i: int) -> bytes:
        body = orjson.dumps({"table": "log", "rows": rows_of(i)})
        return http_request("POST", f"/db/{NAME}/insert", roost, body, token)

    def bare_insert(i: int) -> bytes:
        return http_request(
            "POST", "/insert", bare, orjson.dumps({"table": "log", "rows": rows_of(i)})
        )

    def rows(answer: Any) -> int:
        return len(answer["rows"] if isinstance(answer, dict) else answer)

    def written(answer: Any) -> int:
        return int(answer["rows_written"])

    points = {
        "roost query": Load(roost, roost_query, rows),
        "roost select": Load(roost, roost_select, rows),
        "bare": Load(bare, bare_query, rows),
    }
    if "datasette" in ports:
        port = ports["datasette"]

        def datasette(i: int) -> bytes:
            return http_request("GET", f"/{NAME}/item/{i}.json?_shape=array", port)

        points["datasette"] = Load(port, datasette, rows)
    inserts = {
        "roost insert": Load(roost, roost_insert, written),
        "bare": Load(bare, bare_insert, written),
    }
    return {"points": points, "inserts": inserts}


async def _rounds(params: Params, loads: dict[str, dict[str, Load]]) -> dict[str, Any]:
    found: dict[str, dict[str, list[Window]]] = {
        load: {side: [] for side in sides} for load, sides in loads.items()
    }
    for round_index in range(params.rounds + 1):  # round 0 warms up
        for load, sides in loads.items():
            names = list(sides)
            shift = round_index % len(names)
            for side in names[shift:] + names[:shift]:
                got = sides[side]
                window = await run_window(
                    got.port,
                    got.request,
                    got.count,
                    connections=params.connections,
                    keys=params.table_rows,
                    seconds=params.seconds,
                )
                if round_index:
                    found[load][side].append(window)
    return found


def _admin(port: int, key: str, method: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=orjson.dumps(body),
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return orjson.loads(answer.read())


def _fill(port: int, admin_key: str, raw: Path, rows: int) -> str:
    """The same schema and rows in Roost's database ``bench`` and in the file ``raw``;
    returns the database's token."""
    token = str(_admin(port, admin_key, "POST", "/_roost/databases", {"name": NAME})["token"])
    for sql in SCHEMA:
        _admin(port, token, "POST", f"/db/{NAME}/query", {"sql": sql})
    everything = [{"id": i, **_row(i)} for i in range(1, rows + 1)]
    for start in range(0, rows, 1000):
        chunk = everything[start : start + 1000]
        _admin(port, token, "POST", f"/db/{NAME}/insert", {"table": "item", "rows": chunk})
    conn = open_raw(raw)
    with conn:
        for sql in SCHEMA:
            conn.execute(sql)
        conn.executemany("INSERT INTO item (id, name, v) VALUES (:id, :name, :v)", everything)
    conn.close()
    return token


def _measure(params: Params, tmp: Path) -> dict[str, Any]:
    admin_key = secrets.token_urlsafe(16)
    raw = tmp / f"{NAME}.db"
    children: list[Child] = []
    datasette = None
    try:
        roost = Child("db-roost", server_main, "roost", str(tmp / "roost"), admin_key)
        children.append(roost)
        token = _fill(roost.ready[1], admin_key, raw, params.table_rows)
        bare = Child("db-bare", server_main, "bare", str(raw), admin_key)
        children.append(bare)
        ports = {"roost": roost.ready[1], "bare": bare.ready[1]}
        if datasette_available():
            datasette, ports["datasette"] = start_datasette(raw)
        loads = _loads(ports, token, params.batch)
        found: dict[str, Any] = {}

        async def main() -> None:
            found.update(await _rounds(params, loads))

        run_loop(main)
        return found
    finally:
        for child in children:
            child.stop()
        if datasette is not None:
            datasette.terminate()
            datasette.wait(10)


def _figures(windows: list[Window], unit_rows: bool) -> tuple[float, float, float]:
    rate = statistics.median((w.rows if unit_rows else w.requests) / w.seconds for w in windows)
    latencies = sorted(x for w in windows for x in w.latencies)
    return rate, percentile(latencies, 0.5) * MILLI, percentile(latencies, 0.99) * MILLI


def _rows(found: dict[str, Any]) -> list[Row]:
    points = {side: _figures(w, False) for side, w in found["points"].items()}
    inserts = {side: _figures(w, True) for side, w in found["inserts"].items()}
    rows: list[Row] = []

    def add(
        name: str, ours: tuple[float, ...], theirs: tuple[float, ...], word: str, unit: str
    ) -> None:
        rows.append(
            Row(f"{name}, {unit} (higher is better)", ours[0], theirs[0], unit, baseline_word=word)
        )
        rows.append(Row(f"{name}, p50 latency", ours[1], theirs[1], "ms", baseline_word=word))
        rows.append(Row(f"{name}, p99 latency", ours[2], theirs[2], "ms", baseline_word=word))

    add("point select, query verb", points["roost query"], points["bare"], "bare", "req/s")
    add("point select, select verb", points["roost select"], points["bare"], "bare", "req/s")
    if "datasette" in points:
        add(
            "point select, query verb vs Datasette",
            points["roost query"],
            points["datasette"],
            "Datasette",
            "req/s",
        )
        add("Datasette row JSON (info)", points["datasette"], points["bare"], "bare", "req/s")
    add("insert, batches of rows", inserts["roost insert"], inserts["bare"], "bare", "rows/s")
    busy = {
        side: statistics.median(w.cpu / w.seconds * 100 for w in windows)
        for side, windows in found["points"].items()
    }
    rows.append(
        Row(
            "client process CPU busy, point select, query verb (info)",
            busy["roost query"],
            busy["bare"],
            "%",
            baseline_word="bare",
        )
    )
    return rows


def run_db(params: Params, *, progress: bool | None = None) -> Outcome:
    """The ``db`` scenario: Roost's database objects against a bare server (and
    Datasette for reads) over HTTP, in one run."""
    with tempfile.TemporaryDirectory(prefix="roost-db-") as tmp:
        found = _measure(params, Path(tmp))
    rows = _rows(found)
    errors: dict[str, int] = {}
    for load, sides in found.items():
        for side, windows in sides.items():
            errors[f"{load} {side}"] = sum(w.errors for w in windows)
    notes = [NOTE]
    if "datasette" not in found["points"]:
        notes.append("Datasette is not installed (pip install datasette): its side skipped.")
    headline = rows[0]
    return Outcome(
        scenario="db",
        label="db",
        params=params.to_json(),
        roost=Side("roost query", headline.roost, headline.unit),
        baseline=Side("bare", headline.baseline, headline.unit),
        higher_is_better=True,
        notes=notes,
        errors={k: v for k, v in errors.items() if v},
        heading=HEADING,
        sizes=(
            f"{params.rounds} rounds (+1 warm-up), {params.seconds:g} s a side a load, "
            f"{params.connections} connections, {params.table_rows} rows, inserts of "
            f"{params.batch} rows a call"
        ),
        rows=rows,
        extra={
            "requests": {
                load: {side: sum(w.requests for w in ws) for side, ws in sides.items()}
                for load, sides in found.items()
            }
        },
    )
