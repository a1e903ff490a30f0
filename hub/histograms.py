"""Latency histograms the object host keeps per binding: handler, RPC and wake.

Rules:

1. Fixed buckets in seconds (``BUCKETS``, Prometheus' ``le`` bounds; the last bucket is
   ``+Inf``); an observation is one ``bisect`` and two additions, no lock (one event
   loop owns a host), so it can run on every event.
2. Label cardinality is bounded: one histogram per (kind, binding), never per object.
3. Counts only go up. Their wire form (``Latencies.to_wire``: plain lists) crosses
   process boundaries; ``merge`` adds such forms up (a gateway sums its workers').

Pure: no I/O, no asyncio.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping

__all__ = ["BUCKETS", "KINDS", "Histogram", "Latencies", "Wire", "merge"]

#: Upper bounds (seconds) of the buckets, from 0.1 ms to 10 s.
BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: The kinds of latency: an event's handling, an RPC call, an activation (wake).
KINDS = ("handler", "rpc", "wake")

#: kind -> binding -> per-bucket counts (not cumulative, ``+Inf`` last), then the sum.
Wire = dict[str, dict[str, list[float]]]


class Histogram:
    """Observations of one latency: per-bucket counts and their sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one observation of ``seconds``."""
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)


class Latencies:
    """The host's histograms, by kind and binding (rule 2)."""

    __slots__ = ("_by_kind",)

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Histogram]] = {kind: {} for kind in KINDS}

    def histogram(self, kind: str, binding: str) -> Histogram:
        """The histogram of ``kind`` for ``binding`` (created on first use); callers on a
        hot path keep the reference."""
        by_binding = self._by_kind[kind]
        found = by_binding.get(binding)
        if found is None:
            found = by_binding[binding] = Histogram()
        return found

    def to_wire(self) -> Wire:
        """Plain lists: per-bucket counts, then the sum (rule 3)."""
        return {
            kind: {binding: [*h.counts, h.sum] for binding, h in by_binding.items()}
            for kind, by_binding in self._by_kind.items()
        }


def merge(forms: Iterable[Mapping[str, Mapping[str, list[float]]]]) -> Wire:
    """Add up wire forms (from several hosts) bucket by bucket."""
    total: Wire = {kind: {} for kind in KINDS}
    for form in forms:
        for kind, by_binding in form.items():
            into = total.setdefault(kind, {})
            for binding, values in by_binding.items():
                have = into.get(binding)
                if have is None:
                    into[binding] = list(values)
                else:
                    into[binding] = [a + b for a, b in zip(have, values, strict=True)]
    return total
