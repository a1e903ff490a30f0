"""PNG plots of a scenario run: the latency CDF of both sides, and throughput over time.

matplotlib comes with the ``loadtest`` extra (``pip install -e '.[loadtest]'``); it is
imported here only, with the non-interactive ``Agg`` backend.
"""

from __future__ import annotations

from pathlib import Path

from loadtest.results import Outcome
from loadtest.stats import TICK

__all__ = ["write_plots"]

_COLOURS = {"roost": "tab:blue", "baseline": "tab:orange"}


def write_plots(outcome: Outcome, directory: Path) -> list[Path]:
    """Write ``{scenario}-latency.png`` and ``{scenario}-throughput.png`` into ``directory``
    (each when the run has the data); returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    names = {"roost": outcome.roost.name, "baseline": outcome.baseline.name}
    written: list[Path] = []
    if any(h.total for h in outcome.latency.values()):
        figure, axes = plt.subplots(figsize=(7, 4.5))
        for side, histogram in outcome.latency.items():
            points = histogram.cdf()
            if points:
                xs = [seconds * 1e3 for seconds, _ in points]
                ys = [share for _, share in points]
                axes.step(xs, ys, where="post", label=names[side], color=_COLOURS[side])
        axes.set_xscale("log")
        axes.set_xlabel("latency, send to receipt (ms, log scale)")
        axes.set_ylabel("share of messages at or below")
        axes.set_title(f"{outcome.label}: latency CDF")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        path = directory / f"{outcome.label.replace(' ', '-')}-latency.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    if any(outcome.series.values()):
        figure, axes = plt.subplots(figsize=(7, 4.5))
        for side, series in outcome.series.items():
            last = max((i for i, c in enumerate(series) if c), default=0) + 1
            xs = [i * TICK for i in range(last)]
            ys = [c / TICK for c in series[:last]]
            axes.plot(xs, ys, label=names[side], color=_COLOURS[side])
        axes.set_xlabel("seconds since the window's start (last window of each side)")
        axes.set_ylabel(f"deliveries per second ({TICK:g} s bins)")
        axes.set_title(f"{outcome.label}: throughput over time")
        axes.grid(True, alpha=0.3)
        axes.legend()
        path = directory / f"{outcome.label.replace(' ', '-')}-throughput.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written
