"""Errors of ``roost_client``: one class per stable code, and the close-code policy.

Hierarchy (every class is a direct subclass of ``RoostError``)::

    RoostError            root: ``code``, ``message``, ``retryable``, ``close_code``, ``id``
    │  codes the hub sends in ``error`` frames (protocol/SPEC.md §7.2)
    ├── BadFrame          bad_frame: a frame broke the spec (ours, or one the hub sent)
    ├── SessionRequired   session_required: a second hello, or a msg id before hello
    ├── MessageTooBig     message_too_big: over the message limit (also raised locally)
    ├── MethodNotFound    method_not_found: no public method of that name
    ├── InvalidArguments  invalid_arguments: arguments do not match; the method did not run
    ├── ObjectError       object_error: the object's code raised; its writes rolled back
    ├── ActivationFailed  activation_failed: the object's constructor raised
    ├── Overloaded        overloaded: the object's queue is full
    ├── CallCycle         call_cycle: the call would deadlock on the object's input gate
    ├── Unauthorized      unauthorized: the object refused the token of ``set_auth``
    ├── NoSuchFeed        no_such_feed: ``subscribe`` named a table that is not a feed table
    ├── BadSubscription   bad_subscription: an invalid ``where`` / ``columns``, unknown column
    ├── Forbidden         forbidden: the object refused the subscription
    ├── TooManySubscriptions  too_many_subscriptions: the socket has as many as allowed
    ├── HubStopping       hub_stopping: the hub is shutting down (retryable)
    ├── InternalError     internal_error: a fault inside the hub (retryable)
    ├── NoSuchDatabase    no_such_database: no database of that name
    ├── DatabaseExists    database_exists: creating a database that exists
    ├── ReadOnly          read_only: a read-only token tried to write
    ├── QueryError        query_error: SQLite rejected the statement (its message)
    ├── ResultTooLarge    result_too_large: over the hub's row or byte limit
    ├── MigrationConflict migration_conflict: an applied migration's SQL changed
    ├── StatementNotAllowed  statement_not_allowed: the authorizer refused the statement
    ├── ConnectionLost    connection_lost: the socket closed before the answer (retryable)
    │  codes of this client only
    ├── CallTimeout       timeout: no answer within the call's timeout (retryable)
    ├── BufferFull        buffer_full: ``max_buffered`` frames wait already (retryable)
    ├── ConnectFailed     connect_failed: no socket could be opened (retryable)
    ├── HandshakeRejected handshake_rejected: the hub answered the upgrade with a status
    └── ConnectionClosed  connection_closed: closed for good, no reconnect

Rules:

1. ``CODES`` is the one map from a code to its class; ``from_frame`` is the one place a
   hub ``error`` frame becomes an exception. A code this client does not know becomes
   a plain ``RoostError`` that keeps the code and the hub's ``retryable`` flag.
2. A class's default ``retryable`` comes from ``protocol.ERRORS`` for wire codes and
   from ``CLIENT_ERRORS`` for this client's own codes, nowhere else.
3. ``reconnects_after`` and ``error_for_close`` are the one place close codes are judged
   (SPEC §7.3): whether to reconnect, and which error reports a close for good.
4. Branch on ``code`` or the class, never on ``message``.
"""

from __future__ import annotations

from typing import ClassVar

import protocol

__all__ = [
    "CLIENT_ERRORS",
    "CODES",
    "ActivationFailed",
    "BadFrame",
    "BadSubscription",
    "BufferFull",
    "CallCycle",
    "CallTimeout",
    "ConnectFailed",
    "ConnectionClosed",
    "ConnectionLost",
    "DatabaseExists",
    "Forbidden",
    "HandshakeRejected",
    "HubStopping",
    "InternalError",
    "InvalidArguments",
    "MessageTooBig",
    "MethodNotFound",
    "MigrationConflict",
    "NoSuchDatabase",
    "NoSuchFeed",
    "ObjectError",
    "Overloaded",
    "QueryError",
    "ReadOnly",
    "ResultTooLarge",
    "RoostError",
    "SessionRequired",
    "StatementNotAllowed",
    "TooManySubscriptions",
    "Unauthorized",
    "error_for_close",
    "from_frame",
    "reconnects_after",
]

#: The HTTP status of a client-side row: none, no hub ever answers with these codes.
CLIENT_SIDE = 0

#: This client's own codes (not sent by the hub) and whether a retry may succeed.
CLIENT_ERRORS: dict[str, protocol.ErrorRow] = {
    row.code: row
    for row in (
        protocol.ErrorRow("connection_lost", CLIENT_SIDE, retryable=True),
        protocol.ErrorRow("timeout", CLIENT_SIDE, retryable=True),
        protocol.ErrorRow("buffer_full", CLIENT_SIDE, retryable=True),
        protocol.ErrorRow("connect_failed", CLIENT_SIDE, retryable=True),
        protocol.ErrorRow("handshake_rejected", CLIENT_SIDE, retryable=False),
        protocol.ErrorRow("connection_closed", CLIENT_SIDE, retryable=False),
    )
}


