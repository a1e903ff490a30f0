"""The frames a load-generator client writes and the payloads it stamps (pure).

Rules:

1. Client frames are built here, masked by websockets' C ``apply_mask`` (RFC 6455
   §5.3): the client's CPU goes to the kernel, not to Python. Server frames are read
   from their headers by ``loadtest.sockets.Socket`` (unmasked, RFC 6455 §5.2), with
   the opcodes below.
2. A message carries its send time: the first ``STAMP`` bytes of every payload are
   ``time.monotonic()`` as text (``CLOCK_MONOTONIC``, one clock for every process), then
   a space and the writer's number as 8 digits. Every recipient records send
   -> receive latency from it; a writer recognises its own messages by that number.
"""

from __future__ import annotations

import os
import struct

from websockets.speedups import apply_mask  # C; websockets.frames uses it too

__all__ = ["CLOSE", "FIN_DATA", "STAMP", "masked_text", "stamped"]

#: Bytes of the send time at the start of a payload, then a space and the writer number.
STAMP = 17
_TEXT_FIN = 0x81
#: The close opcode, and the first bytes of a final (unfragmented) data frame.
CLOSE = 0x8
FIN_DATA = (0x80, 0x81, 0x82)


def masked_text(payload: bytes) -> bytes:
    """One client text frame (FIN, masked with a fresh random key) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _TEXT_FIN, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", _TEXT_FIN, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 0x80 | 127, size)
    mask = os.urandom(4)
    return header + mask + apply_mask(payload, mask)


def stamped(writer: int, size: int, now: float) -> bytes:
    """A payload of ``size`` bytes (at least ``STAMP + 10``) stamped with ``now`` (rule 3)."""
    head = b"%017.6f %08d " % (now, writer)
    return head + b"x" * (size - len(head))
