"""The inspector: the page at ``/_roost/`` and the admin endpoints only it needs.

``GET /_roost/`` is one static HTML page (``inspector.html``: no data, no external
asset); it asks for the admin key and reads the admin API with it:
``GET /_roost/objects`` (the list), ``GET /_roost/objects/{binding}/{name}`` or
``/_roost/ids/{binding}/{hex id}`` (one object, ``detail``; unnamed objects by id)
and ``GET /_roost/events?after=N`` (the event tail, ``events``).

Rules:

1. Reading never wakes an object. Sockets, tags, attachments, presence and
   subscriptions come from the front's tables; liveness, feeds and alarms from
   ``HostPort.inspect``, which reads the object's file read-only.
2. User data is shown cut: an attachment or presence state over ``SHOWN_BYTES`` comes
   as the start of its JSON text, with ``truncated``.
3. ``events`` answers at once when there are newer events, else waits for the next one
   up to ``wait`` seconds (``MAX_WAIT`` at most; ``hub.net.tail`` bounds the waiters).
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from hub.errors import BadRequestError
from hub.net.answers import JSON
from hub.net.sockets import SocketRecord, SocketState

if TYPE_CHECKING:
    from hub.http import Request
    from hub.ids import ObjectId
    from hub.net.front import Front
    from hub.net.routes import AdminRoute

__all__ = ["MAX_WAIT", "SHOWN_BYTES", "detail", "events", "page", "target"]

Answer = tuple[int, list[tuple[str, str]], bytes]

#: Attachments and presence states are shown whole up to this many bytes of JSON.
SHOWN_BYTES = 2048
#: The longest a reader of ``/_roost/events`` waits for the next event, in seconds.
MAX_WAIT = 20.0

_PAGE = resources.files("hub.net").joinpath("inspector.html").read_bytes()
_SCRIPT = re.search(rb"<script>(.*?)</script>", _PAGE, re.S)
assert _SCRIPT is not None, "inspector.html has no inline script"
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.group(1)).digest()).decode()
_PAGE_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-cache"),
    # The page runs only its own script and talks only to this hub.
    (
        "Content-Security-Policy",
        f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline';"
        " connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
]


def page() -> Answer:
    """The inspector page (static: served without the admin key)."""
    return 200, _PAGE_HEADERS, _PAGE


def target(front: Front, route: AdminRoute) -> ObjectId:
    """The object of a per-object admin route, by its name or its hex id."""
    assert route.binding is not None
    if route.id is not None:
        return front.host.parse_id(route.binding, route.id)
    assert route.name is not None
    return front.host.object_id(route.binding, route.name)


async def detail(front: Front, route: AdminRoute) -> dict[str, Any]:
    """One object: liveness and why it stays, sockets, presence, feeds, alarm."""
    object_id = target(front, route)
    facts = await front.host.inspect(object_id)
    key = object_id.hex
    live = facts.live
    state = "active" if live is not None else "evicted" if facts.has_file else "new"
    presence = dict(front.presence.members(key))
    auto = front.table.auto_response(key)
    return {
        "binding": object_id.binding,
        "name": object_id.name,
        "id": key,
        "state": state,
        "queued": None if live is None else live.queued,
        "idle_seconds": None if live is None else live.idle_seconds,
        "not_evictable": None if live is None else live.not_evictable,
        "sockets": [_socket(front, record, presence) for record in front.table.records(key)],
        "presence": len(presence),
        "auto_response": None if auto is None else {"request": auto[0], "response": auto[1]},
        "feeds": None
        if facts.feeds is None
        else {
            "seq": facts.last_seq,
            "trimmed_through": facts.trimmed_through,
            "tables": [{"table": table, "seq": seq} for table, seq in facts.feeds],
        },
        "alarm": {
            "at_ms": facts.alarm_ms,
            "next_firing": None if facts.scheduled is None else facts.scheduled[0],
            "retry_count": None if facts.scheduled is None else facts.scheduled[1],
        },
        "file_error": facts.file_error,
    }


def _socket(front: Front, record: SocketRecord, presence: dict[int, bytes]) -> dict[str, Any]:
    conn = front.sockets.get(record.socket_id)
    return {
        "id": record.socket_id,
        "state": "open" if record.state is SocketState.OPEN else "closing",
        "protocol": None if conn is None else "roost.v1" if conn.v1 else "plain",
        "tags": list(record.tags),
        "attachment": _shown(record.attachment),
        "presence": _shown(presence.get(record.socket_id)),
        "subscriptions": front.subscriptions.count(record.socket_id),
        "auto_response_at": record.auto_response_at,
    }


def _shown(data: bytes | None) -> dict[str, Any] | None:
    """A stored JSON value for display: whole up to ``SHOWN_BYTES``, else cut as text."""
    if data is None:
        return None
    if len(data) <= SHOWN_BYTES:
        try:
            return {"bytes": len(data), "value": orjson.loads(data), "truncated": False}
        except orjson.JSONDecodeError:
            pass
    text = data[:SHOWN_BYTES].decode("utf-8", "replace")
    return {"bytes": len(data), "text": text, "truncated": len(data) > SHOWN_BYTES}


async def events(front: Front, request: Request) -> Answer:
    """``GET /_roost/events?after=N[&wait=S]``: the tail's entries numbered above ``N``."""
    query = request.query
    after = _number(query, "after", 0, int)
    wait = min(_number(query, "wait", MAX_WAIT, float), MAX_WAIT)
    entries = await front.tail.wait(after, wait)
    body = {"last": front.tail.last_seq, "events": entries}
    return 200, [*JSON, ("Cache-Control", "no-store")], orjson.dumps(body)


def _number(query: dict[str, str], name: str, default: float, kind: type[float]) -> Any:
    text = query.get(name)
    if text is None:
        return kind(default)
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if not value >= 0:  # also refuses NaN
        raise BadRequestError(f"{name} must be a number >= 0, got {text[:40]!r}")
    return value
