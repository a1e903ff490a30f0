"""The front door: ``python -m loadtest SCENARIO --duration SECONDS --json FILE`` (also the
``roost-loadtest`` console script), ``suite`` and ``smoke``.

Commands:

* ``fanout-scale``: Roost's server CPU per delivery at ``--connections`` (10,000)
  receivers against ``--compare`` (1,000), each room on its own Roost server, in one run
  (``loadtest.fanout_scale``).
* ``echo``, ``fanout``, ``chat``, ``rpc``, ``idle``, ``connect``, ``wake``, ``feeds``: one
  scenario, Roost and its baseline in the same run (``loadtest.params`` has the sizes).
  ``idle --attachment N`` gives every Room socket an attachment of N JSON bytes.
  ``--workers N [--gateways M]`` serves Roost as a cluster (``roost serve --workers N
  --gateways M``): ``echo``, ``fanout``, ``chat`` and ``rpc`` then compare it with Roost
  in one process, ``idle`` with the bare server.
* ``reload``: chat traffic with exactly-once messages against a cluster reloaded every
  ``--reload-every`` seconds (``loadtest.reload``). Prints the
  headline and the detail table; ``--json FILE`` writes the result document,
  ``--plots DIR`` its PNG plots (latency CDF, throughput over time).
* ``smoke``: every scenario at smoke sizes for ``--duration`` (10 s) each; exits 1 when a
  scenario failed or reported an error (CI).
* ``storage``, ``sdk``: the storage micro-benchmarks in this process
  (``loadtest.storage``) and the Python SDK against a bare client (``loadtest.sdk``);
  the same outputs, each with the options of its sizes (``SCENARIO_OPTIONS``).
* ``db``: database objects over HTTP against a bare server on raw sqlite3 and Datasette
  (``loadtest.db``).
* ``suite``: every scenario at full sizes and the summary table; ``--results-md FILE``
  rewrites those sections of RESULTS.md.

Every scenario command takes ``--json FILE`` and ``--results-md FILE`` (its section,
with the command that produced it, replaced in place). A scenario is a runner
(``runners()``: ``Params`` -> ``results.Outcome``) and the options of its sizes
(``SCENARIO_OPTIONS``); ``loadtest.params`` says how to add one.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest.params import SCENARIOS, Params, resolve
from loadtest.report import machine_facts, render_table
from loadtest.results import Outcome

__all__ = [
    "SCENARIO_OPTIONS",
    "build_parser",
    "main",
    "non_negative",
    "params_from",
    "positive_float",
    "positive_int",
    "run_scenario",
    "runners",
    "window_seconds",
]


def _bounded(
    kind: Callable[[str], float], low: float, high: float, *, low_ok: bool, what: str
) -> Callable[[str], Any]:
    """An ``argparse`` type: ``kind(text)`` from ``low`` (included when ``low_ok``) to
    ``high`` (included)."""

    def parse(text: str) -> Any:
        value = kind(text)
        if not (value >= low if low_ok else value > low) or value > high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


#: ``argparse`` types: an integer above zero, an integer of zero or more, a number above
#: zero, a number of zero or more, and a window length in seconds (above 0, at most 20).
positive_int = _bounded(int, 0, math.inf, low_ok=False, what="a positive integer")
non_negative = _bounded(int, 0, math.inf, low_ok=True, what="an integer >= 0")
positive_float = _bounded(float, 0, math.inf, low_ok=False, what="a number above 0")
_rate = _bounded(float, 0, math.inf, low_ok=True, what="a number >= 0")
window_seconds = _bounded(float, 0, 20, low_ok=False, what="seconds in (0, 20]")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--json FILE`` and ``--results-md FILE``, shared by every command."""
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the result as JSON")
    parser.add_argument(
        "--results-md", type=Path, metavar="FILE", help="write/replace its section of FILE"
    )


