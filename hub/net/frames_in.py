"""Frames in on a connection's WebSocket: whole messages handed to the front, text
checked as it arrives, the Close of a failed socket held until what came before it was
handled.

These are methods of ``hub.net.connection.Connection``, written as functions of it
(``self: Connection``) and bound in its class body, as ``hub.net.frames_out``'s are: no
object of its own per socket (connection rule 1), and ``data_received`` reaches this
code in the one call it always made.

Rules:

1. Text is checked as it arrives, fragment by fragment (an incremental decoder), so
   invalid UTF-8 fails the connection with 1007 at the offending fragment (RFC 6455
   §8.1), not at the end of the message (connection rule 9).
2. A protocol error fails the connection (RFC 6455 §7.1.7), but the messages that came
   before the bad frame were accepted: their events are handled and their replies sent
   first. websockets' Close frame and EOF are held (``_held``) until the object has
   handled what the socket submitted (``Front.after_events``), or ``DRAIN_TIMEOUT``;
   only then is the error reported and the socket forgotten (connection rule 8).
3. No message is handed to the front once the socket's end is known (``_reported``: a
   Close received or sent, a failure, a slow consumer), RFC 6455 §5.5.1; websockets
   answers pings itself.
4. The message in progress (``_fragments``, ``_fragment_opcode``, ``_decoder``) and the
   held Close (``_held``, ``_failure``) change only here, and when the connection is lost.
"""

from __future__ import annotations

import asyncio
import codecs
from typing import TYPE_CHECKING, cast

from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

from hub.errors import InvalidUtf8Error, WebSocketError
from hub.net import fastframes
from hub.net.rfc6455 import parser_problem

if TYPE_CHECKING:
    from hub.net.connection import Connection

__all__ = ["DRAIN_TIMEOUT"]

#: Seconds the Close of a failed socket waits for the object to handle what came first.
DRAIN_TIMEOUT = 5.0
_UTF8 = codecs.getincrementaldecoder("utf-8")
#: The first byte of a Close frame (FIN, opcode 8), as websockets' ``fail`` queues it.
_CLOSE_FIRST = bytes((0x80 | Opcode.CLOSE.value,))


def _receive_frames(self: Connection, data: bytes) -> None:
    """Hand the messages in ``data`` to the front; fail the socket on a bad frame."""
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


def _frame(self: Connection, frame: Frame) -> WebSocketError | None:
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


def _complete_message(self: Connection) -> None:
    """Hand the fragmented message just completed to the front."""
    fragments, self._fragments = self._fragments, []
    text, self._fragment_opcode, self._decoder = self._decoder is not None, None, None
    if text:
        message = "".join(cast(list[str], fragments))
        size = len(message) if message.isascii() else len(message.encode("utf-8"))
        self.front.socket_message(self, message, size)
    else:
        data = b"".join(cast(list[bytes], fragments))
        self.front.socket_message(self, data, len(data))


def _hold_close(self: Connection, problem: WebSocketError) -> None:
    """websockets failed the connection: hold its Close and EOF (rule 2)."""
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


def _release_close(self: Connection) -> None:
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
