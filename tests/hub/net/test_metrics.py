"""Prometheus text rendering: names, labels and histograms by the conventions."""

from __future__ import annotations

import re

from hub.histograms import BUCKETS, Latencies
from hub.net.metrics import Counters, render
from hub.net.process_stats import ProcessStats

_SAMPLE = re.compile(r'([a-z_]+)(\{([a-z_]+="[^"]*",?)*\})? (-?[0-9.e+-]+|\+Inf)')


def _families(text: str) -> dict[str, str]:
    """Each family's TYPE, checking every sample follows its own HELP and TYPE."""
    types: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current and name not in types
            types[name] = kind
        else:
            match = _SAMPLE.fullmatch(line)
            assert match is not None, line
            name = match.group(1)
            assert current is not None
            assert name == current or name in {f"{current}_{s}" for s in ("bucket", "sum", "count")}
    return types


def test_counters_end_in_total_and_gauges_do_not() -> None:
    text = render(
        Counters(messages_in=3, bytes_out=10),
        {"roost_websockets_open": ("open sockets", 2.0)},
        {"roost_object_activations_total": ("wakes", 5)},
        version="1.2.3",
    )
    lines = text.splitlines()
    assert "roost_websocket_messages_received_total 3" in lines
    assert "roost_websocket_sent_bytes_total 10" in lines
    assert "roost_object_activations_total 5" in lines
    assert "roost_websockets_open 2" in lines
    types = _families(text)
    for name, kind in types.items():
        assert name.startswith(("roost_", "process_"))
        assert name.endswith("_total") == (kind == "counter"), name
    assert text.endswith("\n")


def test_closes_are_counted_by_binding_and_code() -> None:
    counters = Counters()
    counters.closed("CHAT", 1000)
    counters.closed("CHAT", 1000)
    counters.closed("CHAT", 1006)
    lines = render(counters, {}).splitlines()
    assert 'roost_websocket_closes_total{binding="CHAT",code="1000"} 2' in lines
    assert 'roost_websocket_closes_total{binding="CHAT",code="1006"} 1' in lines


def test_latency_histograms_have_cumulative_buckets_sum_and_count() -> None:
    latencies = Latencies()
    handler = latencies.histogram("handler", "CHAT")
    for seconds in (0.0001, 0.0003, 0.003, 60.0):
        handler.observe(seconds)
    latencies.histogram("wake", "ROOM").observe(0.002)
    text = render(Counters(), {}, latencies=latencies.to_wire())
    lines = text.splitlines()
    name = "roost_handler_duration_seconds"
    assert f"# TYPE {name} histogram" in lines
    assert f'{name}_bucket{{binding="CHAT",le="0.0001"}} 1' in lines  # le: at most
    assert f'{name}_bucket{{binding="CHAT",le="0.0005"}} 2' in lines
    assert f'{name}_bucket{{binding="CHAT",le="0.005"}} 3' in lines
    assert f'{name}_bucket{{binding="CHAT",le="10.0"}} 3' in lines
    assert f'{name}_bucket{{binding="CHAT",le="+Inf"}} 4' in lines
    assert f'{name}_count{{binding="CHAT"}} 4' in lines
    (total,) = [line for line in lines if line.startswith(f'{name}_sum{{binding="CHAT"}}')]
    assert abs(float(total.split()[1]) - 60.0034) < 1e-9
    buckets = [line for line in lines if line.startswith(f'{name}_bucket{{binding="CHAT"')]
    assert len(buckets) == len(BUCKETS) + 1
    counts = [int(line.split()[1]) for line in buckets]
    assert counts == sorted(counts)  # cumulative
    assert 'roost_wake_duration_seconds_count{binding="ROOM"} 1' in lines
    assert "# TYPE roost_rpc_duration_seconds histogram" in lines  # declared, no samples yet
    _families(text)


def test_process_metrics_and_build_info() -> None:
    process = ProcessStats(
        cpu_seconds=1.5,
        resident_memory_bytes=4096,
        virtual_memory_bytes=8192,
        open_fds=7,
        max_fds=1024,
        start_time_seconds=1700000000.25,
    )
    text = render(Counters(), {}, process=process, version="1.2.3")
    lines = text.splitlines()
    assert "process_cpu_seconds_total 1.5" in lines
    assert "# TYPE process_cpu_seconds_total counter" in lines
    assert "process_resident_memory_bytes 4096" in lines
    assert "process_virtual_memory_bytes 8192" in lines
    assert "process_open_fds 7" in lines
    assert "process_max_fds 1024" in lines
    assert "process_start_time_seconds 1700000000.25" in lines
    (info,) = [line for line in lines if line.startswith("roost_build_info{")]
    assert info.startswith('roost_build_info{version="1.2.3",python="3.')
    assert info.endswith("} 1")
    _families(text)


def test_label_values_are_escaped() -> None:
    counters = Counters()
    counters.closed('A"B\\C', 1000)
    text = render(counters, {})
    assert 'binding="A\\"B\\\\C"' in text
