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
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["MAX_FRAME", "Link"]

log = logging.getLogger("roost.cluster")

#: The largest batch a link accepts (a snapshot of a big feed table is one message).
MAX_FRAME = 256 * 1024 * 1024

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode

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
        buffer = self._buffer
        buffer += data
        offset = 0
        end = len(buffer)
        while end - offset >= 4:
            size = int.from_bytes(buffer[offset : offset + 4], "big")
            if size > MAX_FRAME:
                log.error("link frame of %d bytes is over the limit: closing", size)
                self.abort()
                return
            if end - offset - 4 < size:
                break
            try:
                batch = _decode(memoryview(buffer)[offset + 4 : offset + 4 + size])
            except msgspec.DecodeError:
                log.exception("link frame does not decode: closing")
                self.abort()
                return
            offset += 4 + size
            for message in batch:
                if self._lost:
                    return
                try:
                    self.on_message(self, tuple(message))
                except Exception:
                    log.exception("link message %r failed", message[:1])
        del buffer[:offset]

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
        self.transport.write(len(payload).to_bytes(4, "big") + payload)

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
