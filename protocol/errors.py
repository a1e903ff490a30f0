"""The error table of ``roost.v1`` (protocol/SPEC.md §7.2): one row per stable code.

Rules: a code's ``retryable`` flag and close code are read from this table and nowhere
else; clients branch on the code, never on the message.
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
    """One wire error code: whether to retry, and the close code that follows, if any."""

    code: str
    retryable: bool
    close: int | None = None


ERRORS: dict[str, ErrorRow] = {
    row.code: row
    for row in (
        ErrorRow("bad_frame", retryable=False),
        ErrorRow("session_required", retryable=False),
        ErrorRow("frame_too_large", retryable=False, close=1009),
        ErrorRow("method_not_found", retryable=False),
        ErrorRow("invalid_arguments", retryable=False),
        ErrorRow("object_error", retryable=False),
        ErrorRow("activation_failed", retryable=False),
        ErrorRow("overloaded", retryable=False),
        ErrorRow("call_cycle", retryable=False),
        ErrorRow("no_such_feed", retryable=False),
        ErrorRow("bad_subscription", retryable=False),
        ErrorRow("forbidden", retryable=False),
        ErrorRow("too_many_subscriptions", retryable=False),
        ErrorRow("hub_stopping", retryable=True),
        ErrorRow("internal_error", retryable=True),
        ErrorRow("connection_lost", retryable=True),
    )
}

#: Close codes and whether a client reconnects after them (SPEC §7.3).
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
