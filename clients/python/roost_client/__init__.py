"""``roost_client``: the asyncio SDK of Roost, over the ``roost.v1`` subprotocol.

::

    async with roost_client.connect(host="localhost:8787", binding="CHAT_ROOM",
                                    name="lobby", token=token) as conn:
        conn.send("hello")                         # handled exactly once
        total = await conn.call("add", 1, 2)       # RPC, typed errors
        await conn.set_auth(new_token)             # refresh the token in the session
        async for message in conn:                 # what the object sends
            print(message)

    async with conn.subscribe("todos", where={"done": False}, snapshot=True) as sub:
        async for change in sub:                   # Change(seq, op, row), no gap, no repeat
            apply(change)

    conn.presence.on_join(lambda socket, state: print(socket, "joined", state))

Database objects (docs/databases.md): ``roost_client.database(url, name, token=...)``
for the data (``query``, ``batch``, ``table(...)``, ``subscribe``, ``stats``) and
``roost_client.admin(url, admin_key)`` to create databases and tokens.

A connection reconnects after a lost socket with exponential backoff and jitter,
resumes its session, and resends the messages the hub has not acknowledged, so each
message sent with ``send`` is handled once: never zero times, never twice
(protocol/SPEC.md §5). Errors are ``RoostError`` subclasses with a stable ``code`` and
a ``retryable`` flag (see ``roost_client.errors``). Subscriptions to the object's
change feeds resume after a reconnect where they left off (SPEC §9), and
``conn.presence`` follows who is connected (SPEC §10).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from roost_client.address import kebab, object_url
from roost_client.admin import Admin, DatabaseInfo, IssuedToken, admin
from roost_client.backoff import Backoff
from roost_client.connection import Connect, Connection, Sleep
from roost_client.database import (
    Database,
    MigrateResult,
    QueryResult,
    Restored,
    Subscribed,
    database,
)
from roost_client.errors import (
    CODES,
    ActivationFailed,
    BadFrame,
    BadSubscription,
    BufferFull,
    CallCycle,
    CallTimeout,
    ConnectFailed,
    ConnectionClosed,
    ConnectionLost,
    DatabaseExists,
    Forbidden,
    HandshakeRejected,
    HubStopping,
    InternalError,
    InvalidArguments,
    MessageTooBig,
    MethodNotFound,
    MigrationConflict,
    NoSuchDatabase,
    NoSuchFeed,
    ObjectAborted,
    ObjectError,
    Overloaded,
    QueryError,
    ReadOnly,
    ResultTooLarge,
    RoostError,
    SessionRequired,
    StatementNotAllowed,
    TooManySubscriptions,
    Unauthorized,
)
from roost_client.feed import Change
from roost_client.presence import Presence, PresenceEvent, PresenceStream
from roost_client.state import State, StateChange, StateStream
from roost_client.subscriptions import Subscription
from roost_client.tables import Table
from roost_client.token import TokenSource

__all__ = [
    "CODES",
    "ActivationFailed",
    "Admin",
    "Backoff",
    "BadFrame",
    "BadSubscription",
    "BufferFull",
    "CallCycle",
    "CallTimeout",
    "Change",
    "Connect",
    "ConnectFailed",
    "Connection",
    "ConnectionClosed",
    "ConnectionLost",
    "Database",
    "DatabaseExists",
    "DatabaseInfo",
    "Forbidden",
    "HandshakeRejected",
    "HubStopping",
    "InternalError",
    "InvalidArguments",
    "IssuedToken",
    "MessageTooBig",
    "MethodNotFound",
    "MigrateResult",
    "MigrationConflict",
    "NoSuchDatabase",
    "NoSuchFeed",
    "ObjectAborted",
    "ObjectError",
    "Overloaded",
    "Presence",
    "PresenceEvent",
    "PresenceStream",
    "QueryError",
    "QueryResult",
    "ReadOnly",
    "Restored",
    "ResultTooLarge",
    "RoostError",
    "SessionRequired",
    "Sleep",
    "State",
    "StateChange",
    "StateStream",
    "StatementNotAllowed",
    "Subscribed",
    "Subscription",
    "Table",
    "TokenSource",
    "TooManySubscriptions",
    "Unauthorized",
    "admin",
    "connect",
    "database",
    "kebab",
    "object_url",
]


def connect(
    url: str | None = None,
    *,
    host: str | None = None,
    binding: str | None = None,
    name: str | None = None,
    query: Mapping[str, str] | None = None,
    token: TokenSource | None = None,
    session: str | None = None,
    reconnect: bool = True,
    backoff: Backoff | None = None,
    min_uptime: float = 5.0,
    max_buffered: int = 1000,
    max_queue: int | None = 1024,
    max_message_size: int | None = 2**20,
    open_timeout: float = 10.0,
    ping_interval: float | None = None,
    compression: bool = False,
    headers: Mapping[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Connect:
    """Open a ``roost.v1`` connection to one object.

    ``conn = await connect(...)`` returns once the hub welcomed the session;
    ``async with connect(...) as conn:`` also closes it at the end.

    The first socket: a refusal that cannot change (HTTP 4xx other than 408 / 429, no
    ``roost.v1``) raises ``HandshakeRejected`` at once. Other failures (network errors,
    timeouts, 5xx) raise ``ConnectFailed`` when ``reconnect`` is False; with
    ``reconnect`` they are retried with ``backoff`` until a socket opens, or until
    ``backoff.max_attempts`` failed in a row (then ``ConnectFailed``). Wrap the await in
    ``asyncio.timeout()`` to bound the wait; cancelling it closes the connection.

    Args:
        url: ``ws(s)://host/objects/{binding}/{name}`` (``http(s)`` is accepted too);
            or give ``host``, ``binding`` and ``name`` instead.
        host: ``host:port``, optionally with a scheme (``wss://example.com``).
        binding: the object's binding, ``CHAT_ROOM`` or ``chat-room``.
        name: the object's name: any non-empty string (it is percent-encoded).
        query: items added to the URL's query (the object's ``fetch`` reads them).
        token: sent as the query item ``token=`` (browsers cannot set headers): a
            string, or a function (sync or async) returning one, called before every
            connect and reconnect so each socket opens with a fresh token. A function
            that raises fails that attempt (``ConnectFailed``, retried with backoff).
            ``conn.set_auth()`` refreshes the token of an open socket.
        session: the session id (default: 192 random bits). Reuse one only together
            with the ids it already used: the hub drops a message whose id is not above
            the highest it handled for the session as a duplicate (SPEC §5.2).
        reconnect: reconnect after a lost socket (SPEC §7.3) and retry failed opens.
        backoff: the delays between attempts (``Backoff()``: 0.5 s doubling to 10 s,
            jitter 0.5, no limit on attempts).
        min_uptime: seconds a socket must stay welcomed before the retry count (and so
            the backoff delay and ``backoff.max_attempts``) starts over, so a hub that
            welcomes and drops at once meets a growing delay (partysocket's
            ``minUptime``; 0: every welcome starts it over).
        max_buffered: at most this many frames wait to be sent or acknowledged;
            ``send`` / ``call`` past it raise ``BufferFull``.
        max_queue: received messages kept until read; when that many wait, the
            connection stops reading the socket (acks and results wait too) until you
            read. None: no limit.
        max_message_size: ``send`` / ``call`` raise ``MessageTooBig`` for a frame over
            this many bytes (the hub's default limit; None: no check).
        open_timeout: seconds for the handshake and the hub's ``welcome``.
        ping_interval: send ``{"t":"ping"}`` this often (seconds) and drop the socket
            when no ``pong`` came before the next ping (None: off; ``websockets``
            still sends WebSocket pings every 20 s).
        compression: offer permessage-deflate.
        headers: extra HTTP headers for the upgrade request.
        sleep: how to wait between attempts and pings (tests pass a fake).
    """
    full_url = object_url(url, host=host, binding=binding, name=name, query=query)
    connection = Connection(
        full_url,
        token=token,
        session=session,
        reconnect=reconnect,
        backoff=backoff,
        min_uptime=min_uptime,
        max_buffered=max_buffered,
        max_queue=max_queue,
        max_message_size=max_message_size,
        open_timeout=open_timeout,
        ping_interval=ping_interval,
        compression=compression,
        headers=headers,
        sleep=sleep,
    )
    return Connect(connection)
