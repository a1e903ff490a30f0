"""Other work on the CPUs during a measured window: how much, and what to do about it.

The machine the benchmarks run on may be shared: another program running for a few
seconds halves the CPU a server gets, and a window measured then says more about that
program than about the server. So every window records the CPU time that was spent
outside the processes of the benchmark (``Meter``), and:

1. a window is *contended* when that other work used more than ``CONTENDED`` of a CPU
   on average over the window;
2. a benchmark runs more rounds (``more_rounds``), up to twice the rounds asked for and
   within ``BUDGET`` seconds in all, until it has as many rounds without a contended
   window as were asked for;
3. figures come from the uncontended windows (``usable``) when every group of windows
   has at least one; otherwise from all, and the report says so. Every window, flagged
   or not, stays in the JSON document.
4. Some sharing leaves no trace in ``/proc`` (a hypervisor's other guests slow the CPUs
   down without showing as steal time), so ratios are also taken round by round
   (``paired_ratios``): two windows measured back to back share the machine's mood of
   the moment, and the spread of those ratios shows how steady the machine was.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Protocol, TypeVar

from loadtest.process import machine_busy_seconds

__all__ = [
    "BUDGET",
    "CONTENDED",
    "Measured",
    "Meter",
    "Windowed",
    "contended",
    "more_rounds",
    "paired_ratios",
    "spread",
    "usable",
]

#: Other work above this many CPUs on average makes a window contended (rule 1).
CONTENDED = 0.10
#: Extra rounds start only if they end within this many seconds of the run's start.
BUDGET = 75.0


class Measured(Protocol):
    """A process (or a group of them) whose CPU time can be read."""

    def cpu(self) -> tuple[float, float]:
        """User and system CPU seconds so far."""
        ...


class Meter:
    """CPU seconds spent outside this process and ``children`` since ``start()``."""

    def __init__(self, children: Sequence[Measured]) -> None:
        self._children = list(children)
        self._machine = 0.0
        self._ours = 0.0

    def _our_seconds(self) -> float:
        mine = os.times()
        return mine.user + mine.system + sum(sum(child.cpu()) for child in self._children)

    def start(self) -> None:
        """Note the machine's and the benchmark's CPU time now."""
        self._ours = self._our_seconds()
        self._machine = machine_busy_seconds()

    def others(self) -> float:
        """CPU seconds of other work since ``start()`` (never below zero)."""
        machine = machine_busy_seconds() - self._machine
        ours = self._our_seconds() - self._ours
        return max(0.0, machine - ours)


class Windowed(Protocol):
    """A measured window that knows how much other work shared the CPUs."""

    @property
    def others_share(self) -> float:
        """Other work's CPU seconds over the window's wall seconds (in CPUs)."""
        ...


W = TypeVar("W", bound=Windowed)


def contended(window: Windowed) -> bool:
    """True when other work used more than ``CONTENDED`` of a CPU (rule 1)."""
    return window.others_share > CONTENDED


def more_rounds(
    done: int, asked: int, clean: int, started: float, round_seconds: float, *, extra: bool
) -> bool:
    """Whether to run another round after ``done`` rounds, ``clean`` of them uncontended
    (rule 2); ``started`` is the run's ``time.monotonic()`` start."""
    if done < asked:
        return True
    if not extra or clean >= asked or done >= 2 * asked:
        return False
    return time.monotonic() - started + round_seconds <= BUDGET


def usable(
    windows: Sequence[W], group: Callable[[W], Hashable], groups: Iterable[Hashable]
) -> tuple[list[W], str]:
    """The windows to take figures from, and a sentence saying which (rule 3)."""
    clean = [w for w in windows if not contended(w)]
    left_out = len(windows) - len(clean)
    if not left_out:
        return list(windows), "no window was contended"
    if all(any(group(w) == g for w in clean) for g in groups):
        return clean, (
            f"{left_out} of {len(windows)} windows left out: other work used more than "
            f"{CONTENDED:g} CPU during them (marked * below)"
        )
    return list(windows), (
        f"{left_out} of {len(windows)} windows were contended (other work above "
        f"{CONTENDED:g} CPU, marked * below) but are kept: some scenario had no other; "
        "read these figures with care"
    )


def paired_ratios(
    windows: Sequence[W],
    round_of: Callable[[W], int],
    group: Callable[[W], Hashable],
    value: Callable[[W], float],
    top: Hashable,
    bottom: Hashable,
) -> list[float]:
    """``value(top) / value(bottom)`` for every round that has both windows (rule 4)."""
    tops = {round_of(w): value(w) for w in windows if group(w) == top}
    bottoms = {round_of(w): value(w) for w in windows if group(w) == bottom}
    return [tops[r] / bottoms[r] for r in sorted(tops) if bottoms.get(r)]


def spread(ratios: Sequence[float]) -> str:
    """``median 0.62 (0.45-0.80, 9 rounds)``, or ``no round`` when there is none."""
    if not ratios:
        return "no round"
    ordered = sorted(ratios)
    middle = statistics.median(ordered)
    return f"median {middle:.2f} ({ordered[0]:.2f}-{ordered[-1]:.2f}, {len(ordered)} rounds)"
