"""Percentiles, histograms and throughput series (pure, no event loop)."""

from __future__ import annotations

import math

import pytest

from loadtest.stats import Histogram, add_series, bucket_of, bucket_top, percentile, rate_over


def test_percentile_nearest_rank() -> None:
    ordered = [float(k) for k in range(1, 101)]
    assert percentile(ordered, 0.50) == 50.0
    assert percentile(ordered, 0.90) == 90.0
    assert percentile(ordered, 0.99) == 99.0
    assert percentile(ordered, 1.0) == 100.0
    assert percentile(ordered, 0.0) == 1.0


def test_percentile_of_nothing_is_zero() -> None:
    assert percentile([], 0.5) == 0.0


def test_bucket_edges_hold_their_values() -> None:
    for seconds in (2e-6, 1e-4, 0.0123, 1.5):
        bucket = bucket_of(seconds)
        assert bucket_top(bucket - 1) <= seconds * (1 + 1e-9)
        assert seconds <= bucket_top(bucket) * (1 + 1e-9)
        assert bucket_top(bucket) / seconds < 1.03  # buckets are about 2 % wide


def test_histogram_quantiles_within_a_bucket_of_the_exact_ones() -> None:
    latencies = [k / 10_000 for k in range(1, 10_001)]  # 0.1 ms .. 1 s
    histogram = Histogram.of(latencies)
    ordered = sorted(latencies)
    for q in (0.5, 0.9, 0.99):
        exact = percentile(ordered, q)
        assert exact <= histogram.quantile(q) <= exact * 1.03
    assert histogram.quantile(1.0) == histogram.max == 1.0
    assert histogram.total == 10_000
    assert math.isclose(histogram.mean, sum(latencies) / len(latencies))


def test_histograms_merge_exactly() -> None:
    a = Histogram.of([0.001, 0.002, 0.003])
    b = Histogram.of([0.004, 0.5])
    merged = Histogram().merge(a).merge(b)
    whole = Histogram.of([0.001, 0.002, 0.003, 0.004, 0.5])
    assert merged.counts == whole.counts
    assert merged.total == 5
    assert merged.max == 0.5


def test_histogram_survives_the_pipe() -> None:
    histogram = Histogram.of([0.0005, 0.25, -1.0])  # a negative latency counts as 0
    again = Histogram.from_wire(histogram.to_wire())
    assert again == histogram
    assert again.counts[0] == 1


def test_summary_in_milliseconds() -> None:
    summary = Histogram.of([0.010] * 99 + [0.100]).summary_ms()
    assert summary["count"] == 100
    assert summary["p50"] == pytest.approx(10.0, rel=0.03)
    assert summary["max"] == pytest.approx(100.0)


def test_cdf_ends_at_one() -> None:
    points = Histogram.of([0.001, 0.002, 0.004]).cdf()
    assert [share for _, share in points] == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_series_add_index_by_index() -> None:
    assert add_series([[1, 2, 3], [10, 20], []]) == [11, 22, 3]


def test_rate_over_a_slice_of_ticks() -> None:
    series = [100] * 50  # 100 per 0.1 s tick: 1000/s
    assert rate_over(series, 1.0, 5.0) == pytest.approx(1000.0)
    assert rate_over(series, 2.0, 2.0) == 0.0


def test_percentile_is_the_nearest_rank_on_small_samples() -> None:
    # Index ceil(q * n) - 1 of the sorted samples (stats rule 3): the definition the
    # histograms, the SDK's latencies and the storage wake p90 all use.
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0  # not 3 (rounded index) nor 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.25) == 1.0
    assert percentile([10.0, 20.0, 30.0], 0.5) == 20.0
    assert percentile([7.0], 0.99) == 7.0
    ordered = [float(k) for k in range(1, 11)]
    assert percentile(ordered, 0.9) == 9.0
    assert percentile(ordered, 0.91) == 10.0


def test_histogram_quantile_reads_the_same_rank() -> None:
    samples = [0.001, 0.002, 0.003, 0.004]
    histogram = Histogram.of(samples)
    for q in (0.25, 0.5, 0.9):
        exact = percentile(samples, q)
        assert exact <= histogram.quantile(q) <= exact * 1.03