#: Every sizing option: (flag, destination, type, help).
_OPTIONS: dict[str, tuple[str, str, Callable[[str], Any], str]] = {
    "duration": ("--duration", "duration", positive_float, "seconds of traffic, both sides"),
    "connections": (
        "--connections",
        "connections",
        positive_int,
        "connections (receivers for fanout/chat)",
    ),
    "rooms": ("--rooms", "rooms", positive_int, "rooms / objects the connections spread over"),
    "writers": ("--writers", "writers", non_negative, "writers per room (fanout/chat)"),
    "compare": (
        "--compare",
        "compare",
        positive_int,
        "fanout-scale: receivers of the smaller room (1000)",
    ),
    "ramp": ("--ramp", "ramp", _rate, "connections opened per second (0: no ramp)"),
    "rate": ("--rate", "rate", _rate, "messages per second per writer (0: window-paced)"),
    "size": ("--size", "size", positive_int, "message bytes"),
    "window": ("--window", "window", positive_int, "messages in flight per writer"),
    "rounds": (
        "--rounds",
        "rounds",
        positive_int,
        "measured rounds, each side taking its turn in each",
    ),
    "procs": ("--procs", "procs", positive_int, "client processes"),
    "sources": (
        "--sources",
        "sources",
        positive_int,
        "connect from 127.0.0.1..N (ephemeral ports)",
    ),
    "give_up": (
        "--give-up",
        "give_up",
        non_negative,
        "connect errors per client process before giving up",
    ),
    "missed": ("--missed", "missed", positive_int, "feeds: changes missed before the resume"),
    "attachment": (
        "--attachment",
        "attachment",
        non_negative,
        "idle: JSON bytes of each Room socket's attachment (0: none; 16 to 16384)",
    ),
    "workers": (
        "--workers",
        "workers",
        positive_int,
        "serve Roost as a cluster: roost serve --workers N"
        " (echo, fanout, chat, rpc, idle, connect, reload)",
    ),
    "gateways": ("--gateways", "gateways", positive_int, "with --workers: gateway processes"),
    "reload_every": (
        "--reload-every",
        "reload_every",
        positive_float,
        "reload: seconds between reloads (3)",
    ),
    "points": ("--points", "points", positive_int, "point queries a round"),
    "table_rows": ("--rows", "table_rows", positive_int, "rows in the table"),
    "inserts": ("--inserts", "inserts", positive_int, "inserts a round"),
    "wake_samples": ("--wake-samples", "wake_samples", positive_int, "wake samples"),
    "wake_warmup": ("--wake-warmup", "wake_warmup", non_negative, "unrecorded wake samples"),
    "clients": ("--clients", "connections", positive_int, "connections per client (10)"),
    "objects": ("--objects", "rooms", positive_int, "Roost objects (10)"),
    "seconds": ("--seconds", "seconds", window_seconds, "seconds a window (1.5; smoke 0.6)"),
    "batch": ("--batch", "batch", positive_int, "messages per connection per batch (100)"),
}

_TRAFFIC = (
    "duration",
    "connections",
    "rooms",
    "writers",
    "ramp",
    "rate",
    "size",
    "window",
    "rounds",
    "procs",
    "sources",
    "give_up",
    "missed",
    "workers",
    "gateways",
    "reload_every",
)
#: The sizing options of each scenario (keys of ``_OPTIONS``).
SCENARIO_OPTIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("echo", "fanout", "chat", "rpc", "wake", "feeds", "reload"), _TRAFFIC),
    "fanout-scale": (*_TRAFFIC, "compare"),
    "idle": (*_TRAFFIC, "attachment"),
    "connect": (
        "connections",
        "rooms",
        "rounds",
        "procs",
        "ramp",
        "sources",
        "workers",
        "gateways",
    ),
    "storage": ("rounds", "points", "table_rows", "inserts", "wake_samples", "wake_warmup"),
    "sdk": ("clients", "objects", "seconds", "size", "batch", "rounds"),
    "backup": ("rounds", "inserts"),
    "db": ("clients", "seconds", "rounds", "table_rows", "batch"),
}
_GIVEN = tuple(sorted({dest for _, dest, _, _ in _OPTIONS.values()}))


def _scenario_options(parser: argparse.ArgumentParser, scenario: str) -> None:
    for name in SCENARIO_OPTIONS[scenario]:
        flag, dest, kind, text = _OPTIONS[name]
        metavar = flag.removeprefix("--").upper().replace("-", "_")
        parser.add_argument(flag, dest=dest, type=kind, metavar=metavar, help=text)
    smoke = ("--smoke", "--quick") if scenario == "sdk" else ("--smoke",)
    parser.add_argument(*smoke, dest="smoke", action="store_true", help="small sizes (CI)")
    if "duration" in SCENARIO_OPTIONS[scenario]:  # the scenarios of client processes
        parser.add_argument("--plots", type=Path, metavar="DIR", help="write PNG plots into DIR")
        parser.add_argument("--no-progress", action="store_true", help="no live progress line")
    add_output_options(parser)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtest",
        description="Roost's load generator: every figure next to a baseline from the same run.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for scenario in SCENARIOS:
        _scenario_options(commands.add_parser(scenario, help=f"the {scenario} scenario"), scenario)
    smoke = commands.add_parser("smoke", help="every scenario at smoke sizes (CI)")
    smoke.add_argument("--duration", type=positive_float, default=10.0)
    smoke.add_argument("--only", nargs="*", choices=SCENARIOS, help="these scenarios only")
    smoke.add_argument("--json-dir", type=Path, metavar="DIR", help="one JSON file a scenario")
    suite = commands.add_parser("suite", help="every benchmark at full sizes; RESULTS.md")
    suite.add_argument("--only", nargs="*", help="these parts only (loadtest.suite.PARTS)")
    suite.add_argument("--json-dir", type=Path, metavar="DIR", help="one JSON file a part")
    suite.add_argument("--plots", type=Path, metavar="DIR", help="write PNG plots into DIR")
    suite.add_argument("--results-md", type=Path, metavar="FILE", help="rewrite FILE's sections")
    return parser


