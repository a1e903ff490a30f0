"""Frames out of a connection's WebSocket: framing, the loop turn's queue, the send-buffer
bound, the closing handshake.

These are methods of ``hub.net.connection.Connection``, written as functions of it
(``self: Connection``) and bound in its class body. The outgoing side is a module, not
an object of its own: a parked socket costs nothing more (connection rule 1), and a
caller reaches this code in the one call it always took.

Rules:

1. The send buffer is bounded (connection rule 5): a socket whose transport holds more
   than ``Limits.outbox_bytes`` unsent, counting the frames queued for this loop turn,
   is closed as a slow consumer (``SLOW_CONSUMER``), so it never stalls a broadcast or
   grows memory.
2. Order is kept per socket: the frames queued for the end of the loop turn
   (``queue_frame``), and those an open broadcast batch owes the socket
   (``hub.net.fanout`` rule 1), are written before anything else is.
3. The queue (``_pending``, ``_pending_size``) and the unsent bytes last seen
   (``_buffered``) change only here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

if TYPE_CHECKING:
    from hub.net.connection import Connection

__all__ = [
    "CLOSE_TIMEOUT",
    "SLOW_CONSUMER",
    "close_socket",
    "flush_pending",
    "queue_frame",
    "send_message",
    "send_text",
    "write_frame",
    "write_shared",
]

log = logging.getLogger("roost.net")

#: Close code and reason for a consumer over its send buffer (documented in README).
SLOW_CONSUMER = (1008, "slow consumer")
#: Seconds to wait for the client's Close frame after the hub sent one.
CLOSE_TIMEOUT = 5.0


def send_message(self: Connection, data: str | bytes) -> None:
    """Frame and send one message: ``str`` as text, ``bytes`` as binary."""
    if isinstance(data, str):
        self._send_data(_TEXT_FIN, data.encode("utf-8"))
    else:
        self._send_data(_BINARY_FIN, data)


def send_text(self: Connection, payload: bytes) -> None:
    """Send one text frame from UTF-8 bytes already encoded (roost.v1 frames)."""
    self._send_data(_TEXT_FIN, payload)


def _send_data(self: Connection, first: int, payload: bytes) -> None:
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


def write_frame(self: Connection, frame: bytes, opcode: Opcode, payload: bytes) -> None:
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


def _send_extended(self: Connection, opcode: Opcode, payload: bytes) -> None:
    """Frame one message through websockets, for its extensions (compression)."""
    ws = self.ws
    assert ws is not None
    if ws.state is OPEN:
        if opcode is Opcode.TEXT:
            ws.send_text(payload)
        else:
            ws.send_binary(payload)
    else:  # failed, its Close held (hub.net.frames_in rule 2): websockets refuses send_text
        ws.send_frame(Frame(opcode, payload))
    self._flush()


def queue_frame(self: Connection, frame: bytes) -> None:
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


def _queue(self: Connection, frame: bytes) -> None:
    """Add ``frame`` to the loop turn's queue, within the bound (rule 1)."""
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


def flush_pending(self: Connection) -> None:
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


def write_shared(self: Connection, data: bytes) -> None:
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


def close_socket(self: Connection, code: int, reason: str) -> None:
    """Start the closing handshake; the TCP connection ends when the client answers."""
    if not self.is_open or self._held is not None:
        return  # closed, or a failed socket's Close is already on its way (frames_in rule 2)
    assert self.ws is not None
    self._reported = True  # a close the hub asked for is not reported back
    self.close_code = code
    self.ws.send_close(code, reason)
    self._flush()
    self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.abort)


def _flush(self: Connection) -> None:
    """Write what websockets queued (a handshake answer, pongs, a Close, EOF), after
    the queued broadcast frames (rule 2)."""
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


def _check_buffer(self: Connection) -> None:
    """Close the socket as a slow consumer if it is over its send buffer (rule 1)."""
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
_BINARY_FIN = 0x80 | Opcode.BINARY.value


def _data_frame(first: int, payload: bytes) -> bytes:
    """An unmasked single-frame message (RFC 6455 §5.2): header, then ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload
