"""The asyncio connection to one object over ``roost.v1`` (protocol/SPEC.md): what the
user holds.

A thin layer: the outbox (``outbox.py``), the calls (``calls.py``), the subscriptions
(``subscriptions.py``) and the error policy (``errors.py``) hold the rules; the
settings are checked in ``options.py``; the supervisor task (``supervisor.py``) owns the
sockets, the state and the end, and one ``Link`` (``link.py``) runs each socket. This
module owns the user's verbs and what they read, and the ``on_error`` listeners.

Rules:

1. ``send`` and ``call`` only queue frames in the outbox (checked for size and bound
   first, so an error leaves nothing queued); the link writes them.
2. ``send``, ``call``, ``subscribe`` and ``presence`` ask the supervisor first
   (``check_usable``): once the connection is closing or closed they raise
   ``ConnectionClosed``. Closed for good, iteration ends (raising the close error, if
   there is one) once every received message was read.
3. Errors no caller receives go to the ``on_error`` listeners, or to the log as a
   warning when there are none.
4. ``set_auth`` is a call in all but its frame (``auth``, SPEC §6.5): same ids, same
   outbox, same answers and ``connection_lost``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any

import protocol
from roost_client import wire
from roost_client.address import redacted
from roost_client.backoff import Backoff
from roost_client.calls import Calls
from roost_client.control import Control
from roost_client.errors import CallTimeout, MessageTooBig, RoostError
from roost_client.feed import Feed
from roost_client.inbox import Inbox
from roost_client.link import Link, Shared
from roost_client.options import Options, Sleep
from roost_client.outbox import Outbox
from roost_client.presence import Presence
from roost_client.state import Listeners, State, StateChange, StateStream
from roost_client.subscriptions import Subscription, Subscriptions
from roost_client.supervisor import Supervisor
from roost_client.token import Token, TokenSource, checked_token
from roost_client.where import Where, where_conditions

__all__ = ["Connection", "Sleep"]

log = logging.getLogger("roost_client")


class Connection:
    """A ``roost.v1`` connection to one object; made by ``roost_client.connect``.

    It survives dropped sockets: it reconnects with backoff, resumes its session and
    resends unacknowledged messages, so each message sent with ``send`` is handled
    exactly once. Iterate it for what the object sends. The arguments are those of
    ``connect``, with the URL already built (without the token).
    """

    def __init__(
        self,
        url: str,
        *,
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
    ) -> None:
        options = Options.checked(
            url,
            session=session,
            reconnect=reconnect,
            backoff=backoff,
            min_uptime=min_uptime,
            max_message_size=max_message_size,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            compression=compression,
            headers=headers,
            sleep=sleep,
        )
        self._options = options
        self._token = Token(token)
        self._outbox = Outbox(max_buffered)
        self._writable = asyncio.Event()
        self._progress = asyncio.Event()
        self._calls = Calls()
        self._inbox = Inbox(max_queue)
        control = Control(self._outbox, self._writable.set)
        self._subscriptions = subs = Subscriptions(control, self._calls, options.backoff, sleep)
        self._error_listeners: Listeners[RoostError] = Listeners()
        shared = Shared(
            self._outbox,
            self._calls,
            self._inbox,
            self._writable,
            self._progress,
            self._report,
            subs,
        )
        self._supervisor = Supervisor(options, shared, self._token)

    # -- what the user reads ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The ``ws://`` URL of this connection's sockets, with its latest token."""
        return self._token.url(self._options.url)

    def __repr__(self) -> str:
        state = self._supervisor.state.value
        return f"<Connection {redacted(self.url)} {state} session={self.session}>"

    @property
    def session(self) -> str:
        """The session id sent in every ``hello``; the same across reconnects."""
        return self._options.session

    @property
    def state(self) -> State:
        """``connecting``, ``open``, ``reconnecting`` or ``closed``."""
        return self._supervisor.state

    @property
    def socket_id(self) -> int | None:
        """The hub's id of the current socket (from ``welcome``; diagnostics only)."""
        return self._supervisor.socket_id

    @property
    def close_error(self) -> RoostError | None:
        """Why the connection closed for good; None while open or after a normal close."""
        return self._supervisor.close_error

    @property
    def buffered(self) -> int:
        """Frames waiting: unacknowledged messages plus frames not yet written."""
        return len(self._outbox)

    @property
    def next_id(self) -> int:
        """The id the next exactly-once message will get."""
        return self._outbox.next_id

    def unacknowledged(self) -> dict[int, Any]:
        """The exactly-once messages without ``ack`` or ``error`` yet: id -> data."""
        result: dict[int, Any] = {}
        for entry in self._outbox.messages():
            frame = protocol.decode_client(entry.payload)
            assert isinstance(frame, protocol.ClientMessage) and entry.id is not None
            result[entry.id] = frame.data
        return result

    def on_state_change(self, callback: Callable[[StateChange], object]) -> Callable[[], None]:
        """Call ``callback(change)`` on every state change; returns an unsubscribe."""
        return self._supervisor.on_state_change(callback)

    def on_error(self, callback: Callable[[RoostError], object]) -> Callable[[], None]:
        """Call ``callback(error)`` for errors no call receives; returns an unsubscribe.

        These are: an exactly-once message whose handler raised (``ObjectError`` with the
        message's ``id``), errors about the socket (``id`` None, such as a ``bad_frame``
        answer or ``hub_stopping``), and frames from the hub this client cannot read
        (``BadFrame``). Without listeners they are logged as warnings.
        """
        return self._error_listeners.add(callback)

    def state_changes(self) -> StateStream:
        """``async for change in conn.state_changes()``: every change from now on."""
        return self._supervisor.state_changes()

    async def wait_for(self, state: State) -> None:
        """Return once the connection is in ``state`` (raises if it closed first)."""
        stream = self.state_changes()
        try:
            if self._supervisor.state is state:
                return
            async for change in stream:
                if change.state is state:
                    return
            raise self._supervisor.closed_error()
        finally:
            stream.close()

    # -- what the user does ------------------------------------------------------------------

    def send(self, data: Any, *, exactly_once: bool = True) -> int | None:
        """Send ``data`` to the object's ``websocket_message``; returns the message id.

        ``str`` arrives as that string; any other JSON value arrives as compact JSON
        text (SPEC §4.1). With ``exactly_once`` (the default) the message gets the next
        id of the session and is kept, across reconnects, until the hub acknowledges it:
        it is handled exactly once (SPEC §5). ``bytes`` are a binary frame and, like
        ``exactly_once=False``, at most once: they are lost if the socket drops after
        they were written. Returns None for those.

        While the connection is not open, frames wait (at most ``max_buffered``).

        Raises:
            BufferFull: ``max_buffered`` frames wait already; nothing was queued.
            MessageTooBig: the frame is over ``max_message_size``.
            ConnectionClosed: the connection is closed for good.
            TypeError: ``data`` cannot be encoded as JSON.
        """
        self._supervisor.check_usable()
        if isinstance(data, bytes | bytearray | memoryview):
            payload = bytes(data)
            self._check_size(len(payload))
            self._outbox.add(payload)
            message_id = None
        elif exactly_once:
            message_id = self._outbox.add_message(lambda i: self._checked(wire.message(data, i))).id
        else:
            self._outbox.add(self._checked(wire.message(data)))
            message_id = None
        self._writable.set()
        return message_id

    async def call(
        self,
        method: str,
        /,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - part of both SDKs' call API
        **kwargs: Any,
    ) -> Any:
        """Call the object's public method ``method`` and return its result (SPEC §6).

        Calls are at most once. Made while the connection is reconnecting, a call waits
        for the next socket (it counts against ``max_buffered``).

        Raises:
            MethodNotFound, InvalidArguments, ObjectError, ...: the hub's answer.
            ConnectionLost: the socket closed before the answer (retryable; the method
                may or may not have run).
            CallTimeout: no answer within ``timeout`` seconds.
            BufferFull, MessageTooBig, ConnectionClosed: as for ``send``.
            TypeError: ``method`` is not a ``str``, or arguments cannot be encoded.
        """
        self._supervisor.check_usable()
        if not isinstance(method, str):
            # The hub could not tell which call a frame with a non-string method was.
            raise TypeError(f"method must be a str, got {method!r}")
        payload = self._checked(wire.call(self._calls.next_id, method, args, kwargs))
        return await self._answer(payload, f"call {method!r}", timeout)

    async def reconnect(self, code: int = 1000, reason: str = "") -> None:
        """Close the current socket with ``code`` and open a new one now (partysocket's
        ``reconnect()``): the session goes on, so unacknowledged messages are resent
        and handled once; calls written on the old socket raise ``ConnectionLost``.
        While waiting to retry, the wait ends now. The retry count starts over.

        Raises ``ValueError`` for a code other than 1000 or 3000-4999 and
        ``ConnectionClosed`` after ``close()``.
        """
        if code != 1000 and not 3000 <= code <= 4999:
            raise ValueError(f"close code must be 1000 or from 3000 to 4999, got {code!r}")
        await self._supervisor.reconnect(code, reason)

    async def set_auth(
        self,
        token: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as for call
    ) -> Any:
        """Hand the object a fresh token without reconnecting (SPEC §6.5); its answer.

        Sends an ``auth`` frame with ``token``, or, without one, with a fresh token from
        the function given to ``connect(token=...)`` (the fixed token, if it was a
        string). The object's ``websocket_auth(ws, token)`` checks it and returns what
        this returns. A ``token`` given here, once accepted, is also the token of every
        later socket's URL, like ``connect(token=...)``: a token function is then no
        longer called (call ``set_auth()`` without a token to keep using it).

        Like ``call``: at most once, waits for the next socket while reconnecting.

        Raises:
            Unauthorized: the object refused the token; the socket stays open with the
                identity it had.
            MethodNotFound: the object defines no ``websocket_auth``.
            ObjectError, ...: the hub's answer, as for ``call``.
            ConnectionLost: the socket closed before the answer (retryable; the next
                socket opens with the current token anyway).
            CallTimeout, BufferFull, MessageTooBig, ConnectionClosed: as for ``call``.
            TypeError, ValueError: ``token`` is not a non-empty ``str``, or there is no
                token to send; what the token function raises.
        """
        self._supervisor.check_usable()
        if token is None:
            if self._token.current is None and not self._token.is_function:
                raise ValueError("no token to send: give one, or connect with token=")
            fresh = await self._token.fresh()
            assert fresh is not None
            self._supervisor.check_usable()
            return await self._answer(self._auth_frame(fresh), "auth", timeout)
        payload = self._auth_frame(checked_token(token))
        result = await self._answer(payload, "auth", timeout)
        self._token.set(token)  # accepted: later sockets open with it too
        return result

    def _auth_frame(self, token: str) -> str:
        return self._checked(wire.auth(self._calls.next_id, token))

    async def _answer(self, payload: str, what: str, seconds: float | None) -> Any:
        """Send a call's (or ``auth``'s) frame and wait for its answer (rule 4)."""
        self._outbox.add(payload, call_id=self._calls.next_id)  # BufferFull: nothing added
        call_id, future = self._calls.add()
        self._writable.set()
        try:
            if seconds is None:
                return await future
            try:
                async with asyncio.timeout(seconds):
                    return await future
            except TimeoutError:
                raise CallTimeout(
                    f"no answer to {what} within {seconds!r} seconds", id=call_id
                ) from None
        finally:
            self._calls.forget(call_id)
            self._outbox.discard_call(call_id)

    def subscribe(
        self,
        table: str,
        *,
        where: Where | None = None,
        columns: Sequence[str] | None = None,
        snapshot: bool = False,
        since: int | None = None,
    ) -> Subscription:
        """Subscribe to the change feed of the object's table ``table`` (SPEC §9).

        ``async for change in sub``: with ``snapshot``, the matching rows first (op
        ``snapshot``); with ``since``, the changes after that seq; then every insert,
        update and delete as it commits. It resumes after reconnects with no change
        missed or repeated (see ``Subscription``). ``where``: conditions that must all
        hold, ``[("done", "eq", False), {"or": [[...], [...]]}]`` (SPEC §9.4), or the
        object form ``{"room": "lobby", "n": {"gte": 1}}`` (``roost_client.where``);
        ``columns``: only these (and the key).

        Raises ``ValueError`` (``snapshot`` with ``since``, a malformed ``where``),
        ``TypeError`` (a value not JSON), ``MessageTooBig``, ``ConnectionClosed``.
        """
        self._supervisor.check_usable()
        conditions = where_conditions(where)
        feed = Feed(table, where=conditions, columns=columns, snapshot=snapshot, since=since)
        self._checked(feed.frame(self._calls.next_id))  # refused before anything is queued
        return self._subscriptions.add(feed)

    @property
    def presence(self) -> Presence:
        """The object's presence (SPEC §10): members, join / leave / update events.

        Made on first use (``presence_sub``), asked again on every new socket; after
        ``presence.close()`` the next use makes a new one. ``ConnectionClosed`` once the
        connection is closed for good.
        """
        self._supervisor.check_usable()
        return self._subscriptions.presence()

    async def recv(self) -> str | bytes:
        """The next message from the object: ``str`` or ``bytes``.

        Raises the close error (or ``ConnectionClosed``) once the connection is closed
        for good and every received message was read.
        """
        message = await self._inbox.get()
        if message is None:
            raise self._supervisor.close_error or self._supervisor.closed_error()
        return message

    def __aiter__(self) -> Connection:
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self.recv()
        except RoostError:
            if self.state is State.CLOSED and self.close_error is None:
                raise StopAsyncIteration from None
            raise

    async def flush(self) -> None:
        """Wait until every frame was written and every message acknowledged.

        Raises the close error (or ``ConnectionClosed``) if the connection closes for
        good first.
        """
        while len(self._outbox):
            if self._supervisor.state is State.CLOSED:
                raise self._supervisor.closed_error()
            self._progress.clear()
            await self._progress.wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection for good (no reconnect) and wait until it is closed.

        Unacknowledged messages are not sent any more; ``await conn.flush()`` first to
        be sure each was handled.
        """
        await self._supervisor.close(code, reason)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- what the supervisor owns --------------------------------------------------------------

    async def _start(self) -> None:
        """Start the supervisor; return once the first socket is open (``Connect``)."""
        await self._supervisor.start()

    @property
    def _link(self) -> Link | None:
        """The link of the socket open now, if any (tests reach the raw socket through it)."""
        return self._supervisor.link

    # -- helpers --------------------------------------------------------------------------------

    def _report(self, error: RoostError) -> None:
        if len(self._error_listeners):
            self._error_listeners.emit(error)
        else:
            log.warning("%r", error)

    def _checked(self, text: str) -> str:
        limit = self._options.max_message_size
        # UTF-8 is at most 4 bytes a character: count bytes only when it may matter.
        if limit is not None and len(text) * 4 > limit:
            self._check_size(len(text.encode("utf-8")))
        return text

    def _check_size(self, size: int) -> None:
        limit = self._options.max_message_size
        if limit is not None and size > limit:
            raise MessageTooBig(f"frame too large: {size} bytes, expected at most {limit}")


class Connect:
    """What ``connect()`` returns: ``await`` it, or ``async with`` it.

    ``conn = await connect(...)`` returns the open connection;
    ``async with connect(...) as conn:`` also closes it at the end of the block.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._open().__await__()

    async def _open(self) -> Connection:
        await self.connection._start()
        return self.connection

    async def __aenter__(self) -> Connection:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.connection.close()
