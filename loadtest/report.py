"""Reporting for the socket benchmarks: rows of Roost next to its baseline, and targets.

The shape follows ``loadtest.bench_storage``: a plain-text table on stdout, a JSON
document, and one delimited section of ``RESULTS.md`` (``<!-- name:begin -->`` ...
``<!-- name:end -->``) that a later run replaces and that leaves the other sections
alone. A row's target bounds either its ratio to the baseline or Roost's own figure,
from above or from below. A row whose baseline is NaN has none (a count that must be 0
whatever a baseline does): its baseline and ratio read "—".
"""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from loadtest.process import event_loop_name

__all__ = ["Report", "Row", "Target", "machine_facts", "render_table", "write_section"]

TIMES = "\u00d7"
RESULTS_TITLE = "# Roost benchmark results"
#: Where the event loop of ``machine_facts`` runs: in the child processes of a scenario,
#: or (``storage``) in the benchmark's own.
LOOP_IN_CHILDREN = "in the server and client processes"
LOOP_IN_PROCESS = "in the benchmark's one process"
RESULTS_INTRO = (
    "Every figure is reported next to a baseline measured in the same process and the "
    "same run, and compared as a ratio (or a difference) against it. The summary comes "
    "first (one row a part), then one section a part with the command that produced it "
    "and its date (a later run replaces it), then the findings, written by hand."
)


@dataclass(frozen=True, slots=True)
class Target:
    """A bound on a row: on its ratio to the baseline, on Roost's own figure, or on Roost's
    figure minus the baseline's (``delta``)."""

    on: Literal["ratio", "value", "delta"]
    bound: Literal["at_least", "at_most"]
    limit: float

    def met(self, row: Row) -> bool:
        """True when ``row`` is within this bound."""
        value = {"ratio": row.ratio, "value": row.roost, "delta": row.delta}[self.on]
        return value >= self.limit if self.bound == "at_least" else value <= self.limit

    def text(self, row: Row) -> str:
        """``≥ 1.5{TIMES} bare``, ``≤ 8 KiB``, ``≤ +1000 µs over live`` or ``= 0 sockets``
        (``TIMES`` is the multiplication sign)."""
        if self.on == "value" and self.bound == "at_most" and self.limit == 0:
            return f"= 0 {row.unit}"
        sign = "≥" if self.bound == "at_least" else "≤"
        if self.on == "ratio":
            return f"{sign} {self.limit:g}{TIMES} {row.baseline_word}"
        if self.on == "delta":
            return f"{sign} +{self.limit:g} {row.unit} over {row.baseline_word}"
        return f"{sign} {self.limit:g} {row.unit}"


@dataclass(frozen=True, slots=True)
class Row:
    """One measure: Roost's figure, the baseline's, and how they compare."""

    name: str
    roost: float
    baseline: float
    unit: str
    #: One bound, several (all must hold), or none.
    target: Target | tuple[Target, ...] | None = None
    baseline_word: str = "bare"
    extra: dict[str, float | str] = field(default_factory=dict)
    #: How the ratio column compares: ``ratio`` (``1.12x raw``), or ``delta`` (``+820 µs
    #: over live (3.88x)``).
    compare: Literal["ratio", "delta"] = "ratio"

    @property
    def targets(self) -> tuple[Target, ...]:
        """The row's bounds (empty when it has none)."""
        if self.target is None:
            return ()
        return self.target if isinstance(self.target, tuple) else (self.target,)

    @property
    def delta(self) -> float:
        """Roost's figure minus the baseline's (NaN when there is no baseline)."""
        return self.roost - self.baseline

    @property
    def ratio(self) -> float:
        """Roost over the baseline (NaN when there is no baseline)."""
        if math.isnan(self.baseline):
            return math.nan
        return self.roost / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool | None:
        """True when every target is met; None when the row has none."""
        targets = self.targets
        return None if not targets else all(target.met(self) for target in targets)

    def to_json(self) -> dict[str, object]:
        """The JSON form: every field plus ``ratio`` and ``met``."""
        row = asdict(self)
        alone = math.isnan(self.baseline)
        row["baseline"] = None if alone else self.baseline  # JSON has no NaN
        row["ratio"] = None if alone else self.ratio
        row["met"] = self.met
        return row


def number(value: float) -> str:
    """A figure with three significant digits or so (thousands grouped); a count (an
    ``int``) in full."""
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _compared(row: Row) -> str:
    """The ratio column: ``1.12x raw``, or ``+820 µs over live (3.88x)``."""
    if math.isnan(row.baseline):
        return "—"
    ratio = f"{row.ratio:.2f}{TIMES}"
    if row.compare == "delta":
        sign = "+" if row.delta >= 0 else "-"
        return f"{sign}{number(abs(row.delta))} {row.unit} over {row.baseline_word} ({ratio})"
    return f"{ratio} {row.baseline_word}"


