"""``ctx``: what an object sees of its own runtime (the anchor's ``DurableObjectState``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from hub.jsonvalues import decode_value, encode_value

if TYPE_CHECKING:
    import asyncio

    from hub.http import Request
    from hub.ids import ObjectId
    from hub.runtime.activation import Activation
    from hub.runtime.websocket import WebSocket
    from hub.storage.storage import Storage

__all__ = ["DurableObjectState", "Presence"]

T = TypeVar("T")


class DurableObjectState:
    """The object's id, storage, sockets and input-gate controls (its ``ctx``)."""

    __slots__ = ("_activation",)

    def __init__(self, activation: Activation) -> None:
        self._activation = activation

    @property
    def id(self) -> ObjectId:
        """This object's id; ``ctx.id.name`` is its name whenever it was addressed by one."""
        return self._activation.id

    @property
    def storage(self) -> Storage:
        """This object's SQL, key-value storage, transactions and alarm."""
        return self._activation.storage

    @property
    def presence(self) -> Presence:
        """Who is connected, with per-socket state (protocol/SPEC.md §10)."""
        return Presence(self._activation)

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Let ``awaitable`` (a coroutine, task or future) finish after the event.

        It starts now and runs alongside this and later events (the anchor's
        ``ctx.waitUntil``); the object stays in memory until it finishes (``hub.stats()``
        names it among the reasons it is not hibernating), and an exception it raises is
        logged (logger ``roost.runtime``), not lost. When the hub stops, the work gets
        the drain time to finish; a forced eviction (``hub.hibernate``) or ``abort``
        cancels it.

        The work is not part of any event: storage calls from it join whatever event
        runs at that moment (or commit on their own when none does). To write from
        background work, call one of the object's own methods through its stub
        (``self.env.X.get(self.ctx.id).method()``): that is an event of its own.
        """
        self._activation.wait_until(awaitable)

    def abort(self, reason: str | None = None) -> NoReturn:
        """Reset the object now, like the anchor's ``ctx.abort(reason)``.

        Raises ``hub.errors.ObjectAbortedError``, which the running event ends with: its
        writes roll back and its caller gets ``object_aborted`` (retryable), even if the
        handler catches the error. The instance is dropped; events queued behind this
        one run on a fresh instance (the constructor runs again, reading the file as it
        is then); sockets stay open with their tags and attachments; ``wait_until`` work
        is cancelled. Called outside an event (from ``wait_until`` work), the object is
        reset after the event that is running, which fails the same way.
        """
        raise self._activation.abort(reason)

    def block_concurrency_while(self, fn: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """Run ``fn()`` now and deliver no other event to this object until it finishes.

        Typical use is a migration in the constructor, which cannot ``await``: the call
        starts the work and the object takes its first event only after it. Awaiting the
        returned task gives ``fn``'s result. If ``fn`` raises, the event fails (in the
        constructor: the activation fails, and the next event runs the constructor again).
        """
        return self._activation.block_concurrency_while(fn)

    # -- WebSockets (hibernation API) ------------------------------------------------------

    def accept_websocket(self, request: Request, tags: Sequence[str] = ()) -> WebSocket:
        """Accept the upgrade ``request`` as a hibernatable socket with ``tags``.

        Return ``Response.websocket(ws)`` from ``fetch`` to complete it. At most 10 tags
        of at most 256 bytes each; duplicates are dropped.
        """
        if not request.is_websocket:
            raise ValueError("accept_websocket needs a WebSocket upgrade request")
        if isinstance(tags, str):
            raise TypeError("tags must be a list of str, not a single str")
        return self._activation.accept_websocket(request, list(tags))

    def get_websockets(self, tag: str | None = None) -> list[WebSocket]:
        """Every OPEN socket of this object (with ``tag``), parked ones included."""
        port = self._activation.port
        key = self._activation.id.hex
        return [self._activation.websocket(sid) for sid in port.socket_ids(key, tag)]

    def get_tags(self, ws: WebSocket) -> list[str]:
        """The tags of ``ws``."""
        return list(ws.current_tags())

    def set_tags(self, ws: WebSocket, tags: Sequence[str]) -> None:
        """Replace the tags of ``ws`` (Roost's tags are mutable; the anchor's are not)."""
        if isinstance(tags, str):
            raise TypeError("tags must be a list of str, not a single str")
        self._activation.port.set_tags(ws.socket_id, list(tags))

    def broadcast(
        self,
        message: str | bytes,
        tag: str | None = None,
        exclude: Collection[WebSocket] = (),
    ) -> None:
        """Send ``message`` to every OPEN socket (with ``tag``) after this event commits.

        The frame is built once and the same bytes go to every recipient; a recipient
        that cannot keep up is closed (1008, "slow consumer") rather than slowing others.
        """
        self._activation.broadcast(message, tag, {ws.socket_id for ws in exclude})

    def set_websocket_auto_response(
        self, request: str | None = None, response: str | None = None
    ) -> None:
        """Answer the exact text ``request`` with ``response`` without waking the object.

        Call with no arguments to clear it. It applies to every socket of the object.
        """
        self._activation.port.set_auto_response(self._activation.id.hex, request, response)

    def get_websocket_auto_response(self) -> tuple[str, str] | None:
        """The (request, response) pair set for this object, if any."""
        return self._activation.port.auto_response(self._activation.id.hex)

    def get_websocket_auto_response_timestamp(self, ws: WebSocket) -> datetime | None:
        """When the front last auto-responded on ``ws``, if ever."""
        at = self._activation.port.auto_response_timestamp(ws.socket_id)
        return None if at is None else datetime.fromtimestamp(at, UTC)

    def set_hibernatable_websocket_event_timeout(self, timeout_ms: int | None = None) -> None:
        """Fail any WebSocket handler that runs longer than ``timeout_ms`` (None: no limit).

        Kept in memory: set it in the constructor so it holds after every wake.
        """
        if timeout_ms is not None and (not isinstance(timeout_ms, int) or timeout_ms < 1):
            raise ValueError(f"timeout must be a positive int of ms or None, got {timeout_ms!r}")
        self._activation.event_timeout_ms = timeout_ms

    def get_hibernatable_websocket_event_timeout(self) -> int | None:
        """The WebSocket handler time limit in ms, or None."""
        return self._activation.event_timeout_ms


class Presence:
    """The object's presence: sockets that carry a state are its members.

    The list lives in the network front with the sockets, so clients read it (and follow
    joins, updates and leaves) without waking the object, and a socket that drops leaves
    at once. ``set`` takes effect when the event commits, like ``ws.send``.
    """

    __slots__ = ("_activation",)

    def __init__(self, activation: Activation) -> None:
        self._activation = activation

    def set(self, ws: WebSocket, state: Any) -> None:
        """Make ``ws`` a member with ``state`` (any JSON value; None: it leaves).

        At most the attachment limit (16 KiB by default) once encoded.
        """
        activation = self._activation
        data = (
            None
            if state is None
            else encode_value(state, "presence state", activation.host.limits.attachment_bytes)
        )
        port, socket_id = activation.port, ws.socket_id
        activation.output(lambda: port.set_presence(socket_id, data))

    def clear(self, ws: WebSocket) -> None:
        """``ws`` leaves (its socket stays open)."""
        self.set(ws, None)

    def members(self) -> list[tuple[WebSocket, Any]]:
        """The members and their states, in join order (as of the last commit)."""
        activation = self._activation
        return [
            (activation.websocket(socket_id), decode_value(state))
            for socket_id, state in activation.port.presence_members(activation.id.hex)
        ]

    def get(self, ws: WebSocket) -> Any:
        """The state of ``ws`` (None if it is not a member)."""
        for socket_id, state in self._activation.port.presence_members(self._activation.id.hex):
            if socket_id == ws.socket_id:
                return decode_value(state)
        return None
