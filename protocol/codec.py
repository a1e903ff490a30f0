"""Encode and decode ``roost.v1`` frames; sans-I/O, no hub imports.

Rules:

1. ``decode_client`` / ``decode_hub`` raise only ``DecodeError`` (code ``bad_frame``),
   whatever the input: bytes, text, invalid UTF-8, any JSON. A frame nested more than
   ``MAX_NESTING`` deep is refused before msgspec sees it (SPEC §2.6), so no input can
   exhaust the stack.
2. ``encode`` writes compact JSON (UTF-8 bytes); ``decode(encode(f)) == f``.
3. ``message_text`` turns a client message's ``data`` into what ``websocket_message``
   receives (SPEC §4.1).
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

import msgspec

from protocol.errors import DecodeError
from protocol.frames import ClientFrame, HubFrame

__all__ = ["MAX_NESTING", "DecodeError", "decode_client", "decode_hub", "encode", "message_text"]

#: How deep arrays and objects may nest in a frame, the frame object being level 1
#: (SPEC §2.6).
MAX_NESTING = 64

_client = msgspec.json.Decoder(ClientFrame)
_hub = msgspec.json.Decoder(HubFrame)
_encoder = msgspec.json.Encoder()


# What the depth scan keeps of a frame: brackets and quotes. In its result opening
# brackets become the signed byte 1 and closing ones -1.
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
# A string in that skeleton; an unterminated one runs to the end (so a match never
# fails and the scan stays linear).
_SKELETON_STRING = re.compile(rb'"[^"]*"?')


def _too_deep(data: str | bytes | bytearray | memoryview) -> int | None:
    """How deep brackets nest in ``data`` outside strings, if more than ``MAX_NESTING``.

    Exact on valid JSON. On invalid JSON it is exact up to the first error, the only
    part msgspec reads, so a frame that passes cannot make msgspec recurse deeper. Every
    step is a C loop (count, replace, translate, one regex without backtracking):
    linear on any input, and nothing but two counts for a frame with few brackets.
    """
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= MAX_NESTING:
            return None
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(data)
        if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
            return None
    if b"\\" in raw:
        # Escapes parse left to right: drop escaped backslashes, then escaped quotes;
        # every quote left opens or closes a string.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Dropping '""' deletes an empty string or joins two adjacent ones: no bracket
    # changes sides, and most strings are gone before the regex runs.
    skeleton = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    steps = _SKELETON_STRING.sub(b"", skeleton).translate(_STEPS)
    if len(steps) <= MAX_NESTING:
        return None
    depth = max(accumulate(memoryview(steps).cast("b")))
    return depth if depth > MAX_NESTING else None


def _decode(decoder: msgspec.json.Decoder[Any], data: str | bytes) -> Any:
    try:
        if isinstance(data, (str, bytes, bytearray, memoryview)):
            depth = _too_deep(data)
            if depth is not None:
                raise DecodeError(f"frame nests {depth} deep, expected at most {MAX_NESTING}")
        return decoder.decode(data)
    except (msgspec.DecodeError, UnicodeError, TypeError, ValueError, RecursionError) as exc:
        # ValueError: a memoryview of another format; RecursionError: only if the
        # caller's own stack is nearly full, since the bound above keeps ours short.
        if isinstance(exc, DecodeError):
            raise
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
