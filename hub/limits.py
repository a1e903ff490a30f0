"""Configurable limits, with the anchor's values as defaults.

One frozen dataclass, passed to the Hub and read by every layer that enforces a limit;
checks raise ``LimitExceededError`` with the expected and the actual size.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import LimitExceededError

__all__ = ["Limits", "check_size"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes, counts and timeouts the hub enforces (bytes unless said otherwise)."""

    #: KV key length in UTF-8 bytes.
    kv_key_bytes: int = 2048
    #: KV value length once JSON-encoded.
    kv_value_bytes: int = 2 * 1024 * 1024
    #: Keys in one ``get`` / ``put`` / ``delete`` batch.
    kv_batch_keys: int = 128
    #: Events queued for one object before new ones are refused as overloaded.
    max_queued_events: int = 10_000
    #: Distinct tags on one WebSocket (the anchor's 10).
    tags_per_socket: int = 10
    #: One tag's length in UTF-8 bytes (the anchor's 256).
    tag_bytes: int = 256
    #: One socket's serialized attachment: 16 KiB by default (the anchor's), configurable
    #: up to 1 MiB (1048576 bytes), the most allowed; attachments live in the front's
    #: memory for as long as the socket is open.
    attachment_bytes: int = 16 * 1024
    #: WebSockets open or closing on one object at a time (the anchor's 32,768).
    sockets_per_object: int = 32_768
    #: One WebSocket message: 1 MiB by default (the anchor's), configurable up to 32 MiB.
    message_bytes: int = 1024 * 1024
    #: A close frame's reason in UTF-8 bytes; 123 is also the most allowed (RFC 6455
    #: §5.5: a control frame carries at most 125 bytes, 2 of them the close code).
    close_reason_bytes: int = 123
    #: An auto-response request or response string in UTF-8 bytes (the anchor's 2048).
    auto_response_bytes: int = 2048
    #: Unsent bytes one socket may hold before it is closed as a slow consumer (1008).
    outbox_bytes: int = 4 * 1024 * 1024
    #: Feed subscriptions one socket may hold at a time (protocol/SPEC.md §9).
    subscriptions_per_socket: int = 64
    #: An HTTP request target (path and query) in bytes; longer is 414 ``uri_too_long``.
    http_target_bytes: int = 8 * 1024
    #: An HTTP request head (request line and headers) in bytes; larger is 431
    #: ``headers_too_large``.
    http_head_bytes: int = 64 * 1024
    #: Header lines in one HTTP request; more is 431 ``headers_too_large``.
    http_headers: int = 100
    #: Requests read ahead on one connection (pipelined) before the hub stops reading
    #: until it has answered some.
    http_pipelined: int = 16
    #: Unsent answer bytes on one HTTP connection before the hub stops reading its
    #: requests (until the client reads).
    http_unsent_bytes: int = 256 * 1024
    #: Seconds from a request's first byte until its head and body are read; slower is
    #: 408 ``request_timeout`` (slowloris).
    http_request_timeout: float = 10.0
    #: Seconds an HTTP connection may wait idle for its next request (and for its first
    #: one) before the hub closes it.
    http_keepalive_timeout: float = 15.0

    def __post_init__(self) -> None:
        for name in (
            "kv_key_bytes",
            "kv_value_bytes",
            "kv_batch_keys",
            "max_queued_events",
            "tags_per_socket",
            "tag_bytes",
            "attachment_bytes",
            "sockets_per_object",
            "message_bytes",
            "close_reason_bytes",
            "auto_response_bytes",
            "outbox_bytes",
            "subscriptions_per_socket",
            "http_target_bytes",
            "http_head_bytes",
            "http_headers",
            "http_pipelined",
            "http_unsent_bytes",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive int, got {value!r}")
        for name in ("http_request_timeout", "http_keepalive_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"limit {name} must be a positive number, got {value!r}")
        for name, (ceiling, why) in _CEILINGS.items():
            value = getattr(self, name)
            if value > ceiling:
                raise ValueError(f"limit {name} must be at most {ceiling} ({why}), got {value!r}")


#: Limits that configuration cannot raise past a ceiling, and why.
_CEILINGS: dict[str, tuple[int, str]] = {
    "attachment_bytes": (1024 * 1024, "1 MiB"),
    "message_bytes": (32 * 1024 * 1024, "32 MiB"),
    "close_reason_bytes": (123, "RFC 6455 §5.5"),
}


def check_size(what: str, size: int, limit: int, unit: str = "bytes") -> None:
    """Raise ``LimitExceededError`` when ``size`` is over ``limit``."""
    if size > limit:
        raise LimitExceededError(f"{what} too large: {size} {unit}, expected at most {limit}")
