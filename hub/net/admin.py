"""The admin API under ``/_roost/``: health, metrics, objects, forced hibernation, and
the inspector's page and endpoints (``hub/net/inspector.py``).

Rules:

1. Every endpoint needs ``Authorization: Bearer <admin key>`` when the hub has an admin
   key (``roost serve --admin-key`` or ``ROOST_ADMIN_KEY``), except ``health``, which
   load-balancer probes reach without it unless ``--health-requires-key``, and the
   static inspector page (it holds no data; it asks for the key).
2. Reading never wakes an object; answers are JSON except ``metrics`` (Prometheus text)
   and the page.
3. ``health`` is also readiness: 200 ``ok`` while serving, 503 ``stopping`` once the hub
   drains (new requests then get 503 ``hub_stopping`` before reaching here).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import orjson

from hub import __version__
from hub.errors import UnauthorizedError
from hub.net import inspector, process_stats
from hub.net.answers import JSON
from hub.net.metrics import render
from hub.net.routes import AdminRoute

if TYPE_CHECKING:
    from hub.http import Request
    from hub.net.front import Front

__all__ = ["handle"]

Answer = tuple[int, list[tuple[str, str]], bytes]


async def handle(front: Front, route: AdminRoute, request: Request) -> Answer:
    """Answer one admin request; ``UnauthorizedError`` without the admin key."""
    if route.action == "page":
        return inspector.page()
    open_health = route.action == "health" and not front.health_requires_key
    if front.admin_key is not None and not open_health:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {front.admin_key}"
        if not secrets.compare_digest(given.encode(), expected.encode()):
            raise UnauthorizedError("admin key required: Authorization: Bearer <key>")
    if route.action == "health":
        status = "stopping" if front.stopping else "ok"
        body = {"status": status, "version": __version__}
        return (503 if front.stopping else 200), JSON, orjson.dumps(body)
    if route.action == "metrics":
        return 200, [("Content-Type", "text/plain; version=0.0.4")], (await metrics(front)).encode()
    if route.action == "objects":
        return 200, JSON, orjson.dumps(await objects(front))
    if route.action == "object":
        return 200, JSON, orjson.dumps(await inspector.detail(front, route))
    if route.action == "events":
        return await inspector.events(front, request)
    hibernated = await front.host.hibernate(inspector.target(front, route))
    return 200, JSON, orjson.dumps({"hibernated": hibernated})


async def metrics(front: Front) -> str:
    """The Prometheus text of the hub."""
    stats = await front.host.report()
    table = front.table
    open_sockets = len(table)
    active_keys = {obj.id for obj in stats.objects}
    parked = sum(table.count(key) for key in table.objects() if key not in active_keys)
    gauges = {
        "roost_websockets_open": ("WebSockets open now", float(open_sockets)),
        "roost_websockets_parked": ("open WebSockets whose object is evicted", float(parked)),
        "roost_objects_active": ("objects live in memory", float(stats.active)),
        "roost_objects_evicted": ("objects with a file and no live instance", float(stats.evicted)),
        "roost_alarms_scheduled": ("alarms waiting to fire", float(stats.alarms_scheduled)),
    }
    if stats.backup_lag_seconds is not None:
        gauges["roost_backup_lag_seconds"] = (
            "age of the oldest commit not yet in the backup replica (the RPO)",
            stats.backup_lag_seconds,
        )
    totals = {
        "roost_object_activations_total": ("objects activated (woken)", stats.activations),
        "roost_object_evictions_total": ("objects evicted", stats.evictions),
    }
    return render(
        front.counters,
        gauges,
        totals,
        latencies=stats.latencies,
        process=process_stats.read(),
        version=__version__,
    )


async def objects(front: Front) -> dict[str, object]:
    """Active objects with why they stay, and evicted ones with their parked sockets."""
    stats = await front.host.report()
    table = front.table
    active = [
        {
            "binding": obj.binding,
            "id": obj.id,
            "name": obj.name,
            "sockets": table.count(obj.id),
            "queued": obj.queued,
            "idle_seconds": obj.idle_seconds,
            "not_evictable": obj.not_evictable,
        }
        for obj in stats.objects
    ]
    live = {obj.id for obj in stats.objects}
    evicted = [
        {"binding": binding, "id": hex_id, "name": name, "sockets": table.count(hex_id)}
        for binding, hex_id, name in await front.host.list_objects()
        if hex_id not in live
    ]
    return {"active": active, "evicted": evicted}
