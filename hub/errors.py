"""Errors the hub raises on purpose.

Hierarchy::

    HubError                         root; every error below carries a stable ``code``
    ├── ConfigurationError           the application is set up wrongly (bad binding, class)
    ├── UnknownBindingError          no object class is bound under that name
    ├── InvalidIdError               a malformed object id string, or an unusable name
    ├── StorageError                 a storage call was refused
    │   ├── SqlError                 the object's own SQL failed (wraps sqlite3.Error)
    │   ├── NotSerializableError     a KV value is not JSON-serializable
    │   └── LimitExceededError       a key, value or batch is over its limit
    └── RpcError                     a call failed (flags: remote, retryable, overloaded)
        ├── MethodNotFoundError      no public method of that name
        ├── InvalidArgumentsError    arguments do not match the method's annotations
        ├── RemoteError              the object's own code raised; carries its type name
        ├── ActivationError          the object's constructor raised
        ├── OverloadedError          too many events queued for one object
        ├── CallCycleError           a call would wait on an object already waiting on it
        ├── HubStoppingError         the hub is shutting down
        ├── FetchNotImplementedError an HTTP request reached an object without fetch()
        ├── NoSuchDatabaseError      no database object of that name (docs/databases.md)
        ├── DatabaseExistsError      a database of that name exists already
        ├── ReadOnlyError            a read-only database token tried to write
        ├── QueryError               SQLite rejected a database client's statement
        ├── ResultTooLargeError      a database answer over its row or byte limit
        ├── MigrationError           an applied migration's SQL changed
        ├── TokenRejectedError       (also an UnauthorizedError) a bad database token
        ├── StatementNotAllowedError the authorizer refused a database client's statement
        └── NoSuchTokenError         (also a NotFoundError) no database token of that id
        └── InternalError            a hub bug; no detail leaves the hub
    HttpError                        an HTTP request the front refuses before any object
    ├── BadRequestError              malformed HTTP, a bad Host or request target (400)
    ├── UnauthorizedError            the admin API needs the admin key (401)
    ├── NotFoundError                no route for the path (404)
    ├── MethodNotAllowedError        the route takes another method (405)
    ├── RequestTimeoutError          the request's head and body came too slowly (408)
    ├── UriTooLongError              the request target is over the limit (414)
    └── HeadersTooLargeError         the head is over its size or header-count limit (431)
    FeedError                        a feed subscription was refused (protocol/SPEC.md §9)
    ├── NoSuchFeedError              the table is not a feed table of the object
    ├── BadSubscriptionError         an invalid ``where`` / ``columns``
    ├── ForbiddenError               the object's ``feed_allowed`` said no
    └── TooManySubscriptionsError    the socket is at its subscription limit
    WebSocketError                   a socket failed (what websocket_error receives)
    ├── WebSocketProtocolError       malformed frames (close 1002)
    │   └── InvalidUtf8Error         a text message that is not UTF-8 (close 1007)
    ├── MessageTooBigError           a message over the limit (close 1009)
    └── WebSocketInternalError       a fault in the hub while reading the socket (1011)

Rules:

1. Every code is a row of the one error table, ``protocol.ERRORS`` (SPEC §7.2): its
   HTTP status, its close code and whether a retry can succeed. Clients branch on the
   code, never on the message.
2. Messages are lowercase facts with expected vs got and ``!r`` values.
3. Only ``RemoteError`` and ``ActivationError`` carry text that the object's own code
   wrote (its exception's message); hub internals never put exception text on the wire.
"""

from __future__ import annotations

from typing import ClassVar

from protocol.errors import ERRORS, ErrorRow