def params_from(args: argparse.Namespace) -> Params:
    """The ``Params`` of a scenario command."""
    given = {name: getattr(args, name, None) for name in _GIVEN}
    return resolve(args.command, given, smoke=bool(getattr(args, "smoke", False)))


def runners() -> dict[str, Callable[..., Outcome]]:
    """Each scenario's runner: ``runner(params, progress=...)`` -> ``Outcome``."""
    from loadtest.backup import run_backup
    from loadtest.connect import run_connect
    from loadtest.db import run_db
    from loadtest.fanout_scale import run_fanout_scale
    from loadtest.feeds import run_feeds
    from loadtest.idle import run_idle
    from loadtest.reload import run_reload
    from loadtest.sdk import run_sdk
    from loadtest.storage import run_storage
    from loadtest.traffic import run_traffic
    from loadtest.wake import run_wake

    return {
        "echo": run_traffic,
        "fanout": run_traffic,
        "fanout-scale": run_fanout_scale,
        "chat": run_traffic,
        "rpc": run_traffic,
        "idle": run_idle,
        "connect": run_connect,
        "wake": run_wake,
        "feeds": run_feeds,
        "reload": run_reload,
        "storage": run_storage,
        "sdk": run_sdk,
        "backup": run_backup,
        "db": run_db,
    }


def run_scenario(
    params: Params,
    *,
    command: str,
    json_path: Path | None = None,
    plots: Path | None = None,
    progress: bool | None = None,
    label: str = "",
) -> tuple[Outcome, dict[str, Any]]:
    """Run one scenario, print its result, write the files asked for."""
    machine = machine_facts()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.perf_counter()
    outcome = runners()[params.scenario](params, progress=progress)
    if label:
        outcome.label = label
    if outcome.event_loop:
        machine = machine_facts(outcome.event_loop)
    elapsed = time.perf_counter() - started
    meta: dict[str, Any] = {
        "command": command,
        "date": date,
        "machine": machine,
        "elapsed_seconds": round(elapsed, 2),
    }
    print(f"== {params.scenario} — {command} ({elapsed:.0f} s)")
    if outcome.rows:
        print(render_table(outcome.rows))
    for note in outcome.notes[1:]:
        print(f"note: {note}")
    if outcome.errors:
        print(f"errors: {outcome.errors}")
    print(outcome.summary())
    if json_path is not None:
        outcome.write_json(json_path, meta)
    if plots is not None and outcome.available:
        from loadtest.plots import write_plots

        for path in write_plots(outcome, plots):
            print(f"plot: {path}")
    return outcome, meta


def _smoke(args: argparse.Namespace) -> int:
    failed: list[str] = []
    for scenario in args.only or SCENARIOS:
        params = resolve(scenario, {"duration": args.duration}, smoke=True)
        command = shlex.join(["python", "-m", "loadtest", scenario, "--smoke"])
        json_path = args.json_dir / f"{scenario}.json" if args.json_dir else None
        try:
            outcome, _ = run_scenario(params, command=command, json_path=json_path)
        except Exception as exc:  # a failed scenario fails the smoke, the rest still run
            print(f"smoke: {scenario} FAILED: {exc!r}")
            failed.append(scenario)
            continue
        if outcome.error_count:
            print(f"smoke: {scenario} reported errors: {outcome.errors}")
            failed.append(scenario)
    print(f"smoke: {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "smoke":
        return _smoke(args)
    if args.command == "suite":
        from loadtest.suite import run_suite

        return run_suite(args)
    try:
        params = params_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    command = shlex.join(["python", "-m", "loadtest", *argv])
    outcome, meta = run_scenario(
        params,
        command=command,
        json_path=args.json,
        plots=getattr(args, "plots", None),
        progress=False if getattr(args, "no_progress", False) else None,
    )
    if args.results_md is not None:
        from loadtest.suite import write_detail

        write_detail(args.results_md, outcome, meta)
    return 0
