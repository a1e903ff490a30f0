"""The HTTP access log: one line per answer, upgrades included (101 or their refusal).

Rules:

1. ``Connection.answered`` is the one caller: every answer, however it leaves
   (``HttpExchange.respond``, ``Connection.complete_upgrade``, ``reject_upgrade``, a
   handshake websockets refuses), passes there once.
2. Secrets are never logged: the value of a ``token`` query parameter (the SDKs put
   their token there, as browsers cannot set headers) is replaced by ``[redacted]``;
   no header is logged (the admin key travels in ``Authorization``).
3. Off (``roost serve --no-access-log``: the logger's level is above INFO), an answer
   costs one cached level check.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from hub.logs import ACCESS_LOGGER, extra

if TYPE_CHECKING:
    import asyncio

__all__ = ["REDACTED", "enabled", "record", "redact"]

log = logging.getLogger(ACCESS_LOGGER)

REDACTED = "[redacted]"
#: Query parameters whose values are never logged (rule 2).
SECRET_PARAMETERS = frozenset({"token", "access_token"})


def enabled() -> bool:
    """True when answers are logged (rule 3)."""
    return log.isEnabledFor(logging.INFO)


def redact(target: str) -> str:
    """``target`` with the values of secret query parameters replaced (rule 2)."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    parts = query.split("&")
    for index, part in enumerate(parts):
        key, equals, _value = part.partition("=")
        if equals and unquote_plus(key).strip().lower() in SECRET_PARAMETERS:
            parts[index] = f"{key}={REDACTED}"
    return f"{path}?{'&'.join(parts)}"


def peer(transport: asyncio.BaseTransport | None) -> str:
    """``host:port`` of the TCP peer (``-`` when unknown).

    The address the client connected from, as the transport sees it: behind a proxy,
    the proxy's. (When ``Request`` carries the client address, trusted-proxy aware, log
    that instead: this is the one place to change.)
    """
    if transport is None:
        return "-"
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple) and len(name) >= 2:
        host = str(name[0])
        return f"[{host}]:{name[1]}" if ":" in host else f"{host}:{name[1]}"
    return "-" if not name else str(name)


def record(
    method: str,
    target: str,
    status: int,
    size: int,
    started: float,
    transport: asyncio.BaseTransport | None,
) -> None:
    """Log one answer (``started``: ``time.monotonic()`` when the request was read)."""
    duration_ms = round((time.monotonic() - started) * 1000, 3)
    path = redact(target)
    address = peer(transport)
    log.info(
        '%s "%s %s" %d %d %.1fms',
        address,
        method,
        path,
        status,
        size,
        duration_ms,
        extra=extra(
            "access",
            method=method,
            path=path,
            status=status,
            bytes=size,
            duration_ms=duration_ms,
            peer=address,
        ),
    )
