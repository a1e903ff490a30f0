"""Counters the front keeps, and the Prometheus text form of every metric.

Rules:

1. Names follow Prometheus' conventions: ``roost_`` prefix, base units in the name
   (``_seconds``, ``_bytes``), ``_total`` on counters, one metric per meaning with labels
   for its dimensions; labels are ``binding`` and ``code`` only (bounded: never an
   object name or id).
2. Counters only go up; gauges are read at render time from their owners (the socket
   table, the object host), never copied here; latency histograms are the host's
   (``hub.histograms``; summed over workers by a gateway).
3. Pure: no I/O (the caller reads ``/proc`` and the host).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from hub.histograms import BUCKETS, KINDS, Wire
from hub.net.process_stats import ProcessStats

__all__ = ["Counters", "render"]


@dataclass(slots=True)
class Counters:
    """Monotonic totals since start."""

    sockets_accepted: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    auto_responses: int = 0
    slow_consumers_closed: int = 0
    http_requests: int = 0
    rpc_calls: int = 0
    feed_frames: int = 0
    #: Sockets closed, by (binding, close code).
    closes: dict[tuple[str, int], int] = field(default_factory=dict)

    def closed(self, binding: str, code: int) -> None:
        """Count one socket closed with ``code``."""
        key = (binding, code)
        self.closes[key] = self.closes.get(key, 0) + 1


#: Each counter's metric name (rule 1) and help text.
_COUNTERS = {
    "sockets_accepted": ("roost_websockets_accepted_total", "WebSockets accepted by objects"),
    "messages_in": (
        "roost_websocket_messages_received_total",
        "WebSocket messages received from clients",
    ),
    "messages_out": (
        "roost_websocket_messages_sent_total",
        "WebSocket messages sent to clients (a broadcast counts each recipient)",
    ),
    "bytes_in": ("roost_websocket_received_bytes_total", "WebSocket payload bytes received"),
    "bytes_out": ("roost_websocket_sent_bytes_total", "WebSocket payload bytes sent"),
    "auto_responses": (
        "roost_websocket_auto_responses_total",
        "messages answered by an auto-response without waking the object",
    ),
    "slow_consumers_closed": (
        "roost_websocket_slow_consumers_total",
        "sockets closed because their send buffer was over the limit",
    ),
    "http_requests": ("roost_http_requests_total", "HTTP requests received (upgrades included)"),
    "rpc_calls": ("roost_http_rpc_calls_total", "RPC calls received over HTTP"),
    "feed_frames": ("roost_feed_frames_sent_total", "live change-feed frames sent to subscribers"),
}
_HISTOGRAMS = {
    "handler": "time an object spent on one event: handler, commit and output",
    "rpc": "RPC calls, from being queued to their result",
    "wake": "activating an object: opening its file and running its constructor",
}


def render(
    counters: Counters,
    gauges: dict[str, tuple[str, float]],
    totals: dict[str, tuple[str, int]] | None = None,
    latencies: Wire | None = None,
    process: ProcessStats | None = None,
    version: str = "",
) -> str:
    """Prometheus text exposition (version 0.0.4).

    ``gauges`` and ``totals`` (counters kept elsewhere, e.g. by the object host) map a
    full metric name to (help text, value).
    """
    out: list[str] = []
    for f in fields(counters):
        if f.name in _COUNTERS:
            name, text = _COUNTERS[f.name]
            _family(out, name, "counter", text, [("", getattr(counters, f.name))])
    closes = [
        (_labels(binding=binding, code=str(code)), count)
        for (binding, code), count in sorted(counters.closes.items())
    ]
    _family(
        out,
        "roost_websocket_closes_total",
        "counter",
        "WebSockets closed, by binding and close code",
        closes,
    )
    for name, (text, total) in (totals or {}).items():
        _family(out, name, "counter", text, [("", total)])
    for name, (text, value) in gauges.items():
        _family(out, name, "gauge", text, [("", value)])
    wire = latencies or {}
    for kind in KINDS:
        _histogram(out, kind, wire.get(kind, {}))
    if process is not None:
        _process(out, process)
    info = _labels(version=version, python=platform.python_version())
    _family(out, "roost_build_info", "gauge", "the running roost and Python versions", [(info, 1)])
    return "\n".join(out) + "\n"


def _histogram(out: list[str], kind: str, by_binding: dict[str, list[float]]) -> None:
    name = f"roost_{kind}_duration_seconds"
    out += [f"# HELP {name} {_HISTOGRAMS[kind]}, by binding", f"# TYPE {name} histogram"]
    for binding, values in sorted(by_binding.items()):
        counts, total = values[:-1], values[-1]
        cumulative = 0.0
        for bound, count in zip((*BUCKETS, "+Inf"), counts, strict=True):
            cumulative += count
            le = bound if isinstance(bound, str) else repr(bound)
            out.append(f"{name}_bucket{_labels(binding=binding, le=le)} {_number(cumulative)}")
        label = _labels(binding=binding)
        out.append(f"{name}_sum{label} {_number(total)}")
        out.append(f"{name}_count{label} {_number(cumulative)}")


def _process(out: list[str], stats: ProcessStats) -> None:
    rows: list[tuple[str, str, str, float | None]] = [
        ("cpu_seconds_total", "counter", "user and system CPU time spent", stats.cpu_seconds),
        ("resident_memory_bytes", "gauge", "resident memory size", stats.resident_memory_bytes),
        ("virtual_memory_bytes", "gauge", "virtual memory size", stats.virtual_memory_bytes),
        ("open_fds", "gauge", "open file descriptors", stats.open_fds),
        ("max_fds", "gauge", "maximum open file descriptors", stats.max_fds),
        (
            "start_time_seconds",
            "gauge",
            "start time of the process since the Unix epoch",
            stats.start_time_seconds,
        ),
    ]
    for key, kind, text, value in rows:
        if value is not None:
            _family(out, f"process_{key}", kind, text, [("", value)])


def _family(
    out: list[str], name: str, kind: str, text: str, samples: Sequence[tuple[str, float]]
) -> None:
    out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
    out += [f"{name}{labels} {_number(value)}" for labels, value in samples]


def _labels(**pairs: str) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in pairs.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
