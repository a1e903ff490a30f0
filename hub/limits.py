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
    """Sizes and counts the hub enforces (bytes unless said otherwise)."""

    #: KV key length in UTF-8 bytes.
    kv_key_bytes: int = 2048
    #: KV value length once JSON-encoded.
    kv_value_bytes: int = 2 * 1024 * 1024
    #: Keys in one ``get`` / ``put`` / ``delete`` batch.
    kv_batch_keys: int = 128
    #: Events queued for one object before new ones are refused as overloaded.
    max_queued_events: int = 10_000

    def __post_init__(self) -> None:
        for name in ("kv_key_bytes", "kv_value_bytes", "kv_batch_keys", "max_queued_events"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive int, got {value!r}")


def check_size(what: str, size: int, limit: int, unit: str = "bytes") -> None:
    """Raise ``LimitExceededError`` when ``size`` is over ``limit``."""
    if size > limit:
        raise LimitExceededError(f"{what} too large: {size} {unit}, expected at most {limit}")
