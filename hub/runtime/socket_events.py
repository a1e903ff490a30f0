"""Socket events of an activation: ``websocket_message``, ``websocket_close``,
``websocket_error``, and the exactly-once record of ``roost.v1`` messages.

Rules:

1. A message with a session and an id (``roost.v1`` ``msg`` with ``id``) runs its
   handler at most once: the session's highest handled id commits with the handler's
   writes, a duplicate is acknowledged without running anything (protocol/SPEC.md §5).
2. A handler that raises still has its message recorded, and is answered with the
   error instead of ``ack`` (SPEC §5.4); a handler that runs over the object's event
   timeout is cancelled like one that raised.
3. Recording a message also forgets the sessions idle past the retention, at most once
   per ``SWEEP_INTERVAL`` in an activation (hub/storage/sessions.py, SPEC §5.5).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from hub.errors import ObjectAbortedError
from hub.logs import extra
from hub.runtime.events import SocketClosed, SocketErrored, SocketMessage
from hub.runtime.websocket import ClosedSocket
from hub.storage.sessions import SWEEP_INTERVAL, SessionLog

if TYPE_CHECKING:
    from hub.errors import HubError
    from hub.runtime.activation import Activation

__all__ = ["handle_message", "handle_socket"]

log = logging.getLogger("roost.runtime")


async def handle_socket(
    act: Activation, event: SocketMessage | SocketClosed | SocketErrored
) -> None:
    """Run the object's handler for one socket event, in its own transaction."""
    closed = None
    if not isinstance(event, SocketMessage):
        closed = ClosedSocket(event.tags, event.attachment)
    ws = act.websocket(event.socket_id, closed)
    args: tuple[Any, ...]
    if isinstance(event, SocketMessage):
        name, args = "websocket_message", (ws, event.data)
    elif isinstance(event, SocketClosed):
        name, args = "websocket_close", (ws, event.code, event.reason, event.was_clean)
    else:
        name, args = "websocket_error", (ws, event.error)
    handler = getattr(act.instance, name, None)
    session, message_id = None, None
    if isinstance(event, SocketMessage) and event.message_id is not None:
        assert event.session is not None
        session, message_id = event.session, event.message_id
        if SessionLog(act.database).last_id(session) >= message_id:
            _acknowledge(act, event.socket_id, message_id, None)  # a duplicate
            return

    async def body() -> None:
        if handler is not None:
            result = handler(*args)
            if inspect.isawaitable(result):
                await result
        if session is not None and message_id is not None:
            _record(act, session, message_id)

    def acknowledged(_: None) -> None:
        if message_id is not None:
            _acknowledge(act, event.socket_id, message_id, None)

    try:
        await act.transact(body, act.own_chain, reply=acknowledged, timeout_ms=act.event_timeout_ms)
    except ObjectAbortedError as exc:
        # Nothing of the message committed: it is not recorded, so a resend runs it on
        # the fresh instance; the client is told at once.
        if message_id is not None:
            act.port.acknowledge(event.socket_id, message_id, exc)
    except Exception as exc:
        _log_failure(act, event.socket_id, name, exc)
        if session is not None and message_id is not None:
            await _record_failed(act, event.socket_id, session, message_id, exc)


async def handle_message(act: Activation, event: SocketMessage) -> None:
    """``websocket_message``: a message without an id (the most common event) runs the
    handler itself as the transaction's body: what ``handle_socket`` does for one,
    minus the exactly-once record and its closures."""
    if event.message_id is not None:
        await handle_socket(act, event)
        return
    handler = getattr(act.instance, "websocket_message", None)
    try:
        await act.transact(
            _nothing if handler is None else handler,
            act.own_chain,
            args=(act.websocket(event.socket_id), event.data),
            timeout_ms=act.event_timeout_ms,
        )
    except ObjectAbortedError:
        pass  # nothing committed; no one waits for an answer
    except Exception as exc:
        _log_failure(act, event.socket_id, "websocket_message", exc)


async def _nothing(*_: object) -> None:
    """The body of an event whose object defines no handler for it."""


def _log_failure(act: Activation, socket_id: int, name: str, exc: Exception) -> None:
    if isinstance(exc, TimeoutError):
        log.warning(
            "%s.%s ran over its %d ms limit and was cancelled",
            act.spec.cls.__name__,
            name,
            act.event_timeout_ms,
            extra=extra("error", act.id, socket=socket_id, handler=name),
        )
    else:
        log.warning(
            "%s.%s raised",
            act.spec.cls.__name__,
            name,
            exc_info=exc,
            extra=extra("error", act.id, socket=socket_id, handler=name),
        )


def _record(act: Activation, session: str, message_id: int) -> None:
    """Mark the message handled, in the event's transaction; sweep idle sessions if due."""
    now = act.host.clock.now()
    sessions = SessionLog(act.database)
    sessions.record(session, message_id, now)
    if now >= act.sessions_swept_at + SWEEP_INTERVAL:
        sessions.forget_idle(now)
        act.sessions_swept_at = now


def _acknowledge(act: Activation, socket_id: int, message_id: int, error: HubError | None) -> None:
    port = act.port
    act.output(lambda: port.acknowledge(socket_id, message_id, error))


async def _record_failed(
    act: Activation, socket_id: int, session: str, message_id: int, exc: Exception
) -> None:
    """The handler raised: still mark the message handled, so a resend does not run it
    again, and answer with the error (protocol/SPEC.md §5.4)."""
    error = act.as_rpc_error(exc, "websocket_message", logged=True)  # handle_socket did

    async def record() -> None:
        _record(act, session, message_id)

    def answer(_: None) -> None:
        _acknowledge(act, socket_id, message_id, error)

    await act.transact(record, (act.id.hex,), reply=answer)
