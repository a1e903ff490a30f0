"""The frames of ``roost.v1`` (protocol/SPEC.md §3-§10) as typed structs.

Client frames and hub frames are two tagged unions on the member ``t``. The structs
carry the validation rules of the spec (required members, types, integer ranges,
the session pattern), so decoding and validating are one step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "MAX_ID",
    "Ack",
    "Auth",
    "Call",
    "ChangeItem",
    "Changes",
    "ClientFrame",
    "ClientMessage",
    "Error",
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
    "Reset",
    "Result",
    "Snapshot",
    "Sub",
    "Subscribed",
    "Unsub",
    "Update",
    "Welcome",
]

#: The largest integer JavaScript represents exactly (SPEC §2.3).
MAX_ID = 2**53 - 1

Id = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]
Session = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
Token = Annotated[str, msgspec.Meta(min_length=1)]


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


class Auth(_Frame, tag="auth", frozen=True):
    """Hand the object a fresh token for this socket (SPEC §6.5); answered like a call."""

    id: Id
    token: Token


class Ping(_Frame, tag="ping", frozen=True):
    """Keep-alive; answered by the hub without waking the object (SPEC §8)."""


class Sub(_Frame, tag="sub", frozen=True):
    """Subscribe to a feed table (SPEC §9.3); ``where`` is checked by ``protocol.where``."""

    id: Id
    table: str
    where: list[Any] = msgspec.field(default_factory=list)
    columns: list[str] | msgspec.UnsetType = msgspec.UNSET
    snapshot: bool = False
    since: Id | msgspec.UnsetType = msgspec.UNSET


class Unsub(_Frame, tag="unsub", frozen=True):
    """End a subscription (SPEC §9.10)."""

    id: Id


class PresenceSub(_Frame, tag="presence_sub", frozen=True):
    """Ask for the member list and its changes (SPEC §10.2)."""


class PresenceUnsub(_Frame, tag="presence_unsub", frozen=True):
    """Stop the presence frames (SPEC §10.3)."""


ClientFrame = Hello | ClientMessage | Call | Auth | Ping | Sub | Unsub | PresenceSub | PresenceUnsub


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


class Snapshot(_Frame, tag="snapshot", frozen=True):
    """Rows of a subscription's snapshot, as of change ``seq`` (SPEC §9.6)."""

    id: Id
    seq: Id
    rows: list[dict[str, Any]]


class ChangeItem(msgspec.Struct, frozen=True):
    """One change in a ``changes`` frame (SPEC §9.6)."""

    seq: Id
    op: Literal["insert", "update", "delete"]
    row: dict[str, Any]


class Changes(_Frame, tag="changes", frozen=True):
    """Replayed or live changes of a subscription, in ``seq`` order (SPEC §9.6)."""

    id: Id
    changes: list[ChangeItem]


class Subscribed(_Frame, tag="subscribed", frozen=True):
    """The snapshot or replay is complete; live changes after ``seq`` follow (§9.6)."""

    id: Id
    seq: Id


class Reset(_Frame, tag="reset", frozen=True):
    """The subscription ended: take a snapshot (SPEC §9.6)."""

    id: Id


class Member(msgspec.Struct, frozen=True):
    """A socket in the object's presence, with its state (SPEC §10.2)."""

    socket: Id
    state: Any


class Presence(_Frame, tag="presence", frozen=True):
    """The member list, in join order (SPEC §10.2)."""

    members: list[Member]


class Join(_Frame, tag="join", frozen=True):
    """Socket ``socket`` became a member (SPEC §10.2)."""

    socket: Id
    state: Any


class Update(_Frame, tag="update", frozen=True):
    """Member ``socket``'s state changed (SPEC §10.2)."""

    socket: Id
    state: Any


class Leave(_Frame, tag="leave", frozen=True):
    """Member ``socket`` left (SPEC §10.2)."""

    socket: Id


HubFrame = (
    Welcome
    | HubMessage
    | Ack
    | Result
    | Error
    | Pong
    | Snapshot
    | Changes
    | Subscribed
    | Reset
    | Presence
    | Join
    | Update
    | Leave
)