def _cells(row: Row) -> tuple[str, str, str, str, str, str]:
    met = row.met
    alone = math.isnan(row.baseline)
    targets = row.targets
    return (
        row.name,
        f"{number(row.roost)} {row.unit}",
        "—" if alone else f"{number(row.baseline)} {row.unit}",
        _compared(row),
        "; ".join(target.text(row) for target in targets) if targets else "—",
        "—" if met is None else ("met" if met else "NOT met"),
    )


_HEADER = ("measure", "Roost", "baseline", "ratio", "target", "met?")


def render_table(rows: Sequence[Row]) -> str:
    """A plain-text table for stdout."""
    cells = [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in (_HEADER, *cells)) for i in range(len(_HEADER))]

    def join(line: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()

    return "\n".join([join(_HEADER), "  ".join("-" * w for w in widths), *map(join, cells)])


def machine_facts(event_loop: str | None = None) -> dict[str, str | int]:
    """CPUs, CPU model, Python, SQLite, OS, and the event loop the benchmark ran on
    (default: that of the child processes, uvloop when installed)."""
    facts = _host_facts()
    facts["event_loop"] = event_loop or event_loop_name()
    return facts


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one run reports: its rows and how they were obtained."""

    section: str
    heading: str
    command: str
    date: str
    machine: dict[str, str | int]
    sizes: str
    baseline_name: str
    rows: list[Row]
    notes: list[str]
    details: dict[str, object]
    elapsed: float
    #: Where ``machine['event_loop']`` ran.
    loop_where: str = LOOP_IN_CHILDREN

    def markdown(self) -> str:
        """The Markdown section for RESULTS.md, markers included."""
        m = self.machine
        lines = [
            f"<!-- {self.section}:begin -->",
            f"## {self.heading}",
            "",
            f"- Command: `{self.command}`",
            f"- Machine: {m['nproc']} CPUs (nproc), {m['cpu_model']}, Python {m['python']}, "
            f"SQLite {m['sqlite']}, {m['event_loop']} {self.loop_where}, {m['platform']}",
            f"- Date: {self.date} ({self.elapsed:.0f} s)",
            f"- Sizes: {self.sizes}",
            "",
            f"| measure | Roost | baseline ({self.baseline_name}) | ratio | target | met? |",
            "|---|---:|---:|---|---|---|",
        ]
        for row in self.rows:
            cells = [c.replace("|", r"\|") for c in _cells(row)]
            lines.append("| " + " | ".join(cells) + " |")
        for note in self.notes:
            lines += ["", note]
        lines.append(f"<!-- {self.section}:end -->")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """The JSON document of the run."""
        return {
            "scenario": self.section,
            "command": self.command,
            "date": self.date,
            "machine": self.machine,
            "sizes": self.sizes,
            "baseline": self.baseline_name,
            "results": [row.to_json() for row in self.rows],
            "notes": self.notes,
            "details": self.details,
            "elapsed_seconds": round(self.elapsed, 2),
        }

    def write_json(self, path: Path) -> None:
        """Write the JSON document to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")


def write_section(path: Path, section: str, text: str, order: Sequence[str] = ()) -> None:
    """Replace the section ``section`` of ``path`` with ``text`` in place. A section not
    there yet goes after the last section before it in ``order`` (or before the first
    one after it), so the scenario sections stay in order and ahead of the hand-written
    ones; otherwise it is appended."""
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    if path.exists():
        current = path.read_text(encoding="utf-8")
    else:
        current = f"{RESULTS_TITLE}\n\n{RESULTS_INTRO}\n"
    start = current.find(begin)
    stop = current.find(end, start + 1) if start != -1 else -1
    if start != -1 and stop != -1:
        current = current[:start] + text + current[stop + len(end) :]
    else:
        current = _insert(current, section, text, order)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(current, encoding="utf-8")


def _insert(current: str, section: str, text: str, order: Sequence[str]) -> str:
    """``current`` with the new section ``text`` placed by ``order`` (``write_section``)."""
    if section in order:
        at = order.index(section)
        for name in reversed(order[:at]):
            mark = f"<!-- {name}:end -->"
            if mark in current:
                cut = current.index(mark) + len(mark)
                return current[:cut] + "\n\n" + text + current[cut:]
        for name in order[at + 1 :]:
            mark = f"<!-- {name}:begin -->"
            if mark in current:
                cut = current.index(mark)
                return current[:cut] + text + "\n\n" + current[cut:]
    return current.rstrip("\n") + "\n\n" + text + "\n"


def _host_facts() -> dict[str, str | int]:
    """CPUs, CPU model, Python and SQLite versions, and the OS of this run."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        nproc = os.cpu_count() or 0
    return {
        "nproc": nproc,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or "unknown"