__all__ = [
    "ERROR_CODES",
    "ActivationError",
    "BadRequestError",
    "BadSubscriptionError",
    "CallCycleError",
    "ConfigurationError",
    "DatabaseExistsError",
    "ErrorRow",
    "FeedError",
    "FetchNotImplementedError",
    "ForbiddenError",
    "HeadersTooLargeError",
    "HttpError",
    "HubError",
    "HubStoppingError",
    "InternalError",
    "InvalidArgumentsError",
    "InvalidIdError",
    "InvalidUtf8Error",
    "LimitExceededError",
    "MessageTooBigError",
    "MethodNotAllowedError",
    "MethodNotFoundError",
    "MigrationError",
    "NoSuchDatabaseError",
    "NoSuchFeedError",
    "NoSuchTokenError",
    "NotFoundError",
    "NotSerializableError",
    "OverloadedError",
    "QueryError",
    "ReadOnlyError",
    "RemoteError",
    "RequestTimeoutError",
    "ResultTooLargeError",
    "RpcError",
    "SqlError",
    "StatementNotAllowedError",
    "StorageError",
    "TokenRejectedError",
    "TooManySubscriptionsError",
    "UnauthorizedError",
    "UnknownBindingError",
    "UriTooLongError",
    "WebSocketError",
    "WebSocketInternalError",
    "WebSocketProtocolError",
]


#: The one error table (``protocol.ERRORS``): code -> HTTP status, close code, retryable.
ERROR_CODES: dict[str, ErrorRow] = ERRORS


class HubError(Exception):
    """Root of every error the hub raises on purpose; ``code`` is stable."""

    code: ClassVar[str] = "internal_error"

    @property
    def http_status(self) -> int:
        """The HTTP status this error maps to (from the error table)."""
        return ERRORS[self.code].status

    @property
    def retryable(self) -> bool:
        """True when the same call may succeed if tried again."""
        return ERRORS[self.code].retryable


class ConfigurationError(HubError):
    """The application is set up wrongly: bad binding name, not a DurableObject, ..."""

    code = "configuration_error"


class UnknownBindingError(HubError):
    """No object class is bound under the given binding name."""

    code = "unknown_binding"


class InvalidIdError(HubError, ValueError):
    """A malformed object id string, an id of another namespace, or an unusable name."""

    code = "invalid_id"


class StorageError(HubError):
    """A storage call was refused."""

    code = "storage_error"


class SqlError(StorageError):
    """The object's own SQL failed; the sqlite3 error is chained as ``__cause__``."""

    code = "sql_error"


class NotSerializableError(StorageError, TypeError):
    """A value given to KV storage (or an RPC result) cannot be encoded as JSON."""

    code = "not_serializable"


class LimitExceededError(StorageError):
    """A key, value, batch or name is over its configured limit."""

    code = "limit_exceeded"


class RpcError(HubError):
    """A call to an object failed.

    ``remote`` is true when the object's own code raised, ``retryable`` when the same
    call may succeed later, ``overloaded`` when the object refused work because its
    queue is full (do not retry at once).
    """

    code = "internal_error"
    remote: bool = False
    overloaded: bool = False


class MethodNotFoundError(RpcError, AttributeError):
    """The object has no public method of that name (private and lifecycle names included)."""

    code = "method_not_found"


class InvalidArgumentsError(RpcError, TypeError):
    """The arguments do not match the method's signature; the method did not run."""

    code = "invalid_arguments"


class RemoteError(RpcError):
    """The object's own code raised ``type_name``; its writes for that event rolled back."""

    code = "object_error"
    remote = True

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message


class ActivationError(RemoteError):
    """The object's constructor (or a ``block_concurrency_while`` in it) raised.

    The instance is discarded; the next event runs the constructor again.
    """

    code = "activation_failed"


class OverloadedError(RpcError):
    """The object's input queue is full; the event was refused, not queued."""

    code = "overloaded"
    overloaded = True


class CallCycleError(RpcError):
    """A call would deadlock: the target is already waiting on the caller (strict gate)."""

    code = "call_cycle"


class HubStoppingError(RpcError):
    """The hub is shutting down and took no new event."""

    code = "hub_stopping"


class FetchNotImplementedError(RpcError):
    """An HTTP request reached an object class that defines no ``fetch``."""

    code = "fetch_not_implemented"


class WebSocketError(HubError):
    """What ``websocket_error(ws, error)`` receives; ``close_code`` is what the hub sent."""

    code = "websocket_protocol_error"

    @property
    def close_code(self) -> int:
        """The close code the hub sent the client (from the error table)."""
        close = ERRORS[self.code].close
        assert close is not None
        return close


