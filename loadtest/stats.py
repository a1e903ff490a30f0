"""Latency and throughput figures: pure functions, no event loop, no process.

Rules:

1. A latency is kept as a count in a log-scale bucket (``Histogram``): 2 % wide from
   1 µs up, so a child process hands its parent a few hundred numbers however many
   messages it saw, and histograms of several processes and rounds add up exactly.
   Percentiles are read from the merged counts (the bucket's upper edge, never below the
   true value by more than one bucket); the maximum is kept exactly.
2. Throughput over time is a list of counts per ``TICK`` seconds since a common start
   (``time.monotonic()``: one clock for every process on Linux); series of several
   processes add up index by index.
3. One percentile definition for the whole tool, the nearest rank: the ``q`` quantile
   of ``n`` samples is the smallest sample with at least ``q * n`` samples at or below
   it, i.e. index ``ceil(q * n) - 1`` of the sorted samples (``percentile``; of
   ``[1, 2, 3, 4]``, p50 is 2 and p90 is 4). ``Histogram.quantile`` reads the same rank
   from its buckets. A median over rounds (the fairness rule of ``storage`` and
   ``sdk``: each figure is the median of its rounds) is ``statistics.median``, the mean
   of the two middle values for an even count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "BUCKETS_PER_E",
    "TICK",
    "Histogram",
    "add_series",
    "percentile",
    "rate_over",
]

#: Buckets per factor e of latency: 50 makes each bucket about 2 % wide.
BUCKETS_PER_E = 50
#: Seconds per point of a throughput series.
TICK = 0.1
_MICRO = 1e6


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank, rule 3) of ascending ``ordered``; 0 when empty."""
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def bucket_of(seconds: float) -> int:
    """The bucket of a latency of ``seconds`` (everything under 1 µs is bucket 0)."""
    micros = seconds * _MICRO
    if micros <= 1.0:
        return 0
    return int(math.log(micros) * BUCKETS_PER_E) + 1


def bucket_top(bucket: int) -> float:
    """The upper edge of ``bucket``, in seconds."""
    if bucket <= 0:
        return 1.0 / _MICRO
    return math.exp(bucket / BUCKETS_PER_E) / _MICRO


@dataclass(slots=True)
class Histogram:
    """Latencies by log-scale bucket (rule 1), plus their exact count, sum and maximum."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0
    sum: float = 0.0
    max: float = 0.0

    @classmethod
    def of(cls, latencies: Iterable[float]) -> Histogram:
        """The histogram of ``latencies`` (seconds)."""
        histogram = cls()
        histogram.add_all(latencies)
        return histogram

    def add_all(self, latencies: Iterable[float]) -> None:
        """Count every latency of ``latencies`` (seconds; a negative one counts as 0)."""
        counts = self.counts
        scale, log = BUCKETS_PER_E, math.log
        top = self.max
        for seconds in latencies:
            micros = seconds * _MICRO
            bucket = 0 if micros <= 1.0 else int(log(micros) * scale) + 1
            counts[bucket] = counts.get(bucket, 0) + 1
            self.total += 1
            self.sum += seconds
            if seconds > top:
                top = seconds
        self.max = top

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other``'s counts to this histogram; returns ``self``."""
        for bucket, count in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.total += other.total
        self.sum += other.sum
        self.max = max(self.max, other.max)
        return self

    def quantile(self, q: float) -> float:
        """The ``q`` quantile in seconds (the nearest rank of rule 3, read as its bucket's
        upper edge, capped at the maximum)."""
        if not self.total:
            return 0.0
        rank = min(self.total, max(1, math.ceil(q * self.total)))
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return min(bucket_top(bucket), self.max)
        return self.max

    @property
    def mean(self) -> float:
        """The mean latency in seconds (0 when empty)."""
        return self.sum / self.total if self.total else 0.0

    def summary_ms(self) -> dict[str, float | int]:
        """``count``, ``p50``, ``p90``, ``p99``, ``max`` and ``mean`` (milliseconds)."""
        ms = 1e3
        return {
            "count": self.total,
            "p50": self.quantile(0.50) * ms,
            "p90": self.quantile(0.90) * ms,
            "p99": self.quantile(0.99) * ms,
            "max": self.max * ms,
            "mean": self.mean * ms,
        }

    def cdf(self) -> list[tuple[float, float]]:
        """(latency in seconds, share of samples at or below it), one point a bucket."""
        points: list[tuple[float, float]] = []
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            points.append((min(bucket_top(bucket), self.max), seen / self.total))
        return points

    def to_wire(self) -> tuple[dict[int, int], int, float, float]:
        """A plain tuple for a pipe between processes."""
        return dict(self.counts), self.total, self.sum, self.max

    @classmethod
    def from_wire(cls, wire: tuple[Mapping[int, int], int, float, float]) -> Histogram:
        """The histogram ``to_wire`` described."""
        counts, total, total_sum, top = wire
        return cls(dict(counts), total, total_sum, top)


def add_series(series: Iterable[Sequence[int]]) -> list[int]:
    """Counts per tick of several processes added index by index (rule 2)."""
    out: list[int] = []
    for one in series:
        if len(one) > len(out):
            out.extend([0] * (len(one) - len(out)))
        for index, count in enumerate(one):
            out[index] += count
    return out


def rate_over(series: Sequence[int], start: float, stop: float, tick: float = TICK) -> float:
    """Events per second counted in the ticks from ``start`` to ``stop`` seconds."""
    first, last = round(start / tick), round(stop / tick)
    if last <= first:
        return 0.0
    return sum(series[first:last]) / ((last - first) * tick)
