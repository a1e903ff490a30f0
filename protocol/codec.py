"""Encode and decode ``roost.v1`` frames; sans-I/O, no hub imports.

Rules:

1. ``decode_client`` / ``decode_hub`` raise only ``DecodeError`` (code ``bad_frame``),
   whatever the input: bytes, text, invalid UTF-8, any JSON.
2. ``encode`` writes compact JSON (UTF-8 bytes); ``decode(encode(f)) == f``.
3. ``message_text`` turns a client message's ``data`` into what ``websocket_message``
   receives (SPEC §4.1).
"""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.errors import DecodeError
from protocol.frames import ClientFrame, HubFrame

__all__ = ["DecodeError", "decode_client", "decode_hub", "encode", "message_text"]

_client = msgspec.json.Decoder(ClientFrame)
_hub = msgspec.json.Decoder(HubFrame)
_encoder = msgspec.json.Encoder()


def _decode(decoder: msgspec.json.Decoder[Any], data: str | bytes) -> Any:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, UnicodeError, TypeError) as exc:
        raise DecodeError(str(exc)) from None


def decode_client(data: str | bytes) -> ClientFrame:
    """A client -> hub frame, or ``DecodeError``."""
    frame: ClientFrame = _decode(_client, data)
    return frame


def decode_hub(data: str | bytes) -> HubFrame:
    """A hub -> client frame, or ``DecodeError``."""
    frame: HubFrame = _decode(_hub, data)
    return frame


def encode(frame: ClientFrame | HubFrame) -> bytes:
    """Compact JSON of ``frame``."""
    return _encoder.encode(frame)


def message_text(data: Any) -> str:
    """What ``websocket_message`` receives for a client message's ``data`` (SPEC §4.1)."""
    if isinstance(data, str):
        return data
    return _encoder.encode(data).decode("utf-8")
