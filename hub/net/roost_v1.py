"""The front's side of ``roost.v1`` (protocol/SPEC.md): frames in, events and frames out.

Rules:

1. Every text frame of a ``roost.v1`` socket is decoded here, and only here; a frame
   that breaks the spec gets an ``error`` frame (``bad_frame``) and the socket stays
   open (SPEC §7.2).
2. ``hello`` and ``ping`` are answered here without waking the object; ``msg`` becomes
   a ``SocketMessage`` event (exactly once when it has an id); ``call`` goes through the
   same RPC path as HTTP (validation, error mapping) and is answered when its event
   committed; ``auth`` becomes a ``SocketAuth`` event, answered by the object's port
   (or here, with ``method_not_found``, for a class without ``websocket_auth``, which
   is then not woken); ``sub`` becomes a ``FeedSubscribe`` event once its shape is checked here;
   ``unsub`` and the presence frames are handled here, without waking the object.
3. Wire error codes and their ``retryable`` flags come from ``protocol.ERRORS`` (only
   codes ``in_frames``; any other is ``internal_error``); the text of unexpected
   exceptions never reaches a client. This is the one place errors become frames.
4. A message the object cannot take (its queue is full) is never answered with an
   error: the socket is closed with 1013, and the client resends what was not
   acknowledged (SPEC §5.1), so overload never loses an exactly-once message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import protocol
from hub.databases.gate import restart
from hub.databases.settings import BINDING as DATABASE_BINDING
from hub.errors import (
    BadSubscriptionError,
    HubError,
    HubStoppingError,
    InternalError,
    InvalidArgumentsError,
    MethodNotFoundError,
    OverloadedError,
)
from hub.runtime.events import FeedSubscribe, SocketAuth, SocketMessage
from protocol.where import WhereError, compile_where

if TYPE_CHECKING:
    from hub.net.connection import Connection
    from hub.net.front import Front

__all__ = ["error_frame", "handle_text", "message_frame"]

log = logging.getLogger("roost.net")

_PONG = protocol.encode(protocol.Pong())


def message_frame(data: str) -> bytes:
    """The ``msg`` frame carrying what the object sent (SPEC §4.3)."""
    return protocol.encode(protocol.HubMessage(data=data))


def error_frame(frame_id: int | None, error: HubError | protocol.DecodeError | str) -> bytes:
    """An ``error`` frame for a hub error, a decode error, or a bare wire code."""
    if isinstance(error, str):
        code, message = error, error.replace("_", " ")
    elif isinstance(error, protocol.DecodeError):
        code, message = error.code, str(error)
    else:
        row = protocol.ERRORS.get(error.code)
        if row is None or not row.in_frames or isinstance(error, InternalError):
            code, message = "internal_error", "internal error"
        else:
            code, message = error.code, str(error)
    retryable = protocol.ERRORS[code].retryable if code in protocol.ERRORS else False
    frame = protocol.Error(id=frame_id, code=code, message=message, retryable=retryable)
    return protocol.encode(frame)


def handle_text(front: Front, conn: Connection, text: str, size: int) -> None:
    """One text frame from a ``roost.v1`` client."""
    try:
        frame = protocol.decode_client(text)
    except protocol.DecodeError as error:
        conn.send_text(error_frame(None, error))
        return
    if isinstance(frame, protocol.Ping):
        conn.send_text(_PONG)
    elif isinstance(frame, protocol.Hello):
        _hello(conn, frame)
    elif isinstance(frame, protocol.ClientMessage):
        _message(front, conn, frame, size)
    elif isinstance(frame, protocol.Call):
        _call(front, conn, frame)
    elif isinstance(frame, protocol.Auth):
        _auth(front, conn, frame)
    elif isinstance(frame, protocol.Sub):
        _subscribe(front, conn, frame)
    else:
        _other(front, conn, frame)


def _subscribe(front: Front, conn: Connection, sub: protocol.Sub) -> None:
    socket_id, object_id = conn.socket_id, conn.object_id
    assert socket_id is not None and object_id is not None
    since = sub.since if isinstance(sub.since, int) else None
    try:
        if sub.snapshot and since is not None:
            raise BadSubscriptionError("give snapshot or since, not both")
        try:
            compile_where(sub.where)  # its shape; the object checks the columns
        except WhereError as exc:
            raise BadSubscriptionError(str(exc)) from None
        front.subscriptions.request(socket_id, sub.id)
    except HubError as error:
        conn.send_text(error_frame(sub.id, error))
        return
    columns = sub.columns if isinstance(sub.columns, list) else None
    event = FeedSubscribe(socket_id, sub.id, sub.table, sub.where, columns, sub.snapshot, since)
    try:
        front.host.submit(object_id, event)
    except (OverloadedError, HubStoppingError) as error:
        front.subscriptions.remove(socket_id, sub.id)
        conn.send_text(error_frame(sub.id, error))


def _other(
    front: Front,
    conn: Connection,
    frame: protocol.Unsub | protocol.PresenceSub | protocol.PresenceUnsub,
) -> None:
    socket_id, object_id = conn.socket_id, conn.object_id
    assert socket_id is not None and object_id is not None
    if isinstance(frame, protocol.Unsub):
        front.subscriptions.remove(socket_id, frame.id)
    elif isinstance(frame, protocol.PresenceSub):
        front.presence.watch(object_id.hex, socket_id)
    else:
        front.presence.unwatch(object_id.hex, socket_id)


def _hello(conn: Connection, hello: protocol.Hello) -> None:
    if conn.session is not None:
        conn.send_text(error_frame(None, "session_required"))
        return
    conn.session = hello.session
    assert conn.socket_id is not None
    conn.send_text(protocol.encode(protocol.Welcome(session=hello.session, socket=conn.socket_id)))


def _message(front: Front, conn: Connection, frame: protocol.ClientMessage, size: int) -> None:
    socket_id, object_id = conn.socket_id, conn.object_id
    assert socket_id is not None and object_id is not None
    message_id = frame.id if isinstance(frame.id, int) else None
    if message_id is not None and conn.session is None:
        # id null: the client keeps the message and resends it after its hello (§3.3).
        conn.send_text(error_frame(None, "session_required"))
        return
    text = protocol.message_text(frame.data)
    if message_id is None and front.auto_respond(conn, text):
        return
    event = SocketMessage(socket_id, text, conn.session, message_id)
    front.deliver(conn, event)


def _auth(front: Front, conn: Connection, auth: protocol.Auth) -> None:
    """A fresh token for the socket: ``websocket_auth`` runs as an event (SPEC §6.5)."""
    socket_id, object_id = conn.socket_id, conn.object_id
    assert socket_id is not None and object_id is not None
    try:
        if not front.host.handles(object_id.binding, "websocket_auth"):
            raise MethodNotFoundError(
                f"{object_id.binding} objects define no websocket_auth to take a token"
            )
        front.host.submit(object_id, SocketAuth(socket_id, auth.id, auth.token))
    except (MethodNotFoundError, OverloadedError, HubStoppingError) as error:
        conn.send_text(error_frame(auth.id, error))


def _call(front: Front, conn: Connection, call: protocol.Call) -> None:
    object_id = conn.object_id
    assert object_id is not None
    front.counters.rpc_calls += 1
    try:
        if conn.database_token is not None and object_id.binding == DATABASE_BINDING:
            # A database socket's calls are its verbs, checked with its token each time.
            if call.args:
                raise InvalidArgumentsError("database verbs take keyword arguments only")
            args = [conn.database_token, call.method, call.kwargs]
            reply = front.host.call_wire(object_id, "db_call", args, {})
        else:
            reply = front.host.call_wire(object_id, call.method, call.args, call.kwargs)
    except HubError as error:
        conn.send_text(error_frame(call.id, error))
        return

    def answer(done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            conn.send_text(error_frame(call.id, HubStoppingError("the call was cancelled")))
            return
        error = done.exception()
        if error is None:
            result = protocol.Result(id=call.id, result=done.result())
            conn.send_text(protocol.encode(result))
            if conn.database_token is not None and call.method == "restore":
                front.run_task(restart(front, object_id))  # the restore happens now
        elif isinstance(error, HubError):
            conn.send_text(error_frame(call.id, error))
        else:
            log.error("call %s failed", call.method, exc_info=error)
            conn.send_text(error_frame(call.id, InternalError("internal error")))

    reply.add_done_callback(answer)
