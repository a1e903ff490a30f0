"""Events delivered to an object through its input gate.

This is the seam between whatever produces work for an object (stubs, the alarm
scheduler, the network front) and the object host: producers build an event
and submit it; the object's activation task handles events one at a time and answers
on the event's ``reply`` future after the event's writes are committed (output gate).

Events carry only JSON-compatible builtins and ids, never objects of the caller, so the
same events can later cross a process boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.errors import RpcError, WebSocketError
    from hub.http import Request, Response

__all__ = [
    "AlarmFire",
    "Barrier",
    "Event",
    "FeedSubscribe",
    "FetchCall",
    "RpcCall",
    "SocketAuth",
    "SocketClosed",
    "SocketErrored",
    "SocketMessage",
]


@dataclass(slots=True)
class RpcCall:
    """Call a public method; ``reply`` gets the builtins result or an ``RpcError``."""

    method: str
    args: list[Any]
    kwargs: dict[str, Any]
    reply: asyncio.Future[Any]
    #: Hex ids of the objects waiting on this call, for deadlock detection.
    chain: tuple[str, ...] = field(default=())
    #: ``time.monotonic()`` when it was queued (the RPC latency histogram).
    queued_at: float = 0.0
    #: ``kwargs`` are HTML form fields (name -> list of texts), coerced to the
    #: method's annotations before it is bound (``hub.runtime.forms``).
    form: bool = False


@dataclass(slots=True)
class AlarmFire:
    """Run the object's ``alarm()`` if its stored alarm is due.

    The retry count is the scheduler's to keep (it outlives evictions), so the event
    itself carries nothing.
    """


@dataclass(slots=True)
class FetchCall:
    """Run ``fetch(request)``; ``respond`` gets the response or an ``RpcError``.

    ``respond`` is called synchronously once the event committed, before the event's
    other output, so a WebSocket upgrade completes before its first message.
    """

    request: Request
    respond: Callable[[Response | RpcError], None]
    #: Hex ids of the objects waiting on this request (``stub.fetch`` from an object).
    chain: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class SocketMessage:
    """A message arrived on one of the object's sockets: ``websocket_message``.

    With ``session`` and ``message_id`` (roost.v1 ``msg`` with an id) it is handled
    exactly once: the runtime skips duplicates and acknowledges after commit.
    """

    socket_id: int
    data: str | bytes
    session: str | None = None
    message_id: int | None = None


@dataclass(slots=True)
class SocketAuth:
    """A roost.v1 ``auth`` frame: ``websocket_auth(ws, token)`` (protocol/SPEC.md §6.5).

    Answered through the port (``SocketPort.answer``) with the handler's result after
    the event committed, or with its error.
    """

    socket_id: int
    call_id: int
    token: str


@dataclass(slots=True)
class SocketClosed:
    """A socket closed: ``websocket_close(ws, code, reason, was_clean)``."""

    socket_id: int
    code: int
    reason: str
    was_clean: bool
    #: The socket's last tags and attachment, readable in the handler.
    tags: tuple[str, ...] = ()
    attachment: bytes | None = None


@dataclass(slots=True)
class SocketErrored:
    """A socket failed (protocol error, message too big): ``websocket_error``."""

    socket_id: int
    error: WebSocketError
    tags: tuple[str, ...] = ()
    attachment: bytes | None = None


@dataclass(slots=True)
class FeedSubscribe:
    """A socket subscribes to a feed table (protocol/SPEC.md §9.3).

    The object reads the snapshot (or the replay after ``since``) and the current seq in
    one event and hands them to the port (``SocketPort.feed_answer``) right after that
    event commits, before any later event's changes: so nothing falls between the
    snapshot and the live changes. No user code runs but ``feed_allowed``.
    """

    socket_id: int
    sub_id: int
    table: str
    where: list[Any]
    columns: list[str] | None
    snapshot: bool
    since: int | None


@dataclass(slots=True)
class Barrier:
    """Runs nothing: ``reached()`` is called once every event queued before it has been
    handled and its output sent (or, when the hub stops, dropped).

    Not an ``Event``: it is queued by ``ObjectHost.after_queued`` only, never activates
    an object, and is neither counted nor refused by the queue limit. The front holds
    the Close of a socket that broke the protocol behind one, so the replies to what the
    socket sent before go out first.
    """

    reached: Callable[[], None]


Event = (
    RpcCall
    | AlarmFire
    | FetchCall
    | SocketMessage
    | SocketAuth
    | SocketClosed
    | SocketErrored
    | FeedSubscribe
)
