"""The frames of ``roost.v1`` (protocol/SPEC.md §3-§8) as typed structs.

Client frames and hub frames are two tagged unions on the member ``t``. The structs
carry the validation rules of the spec (required members, types, integer ranges,
the session pattern), so decoding and validating are one step.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = [
    "MAX_ID",
    "Ack",
    "Call",
    "ClientFrame",
    "ClientMessage",
    "Error",
    "Hello",
    "HubFrame",
    "HubMessage",
    "Ping",
    "Pong",
    "Result",
    "Welcome",
]

#: The largest integer JavaScript represents exactly (SPEC §2.3).
MAX_ID = 2**53 - 1

Id = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]
Session = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,128}$")]


class _Frame(msgspec.Struct, frozen=True, tag_field="t", omit_defaults=True):
    pass


# -- client -> hub ----------------------------------------------------------------------


class Hello(_Frame, tag="hello", frozen=True):
    """Start (or resume) a session (SPEC §3.1)."""

    session: Session


class ClientMessage(_Frame, tag="msg", frozen=True):
    """An application message; with ``id``, delivered exactly once (SPEC §4.1, §4.2)."""

    data: Any
    id: Id | msgspec.UnsetType = msgspec.UNSET


class Call(_Frame, tag="call", frozen=True):
    """Call a public method of the object (SPEC §6.1)."""

    id: Id
    method: str
    args: list[Any] = msgspec.field(default_factory=list)
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)


class Ping(_Frame, tag="ping", frozen=True):
    """Keep-alive; answered by the hub without waking the object (SPEC §8)."""


ClientFrame = Hello | ClientMessage | Call | Ping


# -- hub -> client ----------------------------------------------------------------------


class Welcome(_Frame, tag="welcome", frozen=True):
    """The answer to ``hello`` (SPEC §3.2)."""

    session: Session
    socket: Id


class HubMessage(_Frame, tag="msg", frozen=True):
    """What the object sent with ``ws.send(str)`` or ``ctx.broadcast(str)`` (SPEC §4.3)."""

    data: str


class Ack(_Frame, tag="ack", frozen=True):
    """Message ``id`` of the session is handled (SPEC §4.5)."""

    id: Id


class Result(_Frame, tag="result", frozen=True):
    """Call ``id`` returned ``result`` after its event committed (SPEC §6.2)."""

    id: Id
    result: Any


class Error(_Frame, tag="error", frozen=True):
    """A call, a message or a frame failed, with a stable code (SPEC §7)."""

    id: Id | None
    code: str
    message: str
    retryable: bool


class Pong(_Frame, tag="pong", frozen=True):
    """The answer to ``ping`` (SPEC §8)."""


HubFrame = Welcome | HubMessage | Ack | Result | Error | Pong
