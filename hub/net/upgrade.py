"""The opening handshake of a connection's WebSocket (RFC 6455 §4): checked when the
upgrade request is read, answered when its object accepts or refuses it.

These are methods of ``hub.net.connection.Connection``, written as functions of it
(``self: Connection``) and bound in its class body, as ``hub.net.frames_in``'s and
``hub.net.frames_out``'s are.

Rules:

1. An upgrade RFC 6455 §4.1 rules out is refused here (``rfc6455.refuse_upgrade``) and
   its object never sees it. A plainly valid one is checked and answered by
   ``hub.net.handshake``; every other one by websockets' ``ServerProtocol``, whose
   answers (400, 426, ...) are the only refusals of a bad handshake (connection rule 2).
2. Past that check the connection is a WebSocket: its ``HttpExchange`` is dropped, and
   frames that come before the object's answer are kept (connection rule 6) and handled
   once the 101 is written.
3. websockets keeps the request it parses for the socket's life, so it gets only the
   headers its handshake reads: cookies or user agents would cost every parked socket
   (connection rule 1).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import websockets.server
from websockets.datastructures import Headers as WsHeaders
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse
from websockets.typing import Subprotocol

from hub.net import handshake
from hub.net.exchange import reason_phrase
from hub.net.rfc6455 import ServerProtocol, refuse_upgrade
from protocol import SUBPROTOCOL

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.net.connection import Connection
    from hub.net.http1 import ParsedRequest

__all__ = ["begin_upgrade", "complete_upgrade", "reject_upgrade"]

#: websockets' own logger for its server side, looked up once (not per connection).
_WS_LOG = logging.getLogger("websockets.server")
#: The request headers websockets' handshake reads.
_HANDSHAKE = handshake.HEADERS | {"host"}


def begin_upgrade(self: Connection, request: ParsedRequest) -> bool:
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


def complete_upgrade(self: Connection, socket_id: int, object_id: ObjectId) -> None:
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


def reject_upgrade(
    self: Connection, status: int, headers: Iterable[tuple[str, str]], body: bytes
) -> None:
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


def _select_subprotocol(
    _protocol: websockets.server.ServerProtocol, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    # roost.v1 when the client offers it; otherwise a plain socket (SPEC §1.2), rather
    # than websockets' default of refusing a client that offers no known subprotocol.
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None
