"""The local link between a gateway and a worker: ordered, batched message frames.

Rules:

1. One link is one Unix stream connection. Both directions carry *batches*: every
   message sent during one loop turn is written as one frame, a 4-byte big-endian
   length and a msgpack array of messages (msgspec). A message is a tuple whose first
   item is its kind (``hub.cluster.messages``); only builtins cross (str and bytes stay
   distinct, which JSON could not do).
2. Order is kept: messages are handled in the order they were sent.
3. A frame over ``MAX_FRAME`` or one that does not decode ends the link; the other side
   sees it lost, as after a crash.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["MAX_FRAME", "Link"]

log = logging.getLogger("roost.cluster")

#: The largest batch a link accepts (a snapshot of a big feed table is one message).
MAX_FRAME = 256 * 1024 * 1024

_encode = msgspec.msgpack.Encoder().encode
#: A batch decodes as a list of tuples (the messages; what they hold stays as msgpack
#: gives it: arrays inside are lists), so no message is copied into a tuple here.
_decode = msgspec.msgpack.Decoder(list[tuple[Any, ...]]).decode
_LENGTH = struct.Struct(">I")

Message = tuple[Any, ...]


class Link(asyncio.Protocol):
    """One end of a gateway-worker connection.

    ``on_message(link, message)`` gets every message in order; ``on_lost(link)`` once,
    when the connection is gone (closed by either side, or the process died).
    """

    def __init__(
        self,
        on_message: Callable[[Link, Message], None],
        on_lost: Callable[[Link], None],
    ) -> None:
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._out: list[Message] = []
        self._flush_scheduled = False
        self._lost = False
        self.closed = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        #: Free for the owner: which worker or gateway is at the other end.
        self.peer: Any = None

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        # Frames are decoded straight from ``data`` when nothing is buffered (the usual
        # case: a read holds whole frames); only a partial frame is copied and kept.
        buffer = self._buffer
        if buffer:
            buffer += data
            view = memoryview(buffer)
        else:
            view = memoryview(data)
        try:
            offset = self._read_frames(view)
        finally:
            view.release()  # a bytearray cannot be resized while a view of it exists
        if buffer:
            del buffer[:offset]
        elif offset < len(data) and not self._lost:
            buffer += data[offset:]

    def _read_frames(self, view: memoryview) -> int:
        """Deliver the messages of every whole frame in ``view``; the bytes consumed."""
        on_message = self.on_message
        offset = 0
        end = len(view)
        while end - offset >= 4:
            (size,) = _LENGTH.unpack_from(view, offset)
            if size > MAX_FRAME:
                log.error("link frame of %d bytes is over the limit: closing", size)
                self.abort()
                return end
            if end - offset - 4 < size:
                break
            try:
                batch = _decode(view[offset + 4 : offset + 4 + size])
            except msgspec.DecodeError:
                log.exception("link frame does not decode: closing")
                self.abort()
                return end
            offset += 4 + size
            for message in batch:
                if self._lost:
                    return end
                try:
                    on_message(self, message)
                except Exception:
                    log.exception("link message %r failed", message[:1])
        return offset

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self.transport = None
        self._out.clear()
        self.closed.set()
        self._writable.set()
        self.on_lost(self)

    # -- sending ------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True until the connection is lost."""
        return not self._lost and self.transport is not None

    def send(self, message: Message) -> None:
        """Queue ``message``; the batch is written at the end of this loop turn."""
        if self._lost:
            return
        self._out.append(message)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the queued messages now, as one frame."""
        self._flush_scheduled = False
        if not self._out or self.transport is None:
            return
        batch, self._out = self._out, []
        try:
            payload = _encode(batch)
        except (TypeError, ValueError, OverflowError):  # a bug: say which, keep the others
            kept = []
            for message in batch:
                try:
                    _encode(message)
                except (TypeError, ValueError, OverflowError):
                    log.exception("link message %r cannot be encoded: dropped", message[:1])
                else:
                    kept.append(message)
            payload = _encode(kept)
        self.transport.write(_LENGTH.pack(len(payload)) + payload)

    async def drain(self) -> None:
        """Flush, then wait while the transport's buffer is over its high-water mark
        (``close`` still writes what is buffered before it closes)."""
        self.flush()
        await self._writable.wait()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def close(self) -> None:
        """Flush and close (the peer sees the link lost after what was sent)."""
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once."""
        if self.transport is not None:
            self.transport.abort()
