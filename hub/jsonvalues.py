"""The one set of rules for JSON values the hub stores for an object (KV values and
WebSocket attachments): encoded with orjson, refused when they would not round-trip.

What round-trips exactly: ``None``, ``bool``, 64-bit ``int``, ``float``, ``str``, and
``list`` / ``dict`` (``str`` keys) nested freely. A ``tuple`` comes back as a ``list``,
NaN and infinities as ``None``, an ``Enum`` or ``UUID`` as its JSON value. Refused with
``NotSerializableError``: ``datetime``, dataclasses, ``bytes``, sets, non-``str`` keys,
integers beyond 64 bits, any other object.

The bytes returned are a compact copy: orjson's own output keeps the buffer it grew
(4 KiB for the smallest value, eight times the size of a large one), and an attachment
or a presence state lives as long as its socket, parked ones included.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.errors import NotSerializableError
from hub.limits import check_size

__all__ = ["decode_value", "encode_value"]

_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def encode_value(value: Any, what: str, limit: int) -> bytes:
    """JSON bytes of ``value``, or an error naming ``what`` (not serializable, too large)."""
    try:
        encoded = orjson.dumps(value, option=_OPTIONS)
    except TypeError as exc:
        raise NotSerializableError(f"{what} is not JSON-serializable: {exc}") from exc
    check_size(what, len(encoded), limit)
    return memoryview(encoded).tobytes()  # a copy of exactly its size (see above)


def decode_value(data: bytes) -> Any:
    """The value stored as ``data``."""
    return orjson.loads(data)