class RoostError(Exception):
    """Root of every error of ``roost_client``.

    Attributes:
        code: the stable machine code (``method_not_found``, ``connection_lost``, ...).
        message: a human-readable description; never parse it.
        retryable: whether the same frame or operation may succeed if tried again.
        close_code: the WebSocket close code involved, if the error is about a close.
        id: the ``msg``, ``call`` or ``sub`` id the error answers, if any.
    """

    default_code: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        close_code: int | None = None,
        id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code if code is not None else self.default_code
        self.message = message
        row = protocol.ERRORS.get(self.code) or CLIENT_ERRORS.get(self.code)
        if retryable is None:
            retryable = row.retryable if row is not None else False
        self.retryable = retryable
        self.close_code = close_code
        self.id = id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"retryable={self.retryable!r}, close_code={self.close_code!r}, id={self.id!r})"
        )


class BadFrame(RoostError):
    """``bad_frame``: a frame broke the spec (one we sent, or one the hub sent us)."""

    default_code = "bad_frame"


class SessionRequired(RoostError):
    """``session_required``: a second ``hello``, or a ``msg`` with id before ``hello``."""

    default_code = "session_required"


class MessageTooBig(RoostError):
    """``message_too_big``: a frame over the message limit (the hub closes with 1009).

    Raised by ``send`` / ``call`` before anything is sent when the encoded frame is over
    the connection's ``max_message_size``.
    """

    default_code = "message_too_big"


class MethodNotFound(RoostError):
    """``method_not_found``: no public method of that name (private names included)."""

    default_code = "method_not_found"


class InvalidArguments(RoostError):
    """``invalid_arguments``: the arguments do not match the method; it did not run."""

    default_code = "invalid_arguments"


class ObjectError(RoostError):
    """``object_error``: the object's code raised; its writes rolled back."""

    default_code = "object_error"


class ActivationFailed(RoostError):
    """``activation_failed``: the object's constructor raised."""

    default_code = "activation_failed"


class Overloaded(RoostError):
    """``overloaded``: the object's queue is full."""

    default_code = "overloaded"


class CallCycle(RoostError):
    """``call_cycle``: the call would deadlock on the object's input gate."""

    default_code = "call_cycle"


class Unauthorized(RoostError):
    """``unauthorized``: the object refused the token ``set_auth`` sent (SPEC §6.6).

    The socket stays open with the identity it had; get a new token and try again, or
    close the connection.
    """

    default_code = "unauthorized"


class NoSuchFeed(RoostError):
    """``no_such_feed``: the subscription named a table that is not a feed table of the
    object (or it stopped being one); the subscription ended."""

    default_code = "no_such_feed"


class BadSubscription(RoostError):
    """``bad_subscription``: the subscription's ``where`` or ``columns`` is invalid or
    names an unknown column (SPEC §9.4, §9.5); the subscription ended."""

    default_code = "bad_subscription"


class Forbidden(RoostError):
    """``forbidden``: the object refused the subscription; it ended."""

    default_code = "forbidden"


class TooManySubscriptions(RoostError):
    """``too_many_subscriptions``: the socket already has the most subscriptions the hub
    allows (64 by default); the subscription ended."""

    default_code = "too_many_subscriptions"


class NoSuchDatabase(RoostError):
    """``no_such_database``: no database of that name (never created, or deleted)."""

    default_code = "no_such_database"


class DatabaseExists(RoostError):
    """``database_exists``: a database of that name exists already."""

    default_code = "database_exists"


class ReadOnly(RoostError):
    """``read_only``: the token is read-only and the statement would write."""

    default_code = "read_only"


class QueryError(RoostError):
    """``query_error``: SQLite rejected the statement; the message is SQLite's."""

    default_code = "query_error"


class ResultTooLarge(RoostError):
    """``result_too_large``: the answer is over the hub's row or byte limit (use a limit)."""

    default_code = "result_too_large"


class MigrationConflict(RoostError):
    """``migration_conflict``: a migration already applied has different SQL now."""

    default_code = "migration_conflict"


class StatementNotAllowed(RoostError):
    """``statement_not_allowed``: the hub's tables (``_roost_*``), ATTACH, transaction
    control and most pragmas are out of a database client's reach."""

    default_code = "statement_not_allowed"


class HubStopping(RoostError):
    """``hub_stopping``: the hub is shutting down (retryable; the client reconnects)."""

    default_code = "hub_stopping"


