"""The frames this client writes and reads, through the shared codec (``protocol``).

Pure: no I/O. Every frame goes through ``protocol.encode`` / ``protocol.decode_hub``,
so the client's bytes are those of ``protocol/vectors/*.json``.

Rules:

1. Text frames are compact JSON (SPEC §2.1), returned as ``str`` so ``websockets``
   sends them as text frames.
2. ``decode`` raises ``BadFrame`` (never anything else) for a hub frame that breaks
   the spec; the connection reports it and reads on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import protocol
from roost_client.errors import BadFrame

__all__ = ["call", "decode", "hello", "message", "ping"]


def _text(frame: protocol.ClientFrame) -> str:
    return protocol.encode(frame).decode("utf-8")


def hello(session: str) -> str:
    """``{"t":"hello","session":S}`` (SPEC §3.1)."""
    return _text(protocol.Hello(session=session))


def message(data: Any, id: int | None = None) -> str:
    """``{"t":"msg","data":D}``, with ``"id"`` when exactly once (SPEC §4.1, §4.2).

    Raises ``TypeError`` when ``data`` cannot be encoded as JSON.
    """
    if id is None:
        return _text(protocol.ClientMessage(data=data))
    return _text(protocol.ClientMessage(data=data, id=id))


def call(
    id: int, method: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
) -> str:
    """``{"t":"call","id":C,"method":M,...}``; empty args / kwargs are left out (SPEC §6.1)."""
    return _text(protocol.Call(id=id, method=method, args=list(args), kwargs=dict(kwargs or {})))


def ping() -> str:
    """``{"t":"ping"}`` (SPEC §8)."""
    return _text(protocol.Ping())


def decode(data: str | bytes) -> protocol.HubFrame:
    """A hub frame, or ``BadFrame`` (rule 2)."""
    try:
        return protocol.decode_hub(data)
    except protocol.DecodeError as exc:
        raise BadFrame(f"invalid frame from the hub: {exc}") from exc
