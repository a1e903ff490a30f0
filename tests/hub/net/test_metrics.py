"""Prometheus text rendering."""

from __future__ import annotations

from hub.net.metrics import Counters, render


def test_counters_and_gauges_render_as_prometheus_text() -> None:
    counters = Counters(messages_in=3)
    text = render(counters, {"sockets_open": ("open sockets", 2.0)}, {"wakes": ("wakes", 5)})
    lines = text.splitlines()
    assert "# TYPE roost_messages_in_total counter" in lines
    assert "roost_messages_in_total 3" in lines
    assert "roost_wakes_total 5" in lines
    assert "# TYPE roost_sockets_open gauge" in lines
    assert "roost_sockets_open 2" in lines
    assert text.endswith("\n")
    names = [line.split()[0] for line in lines if not line.startswith("#")]
    assert len(names) == len(set(names))