class WebSocketProtocolError(WebSocketError):
    """The peer sent frames that break RFC 6455; the socket was closed with 1002."""


class InvalidUtf8Error(WebSocketProtocolError):
    """A text message (or a close reason) is not UTF-8; closed with 1007 (RFC 6455 §8.1)."""

    code = "invalid_utf8"


class MessageTooBigError(WebSocketError):
    """The peer sent a message over ``Limits.message_bytes``; closed with 1009."""

    code = "message_too_big"


class WebSocketInternalError(WebSocketError):
    """A fault inside the hub while it read the socket; closed with 1011, no detail sent.

    The fault itself is logged once by the hub.
    """

    code = "internal_error"


class InternalError(RpcError):
    """A fault inside the hub; the details are logged, never sent to the caller."""

    code = "internal_error"


class FeedError(HubError):
    """A feed subscription was refused or ended (protocol/SPEC.md §9.6)."""

    code = "bad_subscription"


class NoSuchFeedError(FeedError):
    """The table is not a feed table of the object (or stopped being one)."""

    code = "no_such_feed"


class BadSubscriptionError(FeedError, ValueError):
    """An invalid ``where`` or ``columns``, or both ``snapshot`` and ``since``."""

    code = "bad_subscription"


class ForbiddenError(FeedError):
    """The object's ``feed_allowed`` refused the subscription."""

    code = "forbidden"


class TooManySubscriptionsError(FeedError):
    """The socket already has as many subscriptions as the hub allows."""

    code = "too_many_subscriptions"


class HttpError(HubError):
    """An HTTP request the front refuses before it reaches any object."""

    code = "bad_request"


class BadRequestError(HttpError):
    """Malformed HTTP, a missing or invalid ``Host``, or a bad request target."""

    code = "bad_request"


class UnauthorizedError(HttpError):
    """The admin API needs ``Authorization: Bearer <admin key>``."""

    code = "unauthorized"


class NotFoundError(HttpError):
    """No route for the request's path."""

    code = "not_found"


class MethodNotAllowedError(HttpError):
    """The route exists but takes another method."""

    code = "method_not_allowed"


class RequestTimeoutError(HttpError):
    """A request's head and body did not arrive within ``Limits.http_request_timeout``."""

    code = "request_timeout"


class UriTooLongError(HttpError):
    """The request target is longer than ``Limits.http_target_bytes``."""

    code = "uri_too_long"


class HeadersTooLargeError(HttpError):
    """The request head is over ``Limits.http_head_bytes`` or ``Limits.http_headers``."""

    code = "headers_too_large"


# -- database objects (docs/databases.md) -------------------------------------------------
# RpcError subclasses: they cross a call (and a worker link) with their codes intact.


class NoSuchDatabaseError(RpcError):
    """No database object of that name (never created, or deleted)."""

    code = "no_such_database"


class DatabaseExistsError(RpcError):
    """A database of that name exists already."""

    code = "database_exists"


class ReadOnlyError(RpcError):
    """A read-only database token tried to write (SQLite refused the write)."""

    code = "read_only"


class QueryError(RpcError):
    """SQLite rejected a database client's statement; the message is SQLite's."""

    code = "query_error"


class ResultTooLargeError(RpcError):
    """A database answer is over its row or byte limit."""

    code = "result_too_large"


class MigrationError(RpcError):
    """A migration already applied has different SQL now (the message names it)."""

    code = "migration_conflict"


class TokenRejectedError(UnauthorizedError, RpcError):
    """A database token that is absent, malformed, of another database, or revoked."""

    code = "unauthorized"


class StatementNotAllowedError(RpcError):
    """SQLite's authorizer refused a database client's statement (``_roost_*`` names,
    ATTACH, transaction control, pragmas outside the allow-list)."""

    code = "statement_not_allowed"


class NoSuchTokenError(NotFoundError, RpcError):
    """No token of that id in the database (revoking it)."""

    code = "not_found"
