"""``WebSocket``: an object's handle on one of its sockets.

A handle is only a socket id plus the way to reach the front, so it stays valid
across hibernation: after a wake, ``ctx.get_websockets()`` returns handles equal to the
ones from before. ``send`` and ``close`` go through the output gate of the event that
called them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from hub.errors import LimitExceededError
from hub.jsonvalues import decode_value, encode_value

if TYPE_CHECKING:
    from hub.limits import Limits
    from hub.runtime.ports import SocketPort

__all__ = ["CLOSE_CODES_ALLOWED", "ClosedSocket", "WebSocket"]

#: Codes an object may close with: 1000 or the registered/private range (RFC 6455 §7.4).
CLOSE_CODES_ALLOWED = "1000 or 3000-4999"


class ClosedSocket:
    """What is left of a socket in ``websocket_close`` / ``websocket_error``: its last
    tags and attachment, so the handler can still tell who left."""

    __slots__ = ("attachment", "tags")

    def __init__(self, tags: tuple[str, ...], attachment: bytes | None) -> None:
        self.tags = tags
        self.attachment = attachment


class WebSocket:
    """A hibernatable WebSocket of an object."""

    __slots__ = ("_closed", "_limits", "_output", "_port", "_presence", "socket_id")

    def __init__(
        self,
        port: SocketPort,
        socket_id: int,
        output: Callable[[Callable[[], None]], None],
        limits: Limits,
        closed: ClosedSocket | None = None,
        *,
        presence: bool = False,
    ) -> None:
        self._port = port
        self.socket_id = socket_id
        self._output = output
        self._limits = limits
        self._closed = closed
        #: The attachment is also the presence state (``presence_from_attachment``).
        self._presence = presence

    @property
    def ready_state(self) -> int:
        """1 OPEN, 2 CLOSING, 3 CLOSED."""
        if self._closed is not None:
            return 3
        return self._port.ready_state(self.socket_id)

    def current_tags(self) -> tuple[str, ...]:
        """The socket's tags (its last ones once it closed); ``ctx.get_tags(ws)``."""
        if self._closed is not None:
            return self._closed.tags
        return self._port.tags(self.socket_id)

    def send(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message after this event commits."""
        data: str | bytes
        if isinstance(message, str):
            data = message
            # An ASCII text's length is its size in UTF-8: no copy to measure it.
            size = len(data) if data.isascii() else len(data.encode("utf-8"))
        elif isinstance(message, bytes | bytearray | memoryview):
            data = bytes(message)
            size = len(data)
        else:
            raise TypeError(f"message must be str or bytes, got {type(message).__name__}")
        if size > self._limits.message_bytes:
            raise LimitExceededError(
                f"message too large: {size} bytes, expected at most {self._limits.message_bytes}"
            )
        self._output(partial(self._port.send, self.socket_id, data))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` (1000 or 3000-4999) and ``reason`` after this event commits."""
        if not isinstance(code, int) or not (code == 1000 or 3000 <= code <= 4999):
            raise ValueError(f"close code must be {CLOSE_CODES_ALLOWED}, got {code!r}")
        size = len(reason.encode("utf-8"))
        if size > self._limits.close_reason_bytes:
            raise LimitExceededError(
                f"close reason too large: {size} bytes, "
                f"expected at most {self._limits.close_reason_bytes}"
            )
        port, socket_id = self._port, self.socket_id
        self._output(lambda: port.close(socket_id, code, reason))

    def serialize_attachment(self, value: Any) -> None:
        """Keep ``value`` with the socket, across hibernation (JSON; 16 KiB by default).

        With ``presence_from_attachment`` on the object class, it is also the socket's
        presence state, published when the event commits.
        """
        data = (
            None
            if value is None
            else encode_value(value, "attachment", self._limits.attachment_bytes)
        )
        if self._closed is not None:
            self._closed.attachment = data
            return
        self._port.set_attachment(self.socket_id, data)
        if self._presence:
            port, socket_id = self._port, self.socket_id
            self._output(lambda: port.set_presence(socket_id, data))

    def deserialize_attachment(self) -> Any:
        """The value given to ``serialize_attachment``, or None (also once closed)."""
        if self._closed is not None:
            data = self._closed.attachment
        else:
            data = self._port.attachment(self.socket_id)
        return None if data is None else decode_value(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WebSocket):
            return NotImplemented
        return self.socket_id == other.socket_id

    def __hash__(self) -> int:
        return hash(self.socket_id)

    def __repr__(self) -> str:
        return f"<WebSocket {self.socket_id} state={self.ready_state}>"
