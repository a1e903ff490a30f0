"""One TCP connection: HTTP/1.1 requests, then possibly one WebSocket.

Rules:

1. An ``asyncio.Protocol`` per connection and no task per connection: a parked socket
   costs its transport, this object and its websockets ``ServerProtocol``, nothing more.
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
   ``Limits.outbox_bytes`` unsent is closed as a slow consumer, so it never stalls a
   broadcast or grows memory.
6. HTTP is the ``HttpExchange``'s (hub/net/exchange.py: bounds, order, timeouts,
   backpressure); this class pauses reading for it, and while an upgrade waits for the
   object, once more than ``Limits.message_bytes`` of early frames are held.
7. An exception escaping the handling of a connection's input is a hub fault: it is
   logged once; a WebSocket is closed with 1011 and no reason (the object gets
   ``websocket_error``), an HTTP connection gets 500 ``internal_error`` and closes.
8. A protocol error fails the connection (RFC 6455 §7.1.7), but the messages that came
   before the bad frame were accepted: their events are handled and their replies sent
   first. websockets' Close frame and EOF are held (``_held``) until the object has
   handled what the socket submitted (``Front.after_events``), or ``DRAIN_TIMEOUT``;
   only then is the error reported and the socket forgotten.
9. Text is checked as it arrives, fragment by fragment (an incremental decoder), so
   invalid UTF-8 fails the connection with 1007 at the offending fragment (RFC 6455
   §8.1), not at the end of the message.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

import websockets.server
from websockets.datastructures import Headers as WsHeaders
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse
from websockets.protocol import CLOSED, OPEN
from websockets.typing import Subprotocol

from hub.errors import (
    InvalidUtf8Error,
    WebSocketError,
    WebSocketInternalError,
)
from hub.logs import extra
from hub.net import access, fastframes, handshake
from hub.net.exchange import HttpExchange, reason_phrase
from hub.net.http1 import ParsedRequest
from hub.net.rfc6455 import ServerProtocol, parser_problem, refuse_upgrade
from protocol import SUBPROTOCOL

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.net.fanout import Batch
    from hub.net.front import Front

__all__ = ["Connection"]

log = logging.getLogger("roost.net")

#: Close code and reason for a consumer over its send buffer (documented in README).
SLOW_CONSUMER = (1008, "slow consumer")
#: Seconds to wait for the client's Close frame after the hub sent one.
CLOSE_TIMEOUT = 5.0
#: Seconds the Close of a failed socket waits for the object to handle what came first.
DRAIN_TIMEOUT = 5.0
_UTF8 = codecs.getincrementaldecoder("utf-8")
#: websockets' own logger for its server side, looked up once (not per connection).
_WS_LOG = logging.getLogger("websockets.server")
#: The request headers websockets' handshake reads.
_HANDSHAKE = handshake.HEADERS | {"host"}


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
        #: Frames of broadcasts waiting for this loop turn's flush (see ``queue_frame``).
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
        #: The fragments of a message in progress: bytes, or text decoded so far.
        self._fragments: list[bytes] | list[str] = []
        self._fragment_opcode: Opcode | None = None
        self._decoder: codecs.IncrementalDecoder | None = None
        #: websockets' Close frame and EOF after a protocol error, and the error, held
        #: until the object has handled what came before (rule 6).
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

    # -- the WebSocket upgrade ------------------------------------------------------------

    def begin_upgrade(self, request: ParsedRequest) -> bool:
        """Check the handshake; False (after answering the client) when it is invalid.

        RFC 6455 §4.1: the upgrade is a GET over HTTP/1.1 or later. Another method gets
        405 (``method_not_allowed``, ``Allow: GET``), HTTP/1.0 gets 400 (``bad_request``);
        either way the object never sees the request.
        """
        refusal = refuse_upgrade(request)
        if refusal is not None:
            status, headers, body = refusal
            self.respond(status, headers, body, keep_alive=False)
            return False
        limits = self.front.limits
        fast = None if self.front.compression else handshake.accept(request.target, request.headers)
        if fast is not None:
            # The common valid handshake, checked and answered without websockets' HTTP
            # parser (hub/net/handshake.py); websockets then only runs the frames.
            self.ws = ServerProtocol.opened(limits.message_bytes, _WS_LOG)
            self.v1 = fast.v1
            self._handshake = fast.response
            if self._http is not None:
                self._http.close()
            self._http = None
            return True
        extensions = [ServerPerMessageDeflateFactory()] if self.front.compression else None
        protocol = ServerProtocol(
            extensions=extensions,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            select_subprotocol=_select_subprotocol,
            max_size=limits.message_bytes,
        )
        # Only the headers the handshake reads: websockets keeps this request for the
        # socket's life, and cookies or user agents would cost every parked socket.
        handshake_headers = [(k, v) for k, v in request.headers if k.lower() in _HANDSHAKE]
        protocol.receive_data(WsRequest(request.target, WsHeaders(handshake_headers)).serialize())
        (ws_request,) = protocol.events_received()
        assert isinstance(ws_request, WsRequest)
        response = protocol.accept(ws_request)
        self.v1 = protocol.subprotocol == SUBPROTOCOL
        self.ws = protocol
        if self._http is not None:
            self._http.close()
        self._http = None  # the connection is a WebSocket from here on
        if response.status_code != 101:
            protocol.send_response(response)
            self._flush()
            self.answered(response.status_code, len(response.body or b""))
            return False
        self._handshake = response
        return True

    def complete_upgrade(self, socket_id: int, object_id: ObjectId) -> None:
        """The object accepted: send 101, then handle frames that arrived early."""
        assert self.ws is not None and self._handshake is not None
        self.socket_id, self.object_id = socket_id, object_id
        if isinstance(self._handshake, bytes):  # answered by hub/net/handshake.py
            assert self.transport is not None
            self.transport.write(self._handshake)
        else:
            self.ws.send_response(self._handshake)
        self._handshake = None
        self._flush()
        self.answered(101, 0)
        if self._early:
            early, self._early = bytes(self._early), None
            self._receive_frames(early)
        self.update_reading()

    def reject_upgrade(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        """The object answered the upgrade with a plain HTTP response."""
        if self.ws is None:
            return
        response_headers = WsHeaders(list(headers))
        response_headers["Content-Length"] = str(len(body))
        response_headers["Connection"] = "close"
        self._handshake = None
        self.ws.send_response(WsResponse(status, reason_phrase(status), response_headers, body))
        self._flush()
        self.answered(status, len(body))

    # -- frames in --------------------------------------------------------------------------

    def _receive_frames(self, data: bytes) -> None:
        protocol = self.ws
        assert protocol is not None
        taken: list[tuple[str | bytes, int]] = []
        if protocol.takes_whole_frames() and not self._reported and self._fragment_opcode is None:
            # The fast path (hub/net/rfc6455.py rule 1): whole plain messages at the
            # front are taken here; websockets parses from the first other frame on.
            taken, size = fastframes.take_messages(data, protocol.frame_limit)
            data = data[size:] if size else data
        if data:
            # Everything is parsed before anything is handled, as when websockets
            # parses it all: a Close later in ``data`` is seen before the messages'
            # replies (which a closing socket no longer sends).
            protocol.receive_data(data)
        for message, size in taken:
            if self._reported:
                break  # as in ``_frame``: no data is handled after a close
            self.front.socket_message(self, message, size)
        problem = None
        for event in protocol.events_received():
            if isinstance(event, Frame):
                problem = self._frame(event)
                if problem is not None:
                    break  # invalid UTF-8: the frames after it are not read
        if protocol.parser_exc is not None and (problem is not None or not self._reported):
            # websockets failed on a later frame: its Close is queued, and it is the error.
            problem = parser_problem(protocol.parser_exc)
        elif problem is not None and protocol.state is OPEN:
            self._flush()  # pongs queued before the bad frame go out first
            protocol.fail(problem.close_code, "invalid UTF-8")
        if problem is not None:
            self._hold_close(problem)
        self._flush()

    def _frame(self, frame: Frame) -> WebSocketError | None:
        """Handle one frame; an error when it fails the connection (invalid UTF-8)."""
        opcode = frame.opcode
        if opcode is Opcode.CLOSE:
            self._fragments, self._fragment_opcode, self._decoder = [], None, None
            if not self._reported:
                self._reported = True
                close = self.ws.close_rcvd if self.ws is not None else None
                code, reason = (close.code, close.reason) if close is not None else (1005, "")
                self.close_code = code
                if self.socket_id is not None:
                    self.front.socket_closed(self, code, reason, was_clean=True)
            return None
        if self._reported or opcode is Opcode.PING or opcode is Opcode.PONG:
            return None  # RFC 6455 §5.5.1: no data after a Close; websockets answers pings
        if opcode is not Opcode.CONT:
            if frame.fin:  # a whole message in one frame: the common case
                data = bytes(frame.data)
                if opcode is Opcode.BINARY:
                    self.front.socket_message(self, data, len(data))
                    return None
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    return InvalidUtf8Error("invalid UTF-8 in a text message")
                self.front.socket_message(self, text, len(data))
                return None
            self._fragment_opcode, self._fragments = opcode, []
            self._decoder = _UTF8() if opcode is Opcode.TEXT else None
        elif self._fragment_opcode is None:
            return None  # websockets fails a continuation with nothing to continue
        if self._decoder is None:
            cast(list[bytes], self._fragments).append(bytes(frame.data))
        else:
            try:  # now, so that a bad fragment fails before the rest is sent
                text = self._decoder.decode(frame.data, frame.fin)
            except UnicodeDecodeError:
                return InvalidUtf8Error("invalid UTF-8 in a text message")
            cast(list[str], self._fragments).append(text)
        if frame.fin:
            self._complete_message()
        return None

    def _complete_message(self) -> None:
        fragments, self._fragments = self._fragments, []
        text, self._fragment_opcode, self._decoder = self._decoder is not None, None, None
        if text:
            message = "".join(cast(list[str], fragments))
            size = len(message) if message.isascii() else len(message.encode("utf-8"))
            self.front.socket_message(self, message, size)
        else:
            data = b"".join(cast(list[bytes], fragments))
            self.front.socket_message(self, data, len(data))

    def _hold_close(self, problem: WebSocketError) -> None:
        """websockets failed the connection: hold its Close and EOF (rule 6)."""
        ws = self.ws
        assert ws is not None
        self._reported = True
        self.close_code = problem.close_code
        chunks = ws.data_to_send()
        # fail() queued the Close frame, then EOF, last (RFC 6455 §7.1.7).
        split = len(chunks)
        if split >= 2 and chunks[-1] == b"" and chunks[-2][:1] == _CLOSE_FIRST:
            split -= 2
        transport = self.transport
        if transport is not None:
            self.flush_pending()
            for data in chunks[:split]:
                transport.write(data)
        self._held, self._failure = chunks[split:], problem
        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(DRAIN_TIMEOUT, self._release_close)
        self.front.after_events(self, self._release_close)

    def _release_close(self) -> None:
        """Send the held Close, end TCP, report the error (once)."""
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        held, self._held = self._held, None
        failure, self._failure = self._failure, None
        transport = self.transport
        if held is not None and transport is not None and not transport.is_closing():
            self.flush_pending()
            for data in held:
                if data:
                    transport.write(data)
                else:
                    transport.close()  # SEND_EOF: the server closes TCP (RFC 6455 §7.1.1)
        if failure is not None:
            self.front.socket_errored(self, failure)

    # -- frames out -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while messages can be sent on the WebSocket (and while a failed one's
        Close waits for the replies to what came before it: rule 6)."""
        return (
            self.ws is not None
            and (self.ws.state is OPEN or self._held is not None)
            and self._handshake is None
            and self.transport is not None
            and not self.transport.is_closing()  # a reset TCP connection takes no writes
        )

    def send_message(self, data: str | bytes) -> None:
        """Frame and send one message: ``str`` as text, ``bytes`` as binary."""
        if isinstance(data, str):
            self._send_data(_TEXT_FIN, data.encode("utf-8"))
        else:
            self._send_data(_BINARY_FIN, data)

    def send_text(self, payload: bytes) -> None:
        """Send one text frame from UTF-8 bytes already encoded (roost.v1 frames)."""
        self._send_data(_TEXT_FIN, payload)

    def _send_data(self, first: int, payload: bytes) -> None:
        """Send one data frame (``first``: its first byte, FIN and opcode).

        Without an extension the frame is built here (RFC 6455 §5.2: a server's frames
        are not masked) and written at once, after any queued broadcast frames: about a
        fifth of what framing through websockets' ``send_text`` costs, on every
        ``ws.send`` and every ``roost.v1`` answer. websockets' state is unaffected: a
        data frame does not change it (as for broadcast frames, ``write_frame``).
        """
        if not self.is_open:
            return
        ws = self.ws
        assert ws is not None
        if ws.extensions:
            self._send_extended(Opcode.TEXT if first == _TEXT_FIN else Opcode.BINARY, payload)
            return
        transport = self.transport
        assert transport is not None
        if self._pending is not None or self.batch is not None:
            self.flush_pending()  # queued broadcast frames go first: order is kept
        transport.write(_data_frame(first, payload))
        self._check_buffer()

    def write_frame(self, frame: bytes, opcode: Opcode, payload: bytes) -> None:
        """Send a frame built once for many sockets (or frame it here if compressed).

        This runs once per recipient of every broadcast, so it checks only what
        ``is_open`` checks without a call; a transport that started closing since is
        skipped when the queue is flushed (``flush_pending``).
        """
        ws = self.ws
        if ws is None or self._handshake is not None:
            return
        if (ws.state is not OPEN and self._held is None) or self.transport is None:
            return
        if ws.extensions:
            self._send_extended(opcode, payload)
        else:
            self.queue_frame(frame)

    def _send_extended(self, opcode: Opcode, payload: bytes) -> None:
        """Frame one message through websockets, for its extensions (compression)."""
        ws = self.ws
        assert ws is not None
        if ws.state is OPEN:
            if opcode is Opcode.TEXT:
                ws.send_text(payload)
            else:
                ws.send_binary(payload)
        else:  # failed, its Close held (rule 6): websockets refuses send_text now
            ws.send_frame(Frame(opcode, payload))
        self._flush()

    def queue_frame(self, frame: bytes) -> None:
        """Queue a ready frame; the front flushes every queued socket once per loop turn.

        Broadcasts handled in one turn of the event loop then cost each recipient one
        ``write`` system call instead of one per message (the bulk of fan-out's cost).
        Frames an open broadcast batch owes this socket go first (``hub.net.fanout``).
        """
        if self.batch is not None:
            owed = self.batch.take(self)
            if owed:
                self._queue(b"".join(owed))
        self._queue(frame)

    def _queue(self, frame: bytes) -> None:
        if self._pending is None:
            self._pending = [frame]
            self.front.flush_later(self)
        else:
            self._pending.append(frame)
        self._pending_size += len(frame)
        # The transport's buffer only changes when written to (at the flush), so the
        # bound is checked against its size as of then: no call per queued frame.
        if self._buffered + self._pending_size > self.front.limits.outbox_bytes:
            self._check_buffer()

    def flush_pending(self) -> None:
        """Write the queued frames in one call (before anything else is written), and
        those an open broadcast batch owes this socket (``hub.net.fanout`` rule 1)."""
        pending, self._pending, self._pending_size = self._pending, None, 0
        if self.batch is not None:
            owed = self.batch.take(self)
            if owed:
                pending = owed if pending is None else pending + owed
        transport = self.transport
        if pending is None or transport is None or transport.is_closing():
            return
        transport.write(pending[0] if len(pending) == 1 else b"".join(pending))
        self._check_buffer()

    def write_shared(self, data: bytes) -> None:
        """Write a broadcast batch's frames (``hub.net.fanout``), after anything queued;
        skipped as ``write_frame`` skips, and bounded as ``queue_frame`` bounds."""
        ws = self.ws
        if ws is None or self._handshake is not None:
            return
        if ws.state is not OPEN and self._held is None:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._pending is not None:
            self.flush_pending()
        if self._buffered + len(data) > self.front.limits.outbox_bytes:
            self._pending_size = len(data)  # counted as queued: over the bound, closed
            self._check_buffer()
            self._pending_size = 0
            if transport.is_closing():
                return
        transport.write(data)
        self._check_buffer()

    def close_socket(self, code: int, reason: str) -> None:
        """Start the closing handshake; the TCP connection ends when the client answers."""
        if not self.is_open or self._held is not None:
            return  # closed, or a failed socket's Close is already on its way (rule 6)
        assert self.ws is not None
        self._reported = True  # a close the hub asked for is not reported back
        self.close_code = code
        self.ws.send_close(code, reason)
        self._flush()
        self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.abort)

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    def _flush(self) -> None:
        transport = self.transport
        if transport is None or self.ws is None:
            return
        self.flush_pending()  # queued broadcast frames go first: order is kept
        for data in self.ws.data_to_send():
            if data:
                transport.write(data)
            else:
                transport.close()  # SEND_EOF: the server closes TCP (RFC 6455 §7.1.1)
        self._check_buffer()

    def _check_buffer(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._buffered = transport.get_write_buffer_size()
        if self._buffered + self._pending_size > self.front.limits.outbox_bytes:
            log.warning("closing slow consumer socket=%s", self.socket_id)
            self.close_code = SLOW_CONSUMER[0]
            if self.socket_id is not None and not self._reported:
                self._reported = True
                self.front.socket_closed(self, *SLOW_CONSUMER, was_clean=False, slow=True)
            self._pending, self._pending_size = None, 0
            transport.abort()


_TEXT_FIN = 0x80 | Opcode.TEXT.value
#: The first byte of a Close frame (FIN, opcode 8), as websockets' ``fail`` queues it.
_CLOSE_FIRST = bytes((0x80 | Opcode.CLOSE.value,))
_BINARY_FIN = 0x80 | Opcode.BINARY.value


def _data_frame(first: int, payload: bytes) -> bytes:
    """An unmasked single-frame message (RFC 6455 §5.2): header, then ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


def _select_subprotocol(
    _protocol: websockets.server.ServerProtocol, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    # roost.v1 when the client offers it; otherwise a plain socket (SPEC §1.2), rather
    # than websockets' default of refusing a client that offers no known subprotocol.
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None
