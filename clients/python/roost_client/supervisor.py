"""The life of a connection: the one supervisor task that owns its sockets, its state
and its end.

``Connection`` (``connection.py``) is the user's face of it: it queues frames in the
outbox and reads the state kept here. Each socket is run by a ``Link`` (``link.py``);
the backoff (``backoff.py``) and the error policy (``errors.py``) hold the rules.

Rules:

1. One supervisor task per connection owns the sockets: it opens one, runs it through
   a ``Link`` to its end, judges the close (``errors.reconnects_after``), sleeps the
   backoff delay with the injected ``sleep``, and finishes the connection. ``close()``
   only asks it to stop.
2. Everything that changes the connection's state, its close error, the current link
   and the socket id lives here; state listeners hear of each change (``state.py``).
3. Closed for good (``_finish``, once): every waiting call fails, unacknowledged
   messages stay readable (``Connection.unacknowledged()``), frames not yet written are
   dropped, the inbox ends, as do subscriptions and presence; ``send`` / ``call`` then
   raise ``ConnectionClosed`` (``check_usable``).
4. Each welcomed socket requests every open subscription and the presence again, once
   the outbox was rewound (``subscriptions.py``).
5. Each socket opens with a fresh token in its URL: a token function is called before
   every attempt (``token.py``).
6. The retry count starts over once a socket has stayed welcomed for ``min_uptime``; a
   socket dropped sooner counts as a failed attempt (partysocket's rule), so a hub that
   welcomes and drops at once meets a growing delay and ``backoff.max_attempts``.
7. ``reconnect()`` replaces the socket now: the old one is closed and judged like a
   lost socket (its calls fail with ``ConnectionLost``, the outbox and the session
   stay), the retry count starts over and the next socket opens without a delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

import protocol
from roost_client.address import redacted, with_token
from roost_client.errors import (
    ConnectFailed,
    ConnectionClosed,
    ConnectionLost,
    HandshakeRejected,
    RoostError,
    error_for_close,
    reconnects_after,
)
from roost_client.link import Link, Shared
from roost_client.options import Options
from roost_client.state import Listeners, State, StateChange, StateStream
from roost_client.token import BadToken, Token

__all__ = ["Supervisor"]

log = logging.getLogger("roost_client")


class Supervisor:
    """Runs a connection's sockets one after another until it is closed for good."""

    def __init__(self, options: Options, shared: Shared, token: Token) -> None:
        self._options = options
        self._shared = shared
        self._token = token
        self._state = State.CONNECTING
        self._close_error: RoostError | None = None
        self._closing = False
        self._socket_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._link: Link | None = None
        #: The link ``reconnect()`` is replacing, and the wake-up of a backoff sleep.
        self._replaced: Link | None = None
        self._woken = asyncio.Event()
        self._uptime = 0.0
        self._welcomed_at = 0.0
        self._state_listeners: Listeners[StateChange] = Listeners()

    # -- what the connection reads ------------------------------------------------------------

    @property
    def state(self) -> State:
        """``connecting``, ``open``, ``reconnecting`` or ``closed``."""
        return self._state

    @property
    def close_error(self) -> RoostError | None:
        """Why the connection closed for good; None while open or after a normal close."""
        return self._close_error

    @property
    def socket_id(self) -> int | None:
        """The hub's id of the current socket (from ``welcome``)."""
        return self._socket_id

    @property
    def link(self) -> Link | None:
        """The link of the socket open now, if any."""
        return self._link

    def on_state_change(self, callback: Callable[[StateChange], object]) -> Callable[[], None]:
        """Call ``callback(change)`` on every state change; returns an unsubscribe."""
        return self._state_listeners.add(callback)

    def state_changes(self) -> StateStream:
        """Every state change from now on."""
        return StateStream(self._state, self._state_listeners)

    def check_usable(self) -> None:
        """Raise ``ConnectionClosed`` once the connection is closing or closed (rule 3)."""
        if self._closing or self._state is State.CLOSED:
            raise self.closed_error()

    def closed_error(self) -> RoostError:
        """A fresh ``ConnectionClosed``, caused by the close error if there is one."""
        cause = self._close_error
        error = ConnectionClosed(
            "the connection is closed" + (f": {cause.message}" if cause else ""),
            close_code=cause.close_code if cause else None,
        )
        error.__cause__ = cause
        return error

    # -- start and stop -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervisor; return once the first socket is open (rule 1)."""
        if self._task is not None:
            raise RuntimeError("the connection was started already")
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        name = f"roost_client {redacted(self._options.url)}"
        self._task = loop.create_task(self._supervise(), name=name)
        try:
            await asyncio.shield(self._opened)
        except asyncio.CancelledError:
            if not self._opened.done():
                await self.close()
            if self._opened.done() and not self._opened.cancelled():
                self._opened.exception()  # retrieved: the caller gets CancelledError
            raise

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Stop for good (no reconnect) and wait until the supervisor finished."""
        self._closing = True
        self._shared.inbox.release()  # a reader waiting for room must see the close handshake
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

    async def reconnect(self, code: int, reason: str) -> None:
        """Replace the socket now, or end the backoff sleep (rule 7)."""
        self.check_usable()
        self._woken.set()
        link = self._link
        if link is not None:
            self._replaced = link
            await link.ws.close(code, reason)

    # -- the supervisor task --------------------------------------------------------------------

    async def _supervise(self) -> None:
        options = self._options
        failures = 0
        retries = 0
        error: RoostError | None = None
        try:
            while not self._closing:
                self._woken.clear()
                opened, retry, error = await self._attempt()
                if self._closing:
                    error = None
                    break
                if self._woken.is_set():  # reconnect() was called (rule 7)
                    failures = retries = 0
                    self._set_state(State.RECONNECTING, error=error)
                    continue
                if opened and self._uptime >= options.min_uptime:
                    failures = retries = 0
                else:
                    failures += 1
                if not (retry and options.reconnect):
                    if error is not None and error.close_code == 1000:
                        error = None  # the hub closed normally: no error to report
                    break
                if failures and options.backoff.gives_up(failures):
                    error = ConnectFailed(f"gave up after {failures} failed attempts: {error}")
                    break
                retries += 1
                delay = options.backoff.delay(retries)
                next_state = State.RECONNECTING if self._opened_once else State.CONNECTING
                self._set_state(next_state, error=error, attempt=retries, delay=delay)
                await self._pause(delay)
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

    async def _pause(self, delay: float) -> None:
        """Sleep ``delay`` with the injected ``sleep``; ``reconnect()`` ends it early."""
        sleeping = asyncio.ensure_future(self._options.sleep(delay))
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait({sleeping, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()

    @property
    def _opened_once(self) -> bool:
        return self._opened is not None and self._opened.done()

    async def _attempt(self) -> tuple[bool, bool, RoostError | None]:
        """Open one socket and run it: (whether it opened, whether to retry, why)."""
        options = self._options
        url, failed = await self._fresh_url()
        if failed is not None:
            return False, failed.retryable, failed
        try:
            ws = await ws_connect(
                url,
                subprotocols=[Subprotocol(protocol.SUBPROTOCOL)],
                compression=options.compression,
                additional_headers=options.headers or None,
                open_timeout=options.open_timeout,
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
            error = ConnectFailed(f"cannot open {redacted(url)!r}: {exc!r}")
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
            hello=options.hello,
            open_timeout=options.open_timeout,
            ping_interval=options.ping_interval,
            sleep=options.sleep,
        )
        self._link = link
        self._uptime = 0.0
        loop = asyncio.get_running_loop()
        try:
            ended = await link.run(self._on_open)
        finally:
            self._link = None
            self._shared.subscriptions.socket_lost()
        if ended.opened:
            self._uptime = loop.time() - self._welcomed_at
        self._shared.calls.socket_lost(ended.code)
        if self._replaced is link:
            self._replaced = None
            lost = ConnectionLost("replaced by reconnect()", close_code=ended.code)
            return ended.opened, True, lost
        if reconnects_after(ended.code, closed_by_client=False):
            lost = ConnectionLost(
                f"connection lost: closed with {ended.code}", close_code=ended.code
            )
            return ended.opened, True, lost
        return ended.opened, False, error_for_close(ended.code, ended.reason, ended.last_error)

    async def _fresh_url(self) -> tuple[str, RoostError | None]:
        """The URL of the next socket, with a fresh token; or why there is none (rule 5)."""
        try:
            return with_token(self._options.url, await self._token.fresh()), None
        except Exception as exc:  # the application's token function
            bad = isinstance(exc, BadToken)
            error = ConnectFailed(
                f"the token function failed: {exc}"
                if bad
                else f"the token function raised {type(exc).__name__}",
                retryable=not bad,
            )
            error.__cause__ = exc
            return "", error

    def _on_open(self, link: Link) -> None:
        self._welcomed_at = asyncio.get_running_loop().time()
        self._woken.clear()  # a reconnect() asked while this socket opened is done
        self._socket_id = link.socket_id
        self._shared.subscriptions.opened()  # rule 4: after the rewind, before the writer starts
        self._set_state(State.OPEN)
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _finish(self, error: RoostError | None) -> None:
        """Closed for good (rule 3)."""
        if self._state is State.CLOSED:
            return
        shared = self._shared
        self._close_error = error
        closed = self.closed_error()
        shared.calls.fail_all(closed)
        shared.outbox.clear_unwritten()
        shared.inbox.end()
        shared.subscriptions.end_all(error, closed)
        self._set_state(State.CLOSED, error=error)
        shared.progress.set()
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(error or closed)

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
