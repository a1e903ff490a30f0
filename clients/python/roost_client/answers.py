"""HTTP answers of the hub as results or ``RoostError``s (protocol/SPEC.md §7.2).

Rules: a 2xx answer is its JSON body; any other is the error of its body's
``{"error": {"code", "message", "retryable"}}``, mapped by ``CODES`` like an ``error``
frame (one class per code; an unknown code stays a plain ``RoostError`` with it). A body
that is not the hub's (a proxy's 502) is ``RoostError`` ``http_<status>``, retryable for
5xx.
"""

from __future__ import annotations

from typing import Any

import orjson

from roost_client.errors import CODES, ConnectionClosed, HandshakeRejected, RoostError
from roost_client.http import HttpResponse

__all__ = ["result_of"]


def result_of(response: HttpResponse) -> dict[str, Any]:
    """The JSON object of a 2xx answer; the mapped ``RoostError`` otherwise."""
    try:
        body = orjson.loads(response.body) if response.body else {}
    except orjson.JSONDecodeError:
        body = None
    if 200 <= response.status < 300 and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        raise RoostError(
            f"unexpected HTTP answer {response.status}",
            code=f"http_{response.status}",
            retryable=response.status >= 500,
        )
    code, message = error["code"], str(error.get("message", ""))
    retryable = error.get("retryable") if isinstance(error.get("retryable"), bool) else None
    cls = CODES.get(code)
    if cls is None or cls in (HandshakeRejected, ConnectionClosed):
        raise RoostError(message, code=code, retryable=retryable)
    raise cls(message, retryable=retryable)
