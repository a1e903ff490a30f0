"""Whole single-frame messages taken from the front of received bytes, without websockets.

Rules:

1. Only the plainest frame is taken: FIN set, RSV1-3 clear, opcode text or binary, masked
   (RFC 6455 §5.1: a client masks every frame), a payload length in 7 or 16 bits no larger
   than ``limit``, all of it received, and, for text, valid UTF-8. The first frame that is
   anything else ends the run: it and everything after it are websockets' to parse
   (``hub.net.rfc6455`` rule 1 says why, and when a connection may use this).
2. Nothing here holds state: what is not taken is returned as an offset, unread.
"""

from __future__ import annotations

from websockets.frames import Opcode

try:  # websockets' C unmasking, as its own parser uses; the pure one otherwise
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build of websockets without its C extension
    from websockets.utils import apply_mask

__all__ = ["take_messages"]

#: The first byte of a whole text / binary message: FIN, no RSV bit, the opcode.
_TEXT_FIN = 0x80 | Opcode.TEXT.value
_BINARY_FIN = 0x80 | Opcode.BINARY.value
#: The MASK bit of the second byte.
_MASKED = 0x80
#: The 7-bit length that announces a 16-bit one.
_LENGTH16 = 126


def take_messages(data: bytes, limit: int) -> tuple[list[tuple[str | bytes, int]], int]:
    """The whole messages at the front of ``data`` (rule 1), and how many bytes they took.

    Each message is ``(text or bytes, payload size in bytes)``. ``limit`` is the largest
    payload accepted (the connection's message size limit).
    """
    messages: list[tuple[str | bytes, int]] = []
    start, end = 0, len(data)
    while end - start >= 6:  # the smallest masked frame: 2 header bytes, 4 of mask
        first, second = data[start], data[start + 1]
        if (first != _TEXT_FIN and first != _BINARY_FIN) or second < _MASKED:
            break
        length = second - _MASKED
        mask_at = start + 2
        if length >= _LENGTH16:
            if length != _LENGTH16 or end - start < 8:
                break  # a 64-bit length, or the 16-bit one not all here
            length = (data[mask_at] << 8) | data[mask_at + 1]
            mask_at += 2
        payload_at = mask_at + 4
        stop = payload_at + length
        if length > limit or stop > end:
            break
        payload = apply_mask(data[payload_at:stop], data[mask_at:payload_at])
        if first == _TEXT_FIN:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                break  # websockets' path reports it, exactly as for any other frame
            messages.append((text, length))
        else:
            messages.append((payload, length))
        start = stop
    return messages, start
