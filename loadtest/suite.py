"""The benchmark suite: every scenario at full sizes (``PARTS``) and the summary table of
RESULTS.md, in one command::

    python -m loadtest suite --results-md loadtest/RESULTS.md

Rules:

1. RESULTS.md is made of delimited sections (``<!-- name:begin -->`` ...
   ``<!-- name:end -->``, ``report.write_section``), one a part: a run replaces the
   sections of the parts it ran in place and leaves the others (the hand-written
   findings among them, after the parts) alone; a part's first section goes in
   ``PARTS`` order.
2. The ``summary`` section stands first: one row a part (``fold``), with its
   parameters, Roost's figure, the baseline's, the ratio (higher is better), its
   targets and whether they are met, and the command that reproduces it. A target that
   is not met says ``NOT met``; a part that could not run says why.
3. A part that fails is reported as failed in the summary; the others still run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import traceback
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest.params import Params, resolve
from loadtest.report import (
    LOOP_IN_CHILDREN,
    LOOP_IN_PROCESS,
    RESULTS_INTRO,
    RESULTS_TITLE,
    Report,
    machine_facts,
    number,
    write_section,
)
from loadtest.results import Outcome

__all__ = [
    "PARTS",
    "SECTION_ORDER",
    "Part",
    "fold",
    "render_summary",
    "run_suite",
    "section_heading",
    "write_detail",
]

SUMMARY = "summary"


@dataclass(frozen=True, slots=True)
class Part:
    """One part of the suite: a scenario with options, under its own section name."""

    name: str
    scenario: str
    options: dict[str, Any]

    def params(self) -> Params:
        """The part's sizes."""
        return resolve(self.scenario, self.options)

    def command(self) -> str:
        """The command that runs this part alone."""
        words = ["python", "-m", "loadtest", self.scenario]
        for key, value in self.options.items():
            words += [f"--{key.replace('_', '-')}", str(value)]
        return shlex.join(words)


#: The sizes of the 100,000-parked-sockets runs.
_MANY = {
    "connections": 100_000,
    "rooms": 10,
    "procs": 6,
    "sources": 8,
    "give_up": 100,
    "duration": 5,
}

#: The scenario parts, in the summary's order.
PARTS = (
    Part("echo", "echo", {}),
    Part("echo-cluster", "echo", {"workers": 1}),
    Part("echo-cluster-2x2", "echo", {"workers": 2, "gateways": 2, "rate": 300, "window": 4}),
    Part("fanout", "fanout", {}),
    Part("fanout-scale", "fanout-scale", {}),
    Part("chat", "chat", {}),
    Part("chat-cluster", "chat", {"workers": 1}),
    Part("chat-cluster-2x2", "chat", {"workers": 2, "gateways": 2, "rate": 40}),
    Part("rpc", "rpc", {}),
    Part("rpc-one", "rpc", {"rooms": 1}),
    Part("idle", "idle", {}),
    Part("idle-attachment", "idle", {"attachment": 64}),
    Part("idle-100k", "idle", _MANY),
    Part("idle-cluster-100k", "idle", {"workers": 1, "gateways": 6, **_MANY}),
    Part("connect", "connect", {}),
    Part("connect-cluster", "connect", {"workers": 1}),
    Part("wake", "wake", {}),
    Part("feeds", "feeds", {}),
    Part("reload", "reload", {}),
    Part("reload-2g", "reload", {"gateways": 2}),
    Part("storage", "storage", {}),
    Part("sdk", "sdk", {}),
    Part("backup", "backup", {}),
    Part("db", "db", {}),
)
#: The order of the sections in RESULTS.md: the summary, then one section a part.
SECTION_ORDER = (SUMMARY, *(part.name for part in PARTS))


def machine_line(machine: dict[str, str | int]) -> str:
    """``2 CPUs, AMD EPYC, Python 3.11.7, uvloop``."""
    return (
        f"{machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"{machine['event_loop']}"
    )


def section_heading(part: str, heading: str) -> str:
    """A part's section heading: its name first, as in the summary (two parts of one
    scenario, ``rpc`` and ``rpc-one``, share the scenario's heading)."""
    return f"{part}: {heading}"


def write_detail(path: Path, outcome: Outcome, meta: dict[str, Any], section: str = "") -> None:
    """Write (or replace) the detail section of one scenario run in ``path``."""
    name = section or outcome.label
    if not outcome.available:
        text = "\n".join(
            [
                f"<!-- {name}:begin -->",
                f"## {section_heading(name, outcome.heading or outcome.label)}",
                "",
                f"- Command: `{meta['command']}`",
                f"- Date: {meta['date']}",
                "",
                "**Not measured:** " + " ".join(outcome.notes),
                f"<!-- {name}:end -->",
            ]
        )
        write_section(path, name, text, SECTION_ORDER)
        return
    report = Report(
        section=name,
        heading=section_heading(name, outcome.heading),
        command=str(meta["command"]),
        date=str(meta["date"]),
        machine=meta["machine"],
        sizes=outcome.sizes,
        baseline_name=outcome.baseline.name,
        rows=outcome.rows,
        notes=[*outcome.notes, *_error_note(outcome)],
        details={},
        elapsed=float(meta["elapsed_seconds"]),
        loop_where=LOOP_IN_PROCESS if outcome.event_loop else LOOP_IN_CHILDREN,
    )
    write_section(path, name, report.markdown(), SECTION_ORDER)


