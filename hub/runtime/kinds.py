"""The kinds of event an activation runs: how each is run and how each is refused.

Rules:

1. Every kind of ``Event`` has exactly one entry in ``KINDS``, by its exact type
   (checked at import): adding a kind is adding its entry here, next to its module
   (``socket_events``, ``auth_events``, ``alarm_events``, ``feed_events``,
   ``call_events``).
2. ``refuse`` answers whoever waits on the event at once. What must still happen (a
   refused alarm is retried) is returned to be awaited, never when the error is
   ``HubStoppingError``: an activation that stops awaits nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args

from hub.runtime.alarm_events import refuse_alarm, run_alarm
from hub.runtime.auth_events import handle_auth, refuse_auth
from hub.runtime.call_events import handle_call, handle_fetch, refuse_call, refuse_fetch
from hub.runtime.events import (
    AlarmFire,
    Event,
    FeedSubscribe,
    FetchCall,
    RpcCall,
    SocketAuth,
    SocketClosed,
    SocketErrored,
    SocketMessage,
)
from hub.runtime.feed_events import handle_subscribe, refuse_subscribe
from hub.runtime.socket_events import handle_message, handle_socket

if TYPE_CHECKING:
    from hub.errors import RpcError
    from hub.runtime.activation import Activation

__all__ = ["KINDS", "Kind"]

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Kind(Generic[E]):
    """How an activation runs one kind of event, and how it refuses one."""

    #: Run the event, in the activation's task.
    handle: Callable[[Activation, E], Awaitable[None]]
    #: Answer whoever waits on the event with ``error`` instead of running it, at once
    #: (rule 2).
    refuse: Callable[[Activation, E, RpcError], Awaitable[None] | None]


def _refuse_socket_event(
    act: Activation, event: SocketMessage | SocketClosed | SocketErrored, error: RpcError
) -> None:
    """Nobody waits on a socket event: it is dropped."""


_socket_events: Kind[SocketMessage | SocketClosed | SocketErrored] = Kind(
    handle_socket, _refuse_socket_event
)

#: Every kind of ``Event``, by its exact type (rule 1).
KINDS: dict[type[Any], Kind[Any]] = {
    RpcCall: Kind(handle_call, refuse_call),
    AlarmFire: Kind(run_alarm, refuse_alarm),
    FetchCall: Kind(handle_fetch, refuse_fetch),
    FeedSubscribe: Kind(handle_subscribe, refuse_subscribe),
    SocketMessage: Kind(handle_message, _refuse_socket_event),
    SocketAuth: Kind(handle_auth, refuse_auth),
    SocketClosed: _socket_events,
    SocketErrored: _socket_events,
}
assert set(KINDS) == set(get_args(Event)), "every kind of Event needs its entry in KINDS"
