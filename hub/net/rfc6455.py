"""What RFC 6455 asks of the server beyond websockets' sans-I/O ``ServerProtocol``.

Rules:

1. These are checks and mappings, never a second frame parser: websockets parses.
2. An upgrade is refused here before the object sees it; the answer is JSON with a
   stable code, as every other HTTP error.
"""

from __future__ import annotations

import websockets.server
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode

from hub.errors import (
    BadRequestError,
    HubError,
    InvalidUtf8Error,
    MessageTooBigError,
    MethodNotAllowedError,
    WebSocketError,
    WebSocketProtocolError,
)
from hub.net.answers import error_response
from hub.net.http1 import ParsedRequest

__all__ = ["ServerProtocol", "parser_problem", "refuse_upgrade"]


def parser_problem(error: Exception) -> WebSocketError:
    """What websockets' parser failed on, as the error the object gets."""
    if isinstance(error, PayloadTooBig):
        return MessageTooBigError(str(error))
    if isinstance(error, UnicodeDecodeError):  # a close reason (RFC 6455 §5.5.1)
        return InvalidUtf8Error("invalid UTF-8 in a close reason")
    return WebSocketProtocolError(str(error))


class ServerProtocol(websockets.server.ServerProtocol):
    """websockets' server side, except that a Close frame may end a fragmented message.

    RFC 6455 §5.4 allows control frames between the fragments of a message; websockets
    fails the connection with 1002 ("incomplete fragmented message") when the one in
    between is a Close. Here the unfinished message is dropped and the closing
    handshake completes with the client's code (Autobahn case 7.1.5).
    """

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.current_size = None
        super().recv_frame(frame)


def refuse_upgrade(request: ParsedRequest) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The answer to an upgrade request that RFC 6455 §4.1 rules out, else None."""
    if request.method != "GET":
        refusal: HubError = MethodNotAllowedError(
            f"a WebSocket upgrade must be a GET request, got {request.method!r}"
        )
        status, headers, body = error_response(refusal)
        return status, [("Allow", "GET"), *headers], body
    if request.version < (1, 1):
        major, minor = request.version
        refusal = BadRequestError(f"a WebSocket upgrade needs HTTP/1.1, got HTTP/{major}.{minor}")
        return error_response(refusal)
    return None
