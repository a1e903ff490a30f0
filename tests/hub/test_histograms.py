"""Latency histograms: buckets by Prometheus' ``le``, and sums across workers."""

from __future__ import annotations

from hub.histograms import BUCKETS, KINDS, Histogram, Latencies, merge


def test_an_observation_lands_in_the_first_bucket_at_or_above_it() -> None:
    histogram = Histogram()
    histogram.observe(BUCKETS[0])  # exactly on a bound: le means "at most"
    histogram.observe(BUCKETS[0] * 1.01)
    histogram.observe(BUCKETS[-1] * 2)  # past every bound: +Inf
    assert histogram.counts[0] == 1
    assert histogram.counts[1] == 1
    assert histogram.counts[-1] == 1
    assert histogram.count == 3
    assert histogram.sum == BUCKETS[0] * 2.01 + BUCKETS[-1] * 2


def test_one_histogram_per_kind_and_binding() -> None:
    latencies = Latencies()
    assert latencies.histogram("rpc", "A") is latencies.histogram("rpc", "A")
    assert latencies.histogram("rpc", "A") is not latencies.histogram("wake", "A")
    latencies.histogram("rpc", "A").observe(0.01)
    wire = latencies.to_wire()
    assert set(wire) == set(KINDS)
    assert wire["rpc"]["A"][-1] == 0.01
    assert sum(wire["rpc"]["A"][:-1]) == 1
    assert wire["wake"]["A"] == [0] * (len(BUCKETS) + 1) + [0.0]
    assert wire["handler"] == {}


def test_merge_adds_workers_bucket_by_bucket() -> None:
    one, two = Latencies(), Latencies()
    one.histogram("handler", "A").observe(0.001)
    two.histogram("handler", "A").observe(0.001)
    two.histogram("handler", "A").observe(3.0)
    two.histogram("handler", "B").observe(0.2)
    total = merge([one.to_wire(), two.to_wire()])
    a = total["handler"]["A"]
    assert sum(a[:-1]) == 3
    assert a[BUCKETS.index(0.001)] == 2
    assert a[-1] == 3.002
    assert sum(total["handler"]["B"][:-1]) == 1
    assert merge([]) == {kind: {} for kind in KINDS}
