"""HTTP answers for errors: the one place an exception becomes a status and a body.

Rules:

1. Every refusal over HTTP is ``{"error": {"code", "message", "retryable"}}`` with the
   status of its code in the one error table (``protocol.ERRORS``, SPEC §7.2).
2. ``InternalError`` (and anything that is not a ``HubError``) is answered as
   ``internal_error`` with no detail: exception text never reaches a client.
3. roost.v1 error frames are built in ``hub.net.roost_v1.error_frame`` and WebSocket
   close codes come from ``WebSocketError.close_code``: the same table, each connection
   kind mapping in one place.
"""

from __future__ import annotations

import orjson

from hub.errors import HubError, InternalError

__all__ = ["JSON", "error_body", "error_response"]

#: The headers of a JSON answer.
JSON: list[tuple[str, str]] = [("Content-Type", "application/json")]


def error_body(error: HubError) -> tuple[int, bytes]:
    """The HTTP status and JSON body for ``error``."""
    message = "internal error" if isinstance(error, InternalError) else str(error)
    body = {"error": {"code": error.code, "message": message, "retryable": error.retryable}}
    return error.http_status, orjson.dumps(body)


def error_response(error: HubError) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of the HTTP answer to ``error``."""
    status, body = error_body(error)
    if status == 401:
        return status, [*JSON, ("WWW-Authenticate", "Bearer")], body
    return status, JSON, body
