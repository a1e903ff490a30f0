"""The HTTP/1.1 side of one connection: requests read within bounds, answered in order.

Rules:

1. An ``HttpExchange`` lives from a connection's first byte until it becomes a
   WebSocket (or closes); a parked socket keeps none of it.
2. Requests are answered one at a time, in order. A request the reader refuses is
   answered after the valid requests before it, then the connection closes.
3. Reading stops while ``Limits.http_pipelined`` requests wait, or while the client
   leaves more than ``Limits.http_unsent_bytes`` of answers unread (the transport's
   ``pause_writing``); it starts again when that clears.
4. One timer at a time: a request must arrive within ``Limits.http_request_timeout``
   of the moment the hub is free to read it (408 ``request_timeout``); a connection idle
   for ``Limits.http_keepalive_timeout`` is closed without a word. Nothing is timed
   while the hub is answering or the client is reading an answer.
5. A refusal closes with a linger: half-close, keep reading and dropping input until
   the client closes or ``LINGER_TIMEOUT`` passes, so the answer is read, not lost to a
   reset (RFC 9112 §9.6).
"""

from __future__ import annotations

import asyncio
import http
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from websockets.datastructures import Headers as WsHeaders
from websockets.http11 import Response as WsResponse

from hub.errors import HttpError, HubError, InternalError, RequestTimeoutError
from hub.net.answers import error_response
from hub.net.http1 import RequestReader

if TYPE_CHECKING:
    from hub.limits import Limits
    from hub.net.connection import Connection

__all__ = ["LINGER_TIMEOUT", "HttpExchange", "reason_phrase"]

log = logging.getLogger("roost.net")