class InternalError(RoostError):
    """``internal_error``: a fault inside the hub; no detail is given (retryable)."""

    default_code = "internal_error"


class ConnectionLost(RoostError):
    """``connection_lost``: the socket closed before the answer arrived (retryable).

    A call failed with this may or may not have run (calls are at most once, SPEC §6.4).
    """

    default_code = "connection_lost"


class CallTimeout(RoostError):
    """``timeout``: no answer within the call's timeout; the method may still run."""

    default_code = "timeout"


class BufferFull(RoostError):
    """``buffer_full``: ``max_buffered`` frames already wait to be sent or acknowledged.

    Nothing was queued; wait (``await conn.flush()``) and send again.
    """

    default_code = "buffer_full"


class ConnectFailed(RoostError):
    """``connect_failed``: no socket could be opened (network error, timeout, retries
    exhausted). Chained (``__cause__``) to the lower-level exception, if any."""

    default_code = "connect_failed"


class HandshakeRejected(RoostError):
    """``handshake_rejected``: the hub refused the WebSocket upgrade.

    ``status`` is the HTTP status (``None`` when the hub accepted the upgrade but did not
    select ``roost.v1``); ``body`` the response body. Retryable only for 408, 429 and
    5xx statuses; the client does not reconnect after any other status.
    """

    default_code = "handshake_rejected"

    def __init__(self, message: str, *, status: int | None, body: bytes = b"") -> None:
        retryable = status is not None and (status >= 500 or status in (408, 429))
        super().__init__(message, retryable=retryable)
        self.status = status
        self.body = body


class ConnectionClosed(RoostError):
    """``connection_closed``: the connection is closed for good and will not reconnect.

    ``close_code`` and ``reason`` are those of the close that ended it, if any.
    """

    default_code = "connection_closed"

    def __init__(self, message: str, *, close_code: int | None = None, reason: str = "") -> None:
        super().__init__(message, close_code=close_code)
        self.reason = reason


#: The one map from a stable code to its class.
CODES: dict[str, type[RoostError]] = {
    cls.default_code: cls
    for cls in (
        BadFrame,
        SessionRequired,
        MessageTooBig,
        MethodNotFound,
        InvalidArguments,
        ObjectError,
        ActivationFailed,
        Overloaded,
        CallCycle,
        Unauthorized,
        NoSuchFeed,
        BadSubscription,
        Forbidden,
        TooManySubscriptions,
        NoSuchDatabase,
        DatabaseExists,
        ReadOnly,
        QueryError,
        ResultTooLarge,
        MigrationConflict,
        StatementNotAllowed,
        HubStopping,
        InternalError,
        ConnectionLost,
        CallTimeout,
        BufferFull,
        ConnectFailed,
        HandshakeRejected,
        ConnectionClosed,
    )
}


def from_frame(frame: protocol.Error) -> RoostError:
    """The exception for a hub ``error`` frame (SPEC §7.1), keeping the hub's flag."""
    cls = CODES.get(frame.code)
    if cls is None or cls in (HandshakeRejected, ConnectionClosed):
        return RoostError(frame.message, code=frame.code, retryable=frame.retryable, id=frame.id)
    return cls(frame.message, retryable=frame.retryable, id=frame.id)


def reconnects_after(close_code: int, *, closed_by_client: bool) -> bool:
    """Whether a client reconnects after a close with ``close_code`` (SPEC §7.3).

    It reconnects after 1001, 1006, 1008, 1011, 1012 and 1013 unless it closed the
    socket itself. After any other code it stays closed: 1000 and codes 3000-4999 mean
    the object closed the socket on purpose, and after 1002, 1007 or 1009 sending the
    same frames again would meet the same answer.
    """
    if closed_by_client:
        return False
    known = protocol.CLOSE_CODES.get(close_code)
    return known is not None and known[1]


def error_for_close(close_code: int, reason: str, last: RoostError | None) -> RoostError:
    """The error that reports a close for good with ``close_code``.

    When the hub announced the close with an ``error`` frame whose code the table links
    to this close code (``message_too_big`` before 1009), that error is the report; a
    close code the table links to an error code is reported as that error anyway; any
    other is ``ConnectionClosed``.
    """
    if last is not None:
        row = protocol.ERRORS.get(last.code)
        if row is not None and row.close == close_code:
            last.close_code = close_code
            return last
    known = protocol.CLOSE_CODES.get(close_code)
    what = known[0] if known is not None else "closed by the object"
    message = f"connection closed with {close_code} ({what})" + (f": {reason!r}" if reason else "")
    for row in protocol.ERRORS.values():
        cls = CODES.get(row.code)
        if row.close == close_code and cls is not None:  # 1009 alone is message_too_big
            return cls(message, close_code=close_code)
    return ConnectionClosed(message, close_code=close_code, reason=reason)
