"""Counters the front keeps, and their Prometheus text form.

Rules: counters only go up; gauges are read at render time from their owners (the
socket table, the object host), never copied here. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Counters", "render"]


@dataclass(slots=True)
class Counters:
    """Monotonic totals since start."""

    sockets_accepted: int = 0
    sockets_closed: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    auto_responses: int = 0
    slow_consumers_closed: int = 0
    http_requests: int = 0
    rpc_calls: int = 0
    feed_frames: int = 0


_HELP = {
    "sockets_accepted": "WebSockets accepted by objects",
    "sockets_closed": "WebSockets closed, for any reason",
    "messages_in": "WebSocket messages received from clients",
    "messages_out": "WebSocket messages sent to clients (a broadcast counts each recipient)",
    "bytes_in": "WebSocket message payload bytes received",
    "bytes_out": "WebSocket message payload bytes sent",
    "auto_responses": "messages answered by an auto-response without waking the object",
    "slow_consumers_closed": "sockets closed because their send buffer was over the limit",
    "http_requests": "HTTP requests received (upgrades included)",
    "rpc_calls": "RPC calls received over HTTP",
    "feed_frames": "live change-feed frames sent to subscribers",
}


def render(
    counters: Counters,
    gauges: dict[str, tuple[str, float]],
    totals: dict[str, tuple[str, int]] | None = None,
) -> str:
    """Prometheus text exposition (version 0.0.4).

    ``gauges`` and ``totals`` (counters kept elsewhere, e.g. by the object host) map a
    metric name without prefix or suffix to (help text, value).
    """
    rows = [(f.name, _HELP[f.name], int(getattr(counters, f.name))) for f in fields(counters)]
    rows += [(key, text, value) for key, (text, value) in (totals or {}).items()]
    lines: list[str] = []
    for key, text, value in rows:
        name = f"roost_{key}_total"
        lines += [f"# HELP {name} {text}", f"# TYPE {name} counter", f"{name} {value}"]
    for key, (text, gauge) in gauges.items():
        name = f"roost_{key}"
        number = int(gauge) if float(gauge).is_integer() else gauge
        lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {number}"]
    return "\n".join(lines) + "\n"