#: Seconds a connection refused mid-request keeps reading (and dropping) after its
#: answer, so the client reads the answer instead of a reset (rule 5).
LINGER_TIMEOUT = 2.0
#: The interim answer to ``Expect: 100-continue`` (RFC 9110 §10.1.1).
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class HttpExchange:
    """Reads requests off one connection and writes their answers, within bounds."""

    __slots__ = (
        "_busy",
        "_conn",
        "_error",
        "_limits",
        "_lingering",
        "_reader",
        "_timer",
        "_timer_kind",
        "_write_paused",
    )

    def __init__(self, conn: Connection, limits: Limits) -> None:
        self._conn = conn
        self._limits = limits
        self._reader = RequestReader(
            max_body=limits.message_bytes,
            max_target=limits.http_target_bytes,
            max_head=limits.http_head_bytes,
            max_headers=limits.http_headers,
        )
        #: True while one request is being answered.
        self._busy = False
        #: A request the reader refused: answered after those before it, then closed.
        self._error: HttpError | None = None
        #: The transport's buffer is over ``Limits.http_unsent_bytes``.
        self._write_paused = False
        #: After a refusal: input is dropped until the connection closes (rule 5).
        self._lingering = False
        #: The timer ("request", "idle" or "linger") while one is armed.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind: str | None = None

    @property
    def wants_pause(self) -> bool:
        """True while the connection should not read (rule 3)."""
        if self._lingering:
            return False
        return (
            self._write_paused
            or self._error is not None
            or len(self._reader.requests) >= self._limits.http_pipelined
        )

    def start(self) -> None:
        """The connection is open: time the wait for its first request."""
        self._arm_timer()

    def close(self) -> None:
        """The connection closed or became a WebSocket: stop every timer, drop the
        parser (``RequestReader.close``)."""
        self._cancel_timer()
        self._busy = True  # nothing more is served
        self._reader.close()

    def received(self, data: bytes) -> None:
        """Bytes from the client."""
        if self._lingering or self._error is not None:
            return  # refused already: the answer is on its way, then the close
        try:
            rest = self._reader.feed(data)
        except HttpError as error:
            self._error = error
        else:
            if rest:  # what follows an upgrade request's head: frames, sent early
                self._conn.keep_early(rest)
        self._next_request()
        self._conn.update_reading()
        self._arm_timer()

    def pause_writing(self) -> None:
        """The client stopped reading answers (the transport's buffer is full)."""
        self._write_paused = True
        self._conn.update_reading()
        self._arm_timer()

    def resume_writing(self) -> None:
        """The client reads answers again."""
        self._write_paused = False
        self._conn.update_reading()
        self._next_request()
        self._arm_timer()

    def respond(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        keep_alive: bool,
        omit_body: bool = False,
    ) -> None:
        """Write one answer, then serve the next queued request (or close).

        ``omit_body``: ``Content-Length`` says ``len(body)`` but no body follows (the
        answer to HEAD, or a 304; RFC 9110 §8.6).
        """
        transport = self._conn.transport
        if transport is None or transport.is_closing():
            return
        keep_alive = keep_alive and not self._conn.front.stopping  # a draining hub closes
        all_headers = WsHeaders(list(headers))
        all_headers["Content-Length"] = str(len(body))
        all_headers["Connection"] = "keep-alive" if keep_alive else "close"
        sent = b"" if omit_body else body
        transport.write(WsResponse(status, reason_phrase(status), all_headers, sent).serialize())
        self._conn.answered(status, len(sent))
        if not keep_alive:
            self._cancel_timer()
            if self._lingering:
                self._linger(transport)
            else:
                transport.close()
            return
        self._busy = False
        self._next_request()
        self._conn.update_reading()
        self._arm_timer()

    def fail(self, error: HubError) -> None:
        """Answer ``error`` now and close: nothing more is read from this connection."""
        self._reader.requests.clear()
        self._busy = True
        self._lingering = True
        self._conn.begin_answer("-", "-")  # no request was read whole (unless one was)
        status, headers, body = error_response(error)
        self.respond(status, headers, body, keep_alive=False)

    def fail_internal(self) -> None:
        """A hub fault while reading: 500 ``internal_error``, no detail, close."""
        self._busy = False
        self.fail(InternalError("internal error"))

    def _next_request(self) -> None:
        """Serve the next queued request, if the previous one was answered."""
        if self._busy or self._write_paused or self._conn.ws is not None:
            return
        reader = self._reader
        if reader.requests:
            self._busy = True
            self._cancel_timer()
            parsed = reader.requests.popleft()
            self._conn.begin_answer(parsed.method, parsed.target)
            self._conn.front.handle_request(self._conn, parsed)
            self._conn.update_reading()
        elif self._error is not None:
            self.fail(self._error)
        elif reader.continue_wanted and self._conn.transport is not None:
            # Only now, with every earlier answer written: 100 goes before the body.
            reader.continue_wanted = False
            self._conn.transport.write(_CONTINUE)

    def _linger(self, transport: asyncio.Transport) -> None:
        """Half-close and drop input until the client closes, or for ``LINGER_TIMEOUT``."""
        self._conn.update_reading()  # reading resumes: input is dropped, not held
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(LINGER_TIMEOUT, transport.close)
        self._timer_kind = "linger"

    def _arm_timer(self) -> None:
        """Time the request being read, or the idle wait for the next one (rule 4)."""
        if self._lingering:
            return  # the linger timer stays: it closes the connection
        if self._busy or self._write_paused or self._error is not None:
            self._cancel_timer()
            return
        reader = self._reader
        kind = "request" if reader.reading or reader.requests else "idle"
        if kind == self._timer_kind:
            return
        self._cancel_timer()
        limits = self._limits
        delay = limits.http_request_timeout if kind == "request" else limits.http_keepalive_timeout
        self._timer_kind = kind
        self._timer = asyncio.get_running_loop().call_later(delay, self._timed_out)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_kind = None

    def _timed_out(self) -> None:
        kind, self._timer, self._timer_kind = self._timer_kind, None, None
        transport = self._conn.transport
        if transport is None or transport.is_closing():
            return
        if kind == "request":
            limit = self._limits.http_request_timeout
            log.info("request timed out after %.1f s", limit)
            self.fail(RequestTimeoutError(f"request not received within {limit} s"))
        else:
            transport.close()  # an idle keep-alive connection: closed without a word


def reason_phrase(status: int) -> str:
    """The reason phrase of an HTTP status (``Unknown`` for a code HTTP does not name)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
