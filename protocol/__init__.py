"""The ``roost.v1`` wire protocol: frames, codec and error table (sans-I/O).

This package imports nothing of the hub; ``protocol/SPEC.md`` is normative and
``protocol/vectors/*.json`` are the shared test vectors of both SDKs. Hierarchy::

    ProtocolError        root of every protocol error
    ├── DecodeError      a frame that breaks the spec (code ``bad_frame``)
    └── WhereError       a subscription's ``where``/``columns`` (code ``bad_subscription``)
"""

from protocol.codec import MAX_NESTING, decode_client, decode_hub, encode, message_text
from protocol.errors import CLOSE_CODES, ERRORS, DecodeError, ErrorRow, ProtocolError
from protocol.frames import (
    MAX_ID,
    Ack,
    Auth,
    Call,
    ChangeItem,
    Changes,
    ClientFrame,
    ClientMessage,
    Error,
    Hello,
    HubFrame,
    HubMessage,
    Join,
    Leave,
    Member,
    Ping,
    Pong,
    Presence,
    PresenceSub,
    PresenceUnsub,
    Reset,
    Result,
    Snapshot,
    Sub,
    Subscribed,
    Unsub,
    Update,
    Welcome,
)
from protocol.where import WhereError, compile_where

#: The subprotocol name a client offers in ``Sec-WebSocket-Protocol``.
SUBPROTOCOL = "roost.v1"

__all__ = [
    "CLOSE_CODES",
    "ERRORS",
    "MAX_ID",
    "MAX_NESTING",
    "SUBPROTOCOL",
    "Ack",
    "Auth",
    "Call",
    "ChangeItem",
    "Changes",
    "ClientFrame",
    "ClientMessage",
    "DecodeError",
    "Error",
    "ErrorRow",
    "Hello",
    "HubFrame",
    "HubMessage",
    "Join",
    "Leave",
    "Member",
    "Ping",
    "Pong",
    "Presence",
    "PresenceSub",
    "PresenceUnsub",
    "ProtocolError",
    "Reset",
    "Result",
    "Snapshot",
    "Sub",
    "Subscribed",
    "Unsub",
    "Update",
    "Welcome",
    "WhereError",
    "compile_where",
    "decode_client",
    "decode_hub",
    "encode",
    "message_text",
]
