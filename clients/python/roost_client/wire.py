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

import msgspec

import protocol
from roost_client.errors import BadFrame

__all__ = [
    "auth",
    "call",
    "decode",
    "hello",
    "message",
    "ping",
    "presence_sub",
    "presence_unsub",
    "sub",
    "unsub",
]


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


def auth(id: int, token: str) -> str:
    """``{"t":"auth","id":C,"token":T}``: a fresh token for the socket (SPEC §6.5)."""
    return _text(protocol.Auth(id=id, token=token))


def ping() -> str:
    """``{"t":"ping"}`` (SPEC §8)."""
    return _text(protocol.Ping())


def sub(
    id: int,
    table: str,
    *,
    where: list[Any] | None = None,
    columns: Sequence[str] | None = None,
    snapshot: bool = False,
    since: int | None = None,
) -> str:
    """``{"t":"sub","id":S,"table":T,...}``; absent members are left out (SPEC §9.3).

    Raises ``TypeError`` when a ``where`` value cannot be encoded as JSON.
    """
    return _text(
        protocol.Sub(
            id=id,
            table=table,
            where=where or [],
            columns=msgspec.UNSET if columns is None else list(columns),
            snapshot=snapshot,
            since=msgspec.UNSET if since is None else since,
        )
    )


def unsub(id: int) -> str:
    """``{"t":"unsub","id":S}`` (SPEC §9.10)."""
    return _text(protocol.Unsub(id=id))


def presence_sub() -> str:
    """``{"t":"presence_sub"}`` (SPEC §10.2)."""
    return _text(protocol.PresenceSub())


def presence_unsub() -> str:
    """``{"t":"presence_unsub"}`` (SPEC §10.3)."""
    return _text(protocol.PresenceUnsub())


def decode(data: str | bytes) -> protocol.HubFrame:
    """A hub frame, or ``BadFrame`` (rule 2)."""
    try:
        return protocol.decode_hub(data)
    except protocol.DecodeError as exc:
        raise BadFrame(f"invalid frame from the hub: {exc}") from exc
