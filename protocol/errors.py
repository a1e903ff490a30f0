"""The one error table of Roost (protocol/SPEC.md §7.2): one row per stable code.

Every error the hub reports, over HTTP (a JSON body with an HTTP status), in a
``roost.v1`` error frame, or as the close code that ends a WebSocket, has a code in
``ERRORS``; the hub (``hub.errors``), both SDKs and the SPEC read it from here.

Rules:

1. A code's HTTP status, its ``retryable`` flag and the close code that goes with it are
   read from this table and nowhere else; clients branch on the code, never on the
   message.
2. ``close`` is the close code used when the error ends a socket (``None``: it never
   does); only codes ``in_frames`` are sent in a ``roost.v1`` ``error`` frame, the
   others answer HTTP requests or are told by a close code alone.
3. The table in SPEC §7.2 is this table (a test of each SDK compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLOSE_CODES", "ERRORS", "DecodeError", "ErrorRow", "ProtocolError"]


class ProtocolError(Exception):
    """Root of every error the protocol package raises."""


class DecodeError(ProtocolError, ValueError):
    """A frame that breaks the spec; ``code`` is the wire error code (``bad_frame``)."""

    code = "bad_frame"


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """One stable error code: its HTTP status, whether to retry, the close code if any."""

    code: str
    status: int
    retryable: bool = False
    close: int | None = None
    #: True for codes the hub sends in ``roost.v1`` error frames (SPEC §7.1).
    in_frames: bool = True


ERRORS: dict[str, ErrorRow] = {
    row.code: row
    for row in (
        # roost.v1 frames
        ErrorRow("bad_frame", 400),
        ErrorRow("session_required", 400),
        # requests and messages
        ErrorRow("message_too_big", 413, close=1009),
        ErrorRow("websocket_protocol_error", 400, close=1002, in_frames=False),
        ErrorRow("invalid_utf8", 400, close=1007, in_frames=False),
        # calls
        ErrorRow("method_not_found", 404),
        ErrorRow("invalid_arguments", 400),
        ErrorRow("object_error", 500),
        ErrorRow("activation_failed", 500),
        ErrorRow("overloaded", 503),
        ErrorRow("call_cycle", 508),
        # token refresh (SPEC §6.5); also the admin API's answer without its key
        ErrorRow("unauthorized", 401),
        # change feeds
        ErrorRow("no_such_feed", 404),
        ErrorRow("bad_subscription", 400),
        ErrorRow("forbidden", 403),
        ErrorRow("too_many_subscriptions", 429),
        # database objects (docs/databases.md)
        ErrorRow("no_such_database", 404),
        ErrorRow("database_exists", 409, in_frames=False),
        ErrorRow("read_only", 403),
        ErrorRow("query_error", 400),
        ErrorRow("result_too_large", 413),
        ErrorRow("migration_conflict", 409),
        ErrorRow("statement_not_allowed", 403),
        # the hub
        ErrorRow("hub_stopping", 503, retryable=True),
        ErrorRow("internal_error", 500, retryable=True, close=1011),
        # HTTP only
        ErrorRow("bad_request", 400, in_frames=False),
        ErrorRow("not_found", 404, in_frames=False),
        ErrorRow("method_not_allowed", 405, in_frames=False),
        ErrorRow("request_timeout", 408, retryable=True, in_frames=False),
        ErrorRow("uri_too_long", 414, in_frames=False),
        ErrorRow("headers_too_large", 431, in_frames=False),
        ErrorRow("unknown_binding", 404, in_frames=False),
        ErrorRow("invalid_id", 400, in_frames=False),
        ErrorRow("fetch_not_implemented", 501, in_frames=False),
        ErrorRow("configuration_error", 500, in_frames=False),
        ErrorRow("storage_error", 500, in_frames=False),
        ErrorRow("sql_error", 500, in_frames=False),
        ErrorRow("not_serializable", 400, in_frames=False),
        ErrorRow("limit_exceeded", 400, in_frames=False),
    )
}

#: Close codes the hub uses and whether a client reconnects after them (SPEC §7.3).
CLOSE_CODES: dict[int, tuple[str, bool]] = {
    1000: ("normal closure", False),
    1001: ("going away: the hub is stopping", True),
    1002: ("protocol error", False),
    1006: ("connection dropped", True),
    1007: ("invalid UTF-8", False),
    1008: ("slow consumer", True),
    1009: ("message too big", False),
    1011: ("unexpected condition in the hub", True),
    1012: ("service restart", True),
    1013: ("object overloaded, try again later", True),
}