def _error_note(outcome: Outcome) -> list[str]:
    if not outcome.errors:
        return ["Errors: none."]
    return ["Errors by kind: " + ", ".join(f"{k} {v}" for k, v in outcome.errors.items()) + "."]


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the summary table."""

    part: str
    sizes: str
    roost: str
    baseline: str
    ratio: str
    target: str
    met: str
    command: str


def summary_lines(part: str, outcome: Outcome, command: str) -> list[Line]:
    """The summary rows of one part: one per target (one when it has none)."""
    if not outcome.available:
        note = " ".join(outcome.notes)
        return [Line(part, "—", "—", "—", "—", "—", f"not measured: {note}", command)]
    roost = f"{number(outcome.roost.figure)} {outcome.roost.unit}"
    base = f"{number(outcome.baseline.figure)} {outcome.baseline.unit} ({outcome.baseline.name})"
    sizes = outcome.sizes.split(";")[0]
    errors = f"; {outcome.error_count} errors" if outcome.error_count else ""
    saturated = (
        "; client side saturated (Roost figure a lower bound)" if outcome.client_saturated else ""
    )
    lines = _many_sockets(part, outcome, command)
    if not outcome.goals:
        verdict = "—" + errors + saturated
        lines.append(Line(part, sizes, roost, base, outcome.ratio_text(), "—", verdict, command))
    for goal, met in zip(outcome.goals, outcome.met(), strict=True):
        shown = outcome.ratio_text()
        if goal.on == "delta":
            delta = outcome.roost.figure - outcome.baseline.figure
            shown = f"+{number(delta)} {outcome.roost.unit} over live ({shown})"
        verdict = ("met" if met else "NOT met") + errors + saturated
        lines.append(Line(part, sizes, roost, base, shown, goal.text, verdict, command))
    if outcome.checks:
        lines.append(_checks_line(part, outcome, sizes, command))
    return lines


def _checks_line(part: str, outcome: Outcome, sizes: str, command: str) -> Line:
    """One row for every count of the outcome that must stay within its limit."""
    counts = ", ".join(f"{check.count:,} {check.name}" for check in outcome.checks)
    target = ", ".join(
        f"{check.name} {'= 0' if not check.limit else f'≤ {check.limit:,}'}"
        for check in outcome.checks
    )
    failed = [check.name for check in outcome.checks if not check.met]
    verdict = "met" if not failed else "NOT met: " + ", ".join(failed)
    return Line(part, sizes, counts, "—", "—", target, verdict, command)


#: The issue's target for parked sockets on this machine.
MANY_SOCKETS = 100_000


def _many_sockets(part: str, outcome: Outcome, command: str) -> list[Line]:
    """The 100,000-parked-sockets row of an ``idle`` run that asked for that many."""
    asked = int(str(outcome.params.get("connections", 0)))
    opened = outcome.extra.get("opened")
    if outcome.scenario != "idle" or asked < MANY_SOCKETS or not isinstance(opened, dict):
        return []
    reached = int(opened.get("roost", 0))
    why = str(outcome.extra.get("stopped_by") or "")
    verdict = "met" if reached >= MANY_SOCKETS else f"NOT met: {reached:,} reached; {why}"
    return [
        Line(
            part,
            f"{asked:,} sockets asked",
            f"{reached:,} parked sockets",
            f"{int(opened.get('baseline', 0)):,} sockets (bare websockets server)",
            "—",
            f"{MANY_SOCKETS:,} parked sockets on this machine",
            verdict,
            command,
        )
    ]


def fold(lines: Sequence[Line]) -> list[Line]:
    """One row a part (rule 2): the rows of a part (one per target, as ``summary_lines``
    gives them) merged, each cell's distinct values joined with ``; ``. When the verdicts
    differ, each names its target."""
    parts: dict[str, list[Line]] = {}
    for line in lines:
        parts.setdefault(line.part, []).append(line)
    return [_fold_part(group) for group in parts.values()]


def _fold_part(group: Sequence[Line]) -> Line:
    if len(group) == 1:
        return group[0]

    def joined(values: Sequence[str]) -> str:
        kept = [v for v in dict.fromkeys(values) if v != "—"]
        return "; ".join(kept) or "—"

    targeted = [line for line in group if line.target != "—"] or list(group)
    verdicts: list[str] = []
    notes: list[str] = []  # the run's errors and saturation, once for the part
    for line in targeted:
        parts = line.met.split("; ")
        notes += [p for p in parts if _is_note(p)]
        verdicts.append("; ".join(p for p in parts if not _is_note(p)))
    if len(set(verdicts)) == 1:
        met = verdicts[0]
    else:
        met = "; ".join(f"{line.target}: {v}" for line, v in zip(targeted, verdicts, strict=True))
    first = group[0]
    return Line(
        first.part,
        joined([line.sizes for line in group]),
        joined([line.roost for line in group]),
        joined([line.baseline for line in group]),
        joined([line.ratio for line in group]),
        joined([line.target for line in group]),
        "; ".join(dict.fromkeys([met, *notes])),
        first.command,
    )


def _is_note(part: str) -> bool:
    """True for the part of a verdict that is about the run, not the target
    (``summary_lines``: ``12 errors``, ``client side saturated ...``)."""
    return part.endswith(" errors") or part.startswith("client side saturated")


def render_summary(lines: Sequence[Line], machine: str, date: str, command: str) -> str:
    """The summary section, markers included (rule 2)."""
    out = [
        f"<!-- {SUMMARY}:begin -->",
        "## Summary: Roost against a baseline from the same run",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine}",
        f"- Date: {date}",
        "",
        "Ratio: Roost / baseline for rates, baseline / Roost for memory and latency, so "
        "that above 1 Roost did better. Each row's command reproduces it alone; details "
        "in the sections below.",
        "",
        "| scenario | parameters | Roost | baseline | ratio | target | met? | command |",
        "|---|---|---:|---:|---|---|---|---|",
    ]
    for line in lines:
        cells = [
            line.part,
            line.sizes,
            line.roost,
            line.baseline,
            line.ratio,
            line.target,
            line.met,
            f"`{line.command}`",
        ]
        out.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    # The rows as JSON, for a later run of some parts only ("--" cannot stand in a
    # comment: written as JSON escapes).
    rows = json.dumps([astuple(line) for line in lines], ensure_ascii=False)
    out.append(_DATA + rows.replace("--", "\\u002d\\u002d") + " -->")
    out.append(f"<!-- {SUMMARY}:end -->")
    return "\n".join(out)


_DATA = "<!-- summary-rows: "


def earlier_lines(path: Path) -> list[Line]:
    """The summary rows RESULTS.md holds now (kept for the parts a run leaves out)."""
    if not path.exists():
        return []
    for text in path.read_text(encoding="utf-8").splitlines():
        if text.startswith(_DATA) and text.endswith(" -->"):
            return [Line(*row) for row in json.loads(text[len(_DATA) : -len(" -->")])]
    return []


def merge_lines(earlier: Sequence[Line], new: Sequence[Line]) -> list[Line]:
    """``new`` rows in place of the earlier rows of the same parts, in ``PARTS`` order."""
    ran = {line.part for line in new}
    kept = [line for line in earlier if line.part not in ran]
    order = {part.name: index for index, part in enumerate(PARTS)}
    return sorted([*kept, *new], key=lambda line: order.get(line.part, len(order)))


def write_summary(path: Path, text: str) -> None:
    """Write the summary section first in ``path`` (rule 2), replacing any earlier one."""
    begin = f"<!-- {SUMMARY}:begin -->"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in current:
        write_section(path, SUMMARY, text)
        return
    head = f"{RESULTS_TITLE}\n\n{RESULTS_INTRO}\n"
    rest = current[len(head) :] if current.startswith(head) else current
    path.write_text(head + "\n" + text + "\n" + rest, encoding="utf-8")


def run_suite(args: argparse.Namespace) -> int:
    """Run the parts asked for (all by default) and write RESULTS.md."""
    from loadtest.cli import run_scenario

    only = set(args.only or [])
    machine = machine_facts()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines: list[Line] = []
    failed = 0
    for part in PARTS:
        if only and part.name not in only:
            continue
        command = part.command()
        json_path = args.json_dir / f"{part.name}.json" if args.json_dir else None
        try:
            outcome, meta = run_scenario(
                part.params(),
                command=command,
                json_path=json_path,
                plots=args.plots,
                label=part.name,
            )
        except Exception:  # rule 3: report the failure, run the other parts
            traceback.print_exc()
            failed += 1
            lines.append(Line(part.name, "—", "—", "—", "—", "—", "FAILED (see log)", command))
            continue
        lines.extend(summary_lines(part.name, outcome, command))
        if args.results_md is not None:
            write_detail(args.results_md, outcome, meta, part.name)
    if args.results_md is not None and lines:
        suite_command = "python -m loadtest suite --results-md " + str(args.results_md)
        if only:
            # Rows of the parts left out stay from earlier runs (each section has its date).
            suite_command += " --only " + " ".join(sorted(only))
            date += (
                f" (the rows of {', '.join(sorted(only))}; the others are from earlier runs, "
                "dated in their sections)"
            )
        lines = fold(merge_lines(earlier_lines(args.results_md), lines))
        summary = render_summary(lines, machine_line(machine), date, suite_command)
        write_summary(args.results_md, summary)
    return 1 if failed else 0
