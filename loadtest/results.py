"""What a scenario run gives: Roost's headline figure next to its baseline's, the ratio
oriented so that higher is better, the target, and the JSON document.

Rules:

1. Every result has one headline figure per side, with its unit, and says whether a
   higher figure is better (deliveries per second) or a lower one (KiB per socket,
   milliseconds). ``ratio`` is Roost over the baseline when higher is better, the
   baseline over Roost otherwise: above 1, Roost did better.
2. A target bounds the oriented ratio (``≥ 1.5x``), Roost's own figure (``≤ 8 KiB``) or
   Roost's figure minus the baseline's (``≤ +1 ms over live``); ``met`` is decided here
   and only here.
3. The JSON document has at least ``scenario``, ``params``, ``roost``, ``baseline`` (each
   with ``figure`` and ``unit``), ``ratio`` and ``targets``; the rest is detail.
4. A ``Check`` is a count that must stay within its limit whatever the baseline does
   (sockets closed by a reload, messages lost or repeated: 0); it is met or not on its
   own, decided here too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from loadtest.report import TIMES, Row, number
from loadtest.stats import TICK, Histogram

__all__ = ["Check", "Goal", "Outcome", "Side", "oriented_ratio"]


def oriented_ratio(roost: float, baseline: float, higher_is_better: bool) -> float:
    """Roost / baseline when higher is better, else baseline / Roost (rule 1)."""
    top, bottom = (roost, baseline) if higher_is_better else (baseline, roost)
    if bottom == 0:
        return math.inf if top > 0 else 0.0
    return top / bottom


@dataclass(frozen=True, slots=True)
class Goal:
    """A target (rule 2): on ``ratio`` (oriented), on Roost's ``value``, or on ``delta``."""

    on: Literal["ratio", "value", "delta"]
    bound: Literal["at_least", "at_most"]
    limit: float
    text: str

    def met(self, roost: float, baseline: float, ratio: float) -> bool:
        """True when the figures are within this target."""
        value = {"ratio": ratio, "value": roost, "delta": roost - baseline}[self.on]
        return value >= self.limit if self.bound == "at_least" else value <= self.limit


@dataclass(frozen=True, slots=True)
class Check:
    """A count that must not pass ``limit`` (rule 4)."""

    name: str
    count: int
    limit: int = 0

    @property
    def met(self) -> bool:
        """True when the count is within the limit."""
        return self.count <= self.limit

    def to_json(self) -> dict[str, object]:
        """``name``, ``count``, ``limit`` and ``met``."""
        return {"name": self.name, "count": self.count, "limit": self.limit, "met": self.met}


@dataclass(slots=True)
class Side:
    """One side's figures: the headline, and whatever detail the scenario keeps."""

    name: str
    figure: float
    unit: str
    detail: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """``name``, ``figure``, ``unit``, then the detail."""
        return {"name": self.name, "figure": self.figure, "unit": self.unit, **self.detail}


@dataclass(slots=True)
class Outcome:
    """The result of one scenario run (rule 3)."""

    scenario: str
    label: str
    params: Mapping[str, object]
    roost: Side
    baseline: Side
    higher_is_better: bool
    goals: Sequence[Goal] = ()
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    client_saturated: bool = False
    available: bool = True
    extra: dict[str, object] = field(default_factory=dict)
    #: The detail section of RESULTS.md: its heading, sizes and rows.
    heading: str = ""
    sizes: str = ""
    rows: list[Row] = field(default_factory=list)
    #: The event loop the measure ran on, when not that of the child processes
    #: (``storage`` runs in the command's process on asyncio): ``report.machine_facts``.
    event_loop: str = ""
    #: For the plots: latencies and receipts per tick, by side (not in the JSON).
    latency: dict[str, Histogram] = field(default_factory=dict)
    series: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """The oriented ratio: above 1, Roost did better (rule 1)."""
        return oriented_ratio(self.roost.figure, self.baseline.figure, self.higher_is_better)

    def met(self) -> list[bool]:
        """For each goal, whether it is met."""
        return [g.met(self.roost.figure, self.baseline.figure, self.ratio) for g in self.goals]

    @property
    def error_count(self) -> int:
        """Errors of every kind, both sides."""
        return sum(self.errors.values())

    def ratio_text(self) -> str:
        """``9.02x`` (the sign) and, when lower is better, what it means."""
        if not self.available:
            return "—"
        if self.higher_is_better:
            return f"{self.ratio:.2f}{TIMES}"
        raw = self.roost.figure / self.baseline.figure if self.baseline.figure else math.inf
        return f"{self.ratio:.2f}{TIMES} (Roost at {raw:.2f}{TIMES} the baseline's)"

    def to_json(self) -> dict[str, object]:
        """The JSON document (rule 3)."""
        met = self.met()
        return {
            "scenario": self.scenario,
            "label": self.label,
            "available": self.available,
            "params": dict(self.params),
            "roost": self.roost.to_json(),
            "baseline": self.baseline.to_json(),
            "ratio": self.ratio if self.available else None,
            "ratio_orientation": (
                "roost / baseline (higher is better)"
                if self.higher_is_better
                else "baseline / roost (lower figures are better; higher ratio is better)"
            ),
            "targets": [
                {"text": g.text, "on": g.on, "bound": g.bound, "limit": g.limit, "met": m}
                for g, m in zip(self.goals, met, strict=True)
            ],
            "checks": [check.to_json() for check in self.checks],
            "errors": dict(self.errors),
            "client_saturated": self.client_saturated,
            "notes": list(self.notes),
            "rows": [row.to_json() for row in self.rows],
            "series_tick_seconds": TICK,
            "series": self.series,
            **self.extra,
        }

    def write_json(self, path: Path, extra: Mapping[str, object] | None = None) -> None:
        """Write the JSON document (plus ``extra`` top-level members) to ``path``."""
        document = {**self.to_json(), **(extra or {})}
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        path.write_text(text + "\n", encoding="utf-8")

    def summary(self) -> str:
        """Two lines for the terminal."""
        if not self.available:
            return f"{self.label}: unavailable — {'; '.join(self.notes)}"
        goals = ", ".join(
            [
                *(
                    f"{g.text}: {'met' if m else 'NOT met'}"
                    for g, m in zip(self.goals, self.met(), strict=True)
                ),
                *(f"{c.name} {c.count:,}: {'met' if c.met else 'NOT met'}" for c in self.checks),
            ]
        )
        return (
            f"{self.label}: Roost {number(self.roost.figure)} {self.roost.unit}, "
            f"{self.baseline.name} {number(self.baseline.figure)} {self.baseline.unit}, "
            f"ratio {self.ratio_text()}" + (f"; {goals}" if goals else "")
        )
