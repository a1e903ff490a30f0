"""One TCP connection: HTTP/1.1 requests, then possibly one WebSocket.

``Connection`` is the connection's one object. Its methods live in four modules: the
``asyncio.Protocol`` callbacks and HTTP here, the opening handshake in
``hub.net.upgrade``, frames in in ``hub.net.frames_in``, frames out in
``hub.net.frames_out``; those are functions of the connection, bound in the class body.

Rules:

1. An ``asyncio.Protocol`` per connection and no task per connection: a parked socket
   costs its transport, this object and its websockets ``ServerProtocol``, nothing more.
   Its state is the slots below, whichever module changes them.
2. Nothing here hand-parses: httptools parses HTTP/1.1; the WebSocket handshake,
   framing, pings and the closing handshake are websockets' sans-I/O ``ServerProtocol``.
   The upgrade request is handed to it as websockets' own ``Request``, except a plainly
   valid one, which ``hub.net.handshake`` answers (the same bytes, half the CPU), and
   a whole message in one plain frame, which ``hub.net.fastframes`` takes before
   websockets when its parser is between frames (``hub.net.rfc6455`` rule 1).
3. Requests on one connection are answered one at a time, in order.
4. Every close path reports to the front exactly once: a Close frame from the client
   (code or 1005, clean), a protocol error (1002 / 1007 / 1009), or a dropped TCP
   connection (1006, not clean). A close the object asked for reports nothing.
5. The send buffer is bounded: a socket whose transport holds more than
   ``Limits.outbox_bytes`` unsent is closed as a slow consumer (``hub.net.frames_out``
   rule 1).
6. HTTP is the ``HttpExchange``'s (hub/net/exchange.py: bounds, order, timeouts,
   backpressure); this class pauses reading for it, and while an upgrade waits for the
   object, once more than ``Limits.message_bytes`` of early frames are held.
7. An exception escaping the handling of a connection's input is a hub fault: it is
   logged once; a WebSocket is closed with 1011 and no reason (the object gets
   ``websocket_error``), an HTTP connection gets 500 ``internal_error`` and closes.
8. A protocol error fails the connection, but the messages before the bad frame are
   handled and answered first: the Close is held until then (``hub.net.frames_in``
   rule 2).
9. Text is checked as it arrives, so invalid UTF-8 fails the connection at the
   offending fragment (``hub.net.frames_in`` rule 1).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from websockets.frames import Opcode
from websockets.http11 import Response as WsResponse
from websockets.protocol import CLOSED, OPEN

from hub.errors import WebSocketError, WebSocketInternalError
from hub.logs import extra
from hub.net import access, frames_in, frames_out, upgrade
from hub.net.exchange import HttpExchange
from hub.net.rfc6455 import ServerProtocol

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.net.fanout import Batch
    from hub.net.front import Front

__all__ = ["Connection"]

log = logging.getLogger("roost.net")


class Connection(asyncio.Protocol):
    """HTTP/1.1 and WebSocket traffic of one client connection."""

    __slots__ = (
        "_answering",
        "_buffered",
        "_close_timer",
        "_decoder",
        "_early",
        "_failed",
        "_failure",
        "_fragment_opcode",
        "_fragments",
        "_handshake",
        "_held",
        "_http",
        "_pending",
        "_pending_size",
        "_reading_paused",
        "_reported",
        "batch",
        "close_code",
        "database_token",
        "front",
        "object_id",
        "session",
        "socket_id",
        "transport",
        "v1",
        "ws",
    )

    def __init__(self, front: Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        #: The HTTP/1.1 side; dropped when the connection becomes a WebSocket.
        self._http: HttpExchange | None = HttpExchange(self, front.limits)
        self._reading_paused = False
        #: Set once a hub fault was handled (logged once, closed once).
        self._failed = False
        self._early: bytearray | None = None
        #: Frames of broadcasts waiting for this loop turn's flush (``hub.net.frames_out``).
        self._pending: list[bytes] | None = None
        self._pending_size = 0
        #: The transport's unsent bytes at the last ``_check_buffer`` (see ``queue_frame``).
        self._buffered = 0
        #: The open broadcast batch this socket receives (``hub.net.fanout``), if any.
        self.batch: Batch | None = None
        #: Set once the connection is a WebSocket (handshake accepted or pending).
        self.ws: ServerProtocol | None = None
        #: The 101 waiting for the object's answer (bytes: ``hub.net.handshake``'s).
        self._handshake: WsResponse | bytes | None = None
        self.socket_id: int | None = None
        self.object_id: ObjectId | None = None
        #: True when the client negotiated ``roost.v1`` (protocol/SPEC.md §1).
        self.v1 = False
        #: The roost.v1 session named by the client's ``hello``.
        self.session: str | None = None
        #: The token a database socket was opened with; its calls carry it (docs/databases.md).
        self.database_token: str | None = None
        #: The fragments of a message in progress: bytes, or text decoded so far
        #: (``hub.net.frames_in``).
        self._fragments: list[bytes] | list[str] = []
        self._fragment_opcode: Opcode | None = None
        self._decoder: codecs.IncrementalDecoder | None = None
        #: websockets' Close frame and EOF after a protocol error, and the error, held
        #: until the object has handled what came before (rule 8).
        self._held: list[bytes] | None = None
        self._failure: WebSocketError | None = None
        self._reported = False
        self._close_timer: asyncio.TimerHandle | None = None
        #: The request being answered (method, target, when it was read): access log.
        self._answering: tuple[str, str, float] | None = None
        #: How the socket ended, once it did (1006 until a Close was sent or received).
        self.close_code = 1006

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=self.front.limits.http_unsent_bytes)
        self.front.connection_made(self)
        if self._http is not None:
            self._http.start()

    def data_received(self, data: bytes) -> None:
        try:
            if self.ws is not None:
                if self.socket_id is None:
                    self.keep_early(data)  # frames sent before the upgrade completed
                elif self.ws.state is not CLOSED:
                    self._receive_frames(data)
            elif self._http is not None:
                self._http.received(data)
        except Exception:
            self._hub_fault()

    def keep_early(self, data: bytes) -> None:
        """Keep frames that came before the upgrade completed (bounded: rule 6)."""
        if self._early is None:
            self._early = bytearray()
        self._early += data
        self.update_reading()

    def pause_writing(self) -> None:
        # The transport's buffer passed ``http_unsent_bytes``. Only HTTP reacts here;
        # a WebSocket's buffer is bounded by ``_check_buffer``.
        if self._http is not None:
            self._http.pause_writing()

    def resume_writing(self) -> None:
        if self._http is not None:
            self._http.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._http is not None:
            self._http.close()
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._held = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self.front.socket_errored(self, failure)
        elif self.socket_id is not None and not self._reported:
            self._reported = True
            self.front.socket_closed(self, 1006, "", was_clean=False)
        self.front.connection_lost(self)

    # -- HTTP ------------------------------------------------------------------------------

    def respond(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        keep_alive: bool,
        omit_body: bool = False,
    ) -> None:
        """Write one HTTP response, then serve the next queued request (or close).

        ``omit_body``: send ``Content-Length`` of ``body`` but not the body (HEAD, 304).
        """
        if self._http is not None:
            self._http.respond(status, headers, body, keep_alive=keep_alive, omit_body=omit_body)

    def begin_answer(self, method: str, target: str) -> None:
        """A request is being answered from now on (a refusal of unread input: ``-``)."""
        if self._answering is None:
            self._answering = (method, target, time.monotonic())

    def answered(self, status: int, size: int) -> None:
        """One answer left (of ``size`` body bytes): the one place every HTTP answer and
        upgrade passes, logged here (hub/net/access.py)."""
        answering, self._answering = self._answering, None
        if answering is not None and access.enabled():
            method, target, started = answering
            access.record(method, target, status, size, started, self.transport)

    def update_reading(self) -> None:
        """Pause reading while requests or early frames pile up, or answers go unread."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._http is not None:
            pause = self._http.wants_pause
        else:  # a WebSocket, or an upgrade waiting for the object's answer
            early = self._early
            pause = (
                self.socket_id is None
                and early is not None
                and len(early) > self.front.limits.message_bytes
            )
        if pause and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not pause and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def _hub_fault(self) -> None:
        """An exception escaped the handling of this connection's input (a hub bug)."""
        if self._failed:
            return
        self._failed = True
        log.exception(
            "connection failed socket=%s",
            self.socket_id,
            extra=extra("error", self.object_id, socket=self.socket_id),
        )
        ws = self.ws
        if ws is None:
            if self._http is not None:
                self._http.fail_internal()
            return
        if self.socket_id is None or ws.state is not OPEN:
            self.abort()
            return
        ws.fail(1011)  # no reason: exception text can be sensitive
        self.close_code = 1011
        if not self._reported:
            self._reported = True
            self.front.socket_errored(self, WebSocketInternalError("internal error"))
        self._flush()

    # -- the WebSocket ----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while messages can be sent on the WebSocket (and while a failed one's
        Close waits for the replies to what came before it: rule 8)."""
        return (
            self.ws is not None
            and (self.ws.state is OPEN or self._held is not None)
            and self._handshake is None
            and self.transport is not None
            and not self.transport.is_closing()  # a reset TCP connection takes no writes
        )

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    # -- methods written in the modules of their side (module docstring) ------------------
    # Plain functions of the connection, bound here: the same one call as a method
    # defined in this class body, and no object per side (rule 1).

    begin_upgrade = upgrade.begin_upgrade
    complete_upgrade = upgrade.complete_upgrade
    reject_upgrade = upgrade.reject_upgrade

    _receive_frames = frames_in._receive_frames
    _frame = frames_in._frame
    _complete_message = frames_in._complete_message
    _hold_close = frames_in._hold_close
    _release_close = frames_in._release_close

    send_message = frames_out.send_message
    send_text = frames_out.send_text
    _send_data = frames_out._send_data
    write_frame = frames_out.write_frame
    _send_extended = frames_out._send_extended
    queue_frame = frames_out.queue_frame
    _queue = frames_out._queue
    flush_pending = frames_out.flush_pending
    write_shared = frames_out.write_shared
    close_socket = frames_out.close_socket
    _flush = frames_out._flush
    _check_buffer = frames_out._check_buffer
