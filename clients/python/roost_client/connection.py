"""The asyncio connection to one object over ``roost.v1`` (protocol/SPEC.md).

A thin layer over ``websockets``: the outbox (``outbox.py``), the calls (``calls.py``),
the backoff (``backoff.py``) and the error policy (``errors.py``) hold the rules; one
``Link`` (``link.py``) runs each socket; this module owns the supervisor task.

Rules:

1. One supervisor task per connection owns the sockets: it opens one, runs it through
   a ``Link`` to its end, judges the close (``errors.reconnects_after``), sleeps the
   backoff delay with the injected ``sleep``, and finishes the connection. ``close()``
   only asks it to stop.
2. ``send`` and ``call`` only queue frames in the outbox (checked for size and bound
   first, so an error leaves nothing queued); the link writes them.
3. Closed for good: every waiting call fails, unacknowledged messages stay readable
   (``unacknowledged()``), ``send`` / ``call`` raise ``ConnectionClosed``, iteration
   ends (raising the close error, if there is one), as do subscriptions and presence.
4. Each welcomed socket requests every open subscription and the presence again, once
   the outbox was rewound (``subscriptions.py``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus, InvalidURI, WebSocketException
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

import protocol
from roost_client import wire
from roost_client.address import redacted
from roost_client.backoff import Backoff
from roost_client.calls import Calls
from roost_client.control import Control
from roost_client.errors import (
    CallTimeout,
    ConnectFailed,
    ConnectionClosed,
    ConnectionLost,
    FrameTooLarge,
    HandshakeRejected,
    RoostError,
    error_for_close,
    reconnects_after,
)
from roost_client.feed import Feed, Where, where_conditions
from roost_client.inbox import Inbox
from roost_client.link import Link, Shared
from roost_client.outbox import Outbox
from roost_client.presence import Presence
from roost_client.state import Listeners, State, StateChange, StateStream
from roost_client.subscriptions import Subscription, Subscriptions

__all__ = ["Connection", "Sleep"]

log = logging.getLogger("roost_client")

#: ``await sleep(seconds)``: how the connection waits between attempts and pings.
Sleep = Callable[[float], Awaitable[None]]

_SESSION_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class Connection:
    """A ``roost.v1`` connection to one object; made by ``roost_client.connect``.

    It survives dropped sockets: it reconnects with backoff, resumes its session and
    resends unacknowledged messages, so each message sent with ``send`` is handled
    exactly once. Iterate it for what the object sends. The arguments are those of
    ``connect``, with the URL already built.
    """

    def __init__(
        self,
        url: str,
        *,
        session: str | None = None,
        reconnect: bool = True,
        backoff: Backoff | None = None,
        max_buffered: int = 1000,
        max_queue: int | None = 1024,
        max_message_size: int | None = 2**20,
        open_timeout: float = 10.0,
        ping_interval: float | None = None,
        compression: bool = False,
        headers: Mapping[str, str] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if session is None:
            session = secrets.token_urlsafe(24)  # 192 random bits, URL-safe (SPEC §3.1)
        elif not _SESSION_RE.fullmatch(session):
            raise ValueError(f"session must be 1-128 of [A-Za-z0-9_-], got {session!r}")
        try:
            parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(f"expected a ws:// or wss:// URL, got {redacted(url)!r}") from exc
        self._url = url
        self._session = session
        self._reconnect = reconnect
        self._backoff = backoff or Backoff()
        self._max_message_size = max_message_size
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._compression = "deflate" if compression else None
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._hello = wire.hello(session)

        self._state = State.CONNECTING
        self._close_error: RoostError | None = None
        self._closing = False
        self._socket_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._link: Link | None = None

        self._outbox = Outbox(max_buffered)
        self._writable = asyncio.Event()
        self._progress = asyncio.Event()
        self._calls = Calls()
        self._inbox = Inbox(max_queue)
        control = Control(self._outbox, self._writable.set)
        self._subscriptions = subs = Subscriptions(control, self._calls, self._backoff, sleep)

        self._state_listeners: Listeners[StateChange] = Listeners()
        self._error_listeners: Listeners[RoostError] = Listeners()
        self._shared = Shared(
            self._outbox,
            self._calls,
            self._inbox,
            self._writable,
            self._progress,
            self._report,
            subs,
        )

    # -- what the user reads ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The ``ws://`` URL this connection opens (token included)."""
        return self._url

    def __repr__(self) -> str:
        return f"<Connection {redacted(self._url)} {self._state.value} session={self._session}>"

    @property
    def session(self) -> str:
        """The session id sent in every ``hello``; the same across reconnects."""
        return self._session

    @property
    def state(self) -> State:
        """``connecting``, ``open``, ``reconnecting`` or ``closed``."""
        return self._state

    @property
    def socket_id(self) -> int | None:
        """The hub's id of the current socket (from ``welcome``; diagnostics only)."""
        return self._socket_id

    @property
    def close_error(self) -> RoostError | None:
        """Why the connection closed for good; None while open or after a normal close."""
        return self._close_error

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
        return self._state_listeners.add(callback)

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
        return StateStream(self._state, self._state_listeners)

    async def wait_for(self, state: State) -> None:
        """Return once the connection is in ``state`` (raises if it closed first)."""
        stream = self.state_changes()
        try:
            if self._state is state:
                return
            async for change in stream:
                if change.state is state:
                    return
            raise self._closed_error()
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
            FrameTooLarge: the frame is over ``max_message_size``.
            ConnectionClosed: the connection is closed for good.
            TypeError: ``data`` cannot be encoded as JSON.
        """
        self._check_usable()
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
            BufferFull, FrameTooLarge, ConnectionClosed: as for ``send``.
            TypeError: ``method`` is not a ``str``, or arguments cannot be encoded.
        """
        self._check_usable()
        if not isinstance(method, str):
            # The hub could not tell which call a frame with a non-string method was.
            raise TypeError(f"method must be a str, got {method!r}")
        payload = self._checked(wire.call(self._calls.next_id, method, args, kwargs))
        self._outbox.add(payload, call_id=self._calls.next_id)  # BufferFull: nothing added
        call_id, future = self._calls.add()
        self._writable.set()
        try:
            if timeout is None:
                return await future
            try:
                async with asyncio.timeout(timeout):
                    return await future
            except TimeoutError:
                raise CallTimeout(
                    f"no answer to call {method!r} within {timeout!r} seconds", id=call_id
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
        hold, ``[("done", "eq", False), {"or": [[...], [...]]}]`` (SPEC §9.4), or
        ``{"room": "lobby"}`` for equality; ``columns``: only these (and the key).

        Raises ``ValueError`` (``snapshot`` with ``since``, a malformed ``where``),
        ``TypeError`` (a value not JSON), ``FrameTooLarge``, ``ConnectionClosed``.
        """
        self._check_usable()
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
        self._check_usable()
        return self._subscriptions.presence()

    async def recv(self) -> str | bytes:
        """The next message from the object: ``str`` or ``bytes``.

        Raises the close error (or ``ConnectionClosed``) once the connection is closed
        for good and every received message was read.
        """
        message = await self._inbox.get()
        if message is None:
            raise self._close_error or self._closed_error()
        return message

    def __aiter__(self) -> Connection:
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self.recv()
        except RoostError:
            if self._state is State.CLOSED and self._close_error is None:
                raise StopAsyncIteration from None
            raise

    async def flush(self) -> None:
        """Wait until every frame was written and every message acknowledged.

        Raises the close error (or ``ConnectionClosed``) if the connection closes for
        good first.
        """
        while len(self._outbox):
            if self._state is State.CLOSED:
                raise self._closed_error()
            self._progress.clear()
            await self._progress.wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection for good (no reconnect) and wait until it is closed.

        Unacknowledged messages are not sent any more; ``await conn.flush()`` first to
        be sure each was handled.
        """
        self._closing = True
        self._inbox.release()  # a reader waiting for room must see the close handshake
        task = self._task
        if task is None:
            self._finish(None)
            return
        link = self._link
        if link is not None:
            # The supervisor sees the socket end, then ``_closing``, and finishes.
            await link.ws.close(code, reason)
        elif not task.done():
            task.cancel()  # it is opening a socket or sleeping before the next attempt
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # close() itself was cancelled

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the supervisor -----------------------------------------------------------------------

    async def _start(self) -> None:
        """Start the supervisor; return once the first socket is open (rule 1)."""
        if self._task is not None:
            raise RuntimeError("the connection was started already")
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self._task = loop.create_task(self._supervise(), name=f"roost_client {redacted(self._url)}")
        try:
            await asyncio.shield(self._opened)
        except asyncio.CancelledError:
            if not self._opened.done():
                await self.close()
            if self._opened.done() and not self._opened.cancelled():
                self._opened.exception()  # retrieved: the caller gets CancelledError
            raise

    async def _supervise(self) -> None:
        failures = 0
        retries = 0
        error: RoostError | None = None
        try:
            while not self._closing:
                opened, retry, error = await self._attempt()
                if self._closing:
                    error = None
                    break
                if opened:
                    failures = retries = 0
                else:
                    failures += 1
                if not (retry and self._reconnect):
                    if error is not None and error.close_code == 1000:
                        error = None  # the hub closed normally: no error to report
                    break
                if not opened and self._backoff.gives_up(failures):
                    error = ConnectFailed(f"gave up after {failures} failed attempts: {error}")
                    break
                retries += 1
                delay = self._backoff.delay(retries)
                next_state = State.RECONNECTING if self._opened_once else State.CONNECTING
                self._set_state(next_state, error=error, attempt=retries, delay=delay)
                await self._sleep(delay)
        except asyncio.CancelledError:
            if not self._closing:
                raise
            error = None
        except Exception as exc:
            log.exception("roost_client failed")
            error = ConnectionClosed(f"roost_client failed: {exc!r}")
            error.__cause__ = exc
        finally:
            self._finish(error)

    @property
    def _opened_once(self) -> bool:
        return self._opened is not None and self._opened.done()

    async def _attempt(self) -> tuple[bool, bool, RoostError | None]:
        """Open one socket and run it: (whether it opened, whether to retry, why)."""
        try:
            ws = await ws_connect(
                self._url,
                subprotocols=[Subprotocol(protocol.SUBPROTOCOL)],
                compression=self._compression,
                additional_headers=self._headers or None,
                open_timeout=self._open_timeout,
                max_size=None,
            )
        except InvalidStatus as exc:
            response = exc.response
            error: RoostError = HandshakeRejected(
                f"the hub refused the WebSocket upgrade with HTTP {response.status_code}",
                status=response.status_code,
                body=bytes(response.body or b""),
            )
            error.__cause__ = exc
            return False, error.retryable, error
        except (OSError, TimeoutError, WebSocketException) as exc:
            error = ConnectFailed(f"cannot open {redacted(self._url)!r}: {exc!r}")
            error.__cause__ = exc
            return False, True, error
        if ws.subprotocol != protocol.SUBPROTOCOL:
            ws.transport.abort()
            error = HandshakeRejected(
                f"the hub did not select subprotocol {protocol.SUBPROTOCOL!r}", status=None
            )
            return False, False, error
        link = Link(
            ws,
            self._shared,
            hello=self._hello,
            open_timeout=self._open_timeout,
            ping_interval=self._ping_interval,
            sleep=self._sleep,
        )
        self._link = link
        try:
            ended = await link.run(self._on_open)
        finally:
            self._link = None
            self._subscriptions.socket_lost()
        self._calls.socket_lost(ended.code)
        if reconnects_after(ended.code, closed_by_client=False):
            lost = ConnectionLost(
                f"connection lost: closed with {ended.code}", close_code=ended.code
            )
            return ended.opened, True, lost
        return ended.opened, False, error_for_close(ended.code, ended.reason, ended.last_error)

    def _on_open(self, link: Link) -> None:
        self._socket_id = link.socket_id
        self._subscriptions.opened()  # rule 4: after the rewind, before the writer starts
        self._set_state(State.OPEN)
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _finish(self, error: RoostError | None) -> None:
        """Closed for good (rule 3)."""
        if self._state is State.CLOSED:
            return
        self._close_error = error
        closed = self._closed_error()
        self._calls.fail_all(closed)
        self._outbox.clear_unwritten()
        self._inbox.end()
        self._subscriptions.end_all(error, closed)
        self._set_state(State.CLOSED, error=error)
        self._progress.set()
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(error or closed)

    # -- helpers --------------------------------------------------------------------------------

    def _set_state(
        self,
        state: State,
        *,
        error: RoostError | None = None,
        attempt: int = 0,
        delay: float | None = None,
    ) -> None:
        previous, self._state = self._state, state
        self._state_listeners.emit(StateChange(state, previous, error, attempt, delay))

    def _report(self, error: RoostError) -> None:
        if len(self._error_listeners):
            self._error_listeners.emit(error)
        else:
            log.warning("%r", error)

    def _checked(self, text: str) -> str:
        limit = self._max_message_size
        # UTF-8 is at most 4 bytes a character: count bytes only when it may matter.
        if limit is not None and len(text) * 4 > limit:
            self._check_size(len(text.encode("utf-8")))
        return text

    def _check_size(self, size: int) -> None:
        limit = self._max_message_size
        if limit is not None and size > limit:
            raise FrameTooLarge(f"frame too large: {size} bytes, expected at most {limit}")

    def _check_usable(self) -> None:
        if self._closing or self._state is State.CLOSED:
            raise self._closed_error()

    def _closed_error(self) -> RoostError:
        cause = self._close_error
        error = ConnectionClosed(
            "the connection is closed" + (f": {cause.message}" if cause else ""),
            close_code=cause.close_code if cause else None,
        )
        error.__cause__ = cause
        return error


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
