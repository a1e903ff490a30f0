"""The ``roost.v1`` wire protocol: frames, codec and error table (sans-I/O).

This package imports nothing of the hub; ``protocol/SPEC.md`` is normative and
``protocol/vectors/*.json`` are the shared test vectors of both SDKs. Hierarchy::

    ProtocolError        root of every protocol error
    └── DecodeError      a frame that breaks the spec (code ``bad_frame``)
"""

from protocol.codec import decode_client, decode_hub, encode, message_text
from protocol.errors import CLOSE_CODES, ERRORS, DecodeError, ErrorRow, ProtocolError
from protocol.frames import (
    MAX_ID,
    Ack,
    Call,
    ClientFrame,
    ClientMessage,
    Error,
    Hello,
    HubFrame,
    HubMessage,
    Ping,
    Pong,
    Result,
    Welcome,
)

#: The subprotocol name a client offers in ``Sec-WebSocket-Protocol``.
SUBPROTOCOL = "roost.v1"

__all__ = [
    "CLOSE_CODES",
    "ERRORS",
    "MAX_ID",
    "SUBPROTOCOL",
    "Ack",
    "Call",
    "ClientFrame",
    "ClientMessage",
    "DecodeError",
    "Error",
    "ErrorRow",
    "Hello",
    "HubFrame",
    "HubMessage",
    "Ping",
    "Pong",
    "ProtocolError",
    "Result",
    "Welcome",
    "decode_client",
    "decode_hub",
    "encode",
    "message_text",
]
