"""RFC 6455 conformance that Autobahn|Testsuite checks (``scripts/autobahn`` runs it
whole): frames written by hand, masked as a client's must be, on real sockets."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served

#: Autobahn 6.4.1: valid UTF-8, then a fragment that makes it invalid (U+110000).
VALID_PART = "κόσμε".encode()
INVALID_PART = b"\xf4\x90\x80\x80"


def _masked(opcode: Opcode, data: bytes, *, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=True)


async def test_data_after_the_clients_close_is_ignored_and_the_close_completes(
    serve: Serve,
) -> None:
    # Autobahn 7.1.5: a fragment, the Close, then the rest of the message.
    served = await serve()
    ws = await served.connect()
    ws.transport.write(
        _masked(Opcode.TEXT, b"echo:fragment", fin=False)
        + _masked(Opcode.CLOSE, Close(1000, "done").serialize())
        + _masked(Opcode.CONT, b" end")
    )
    assert await served.next_event("close") == ("close", 1000, "done", True, 3)
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1000
    assert served.events.empty()  # no message, no error reached the object


async def test_a_message_before_a_bad_frame_is_answered_before_the_close(serve: Serve) -> None:
    # Autobahn 3.2 / 5.15: the message is accepted, its reply precedes the Close.
    served = await serve()
    ws = await served.connect()
    ws.transport.write(_masked(Opcode.TEXT, b"echo:first") + b"\x83\x80\x00\x00\x00\x00")
    assert await within(ws.recv()) == "first"
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1002
    assert (await served.next_event("message"))[2] == "echo:first"
    assert await served.next_event("error") == ("error", "WebSocketProtocolError", 1002)


async def test_a_broadcast_before_a_bad_frame_also_precedes_the_close(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    ws.transport.write(_masked(Opcode.TEXT, b"broadcast:all") + b"\x83\x80\x00\x00\x00\x00")
    assert await within(ws.recv()) == "all"
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1002


async def test_invalid_utf8_fails_at_the_bad_fragment_with_1007(serve: Serve) -> None:
    # Autobahn 6.4.1: the Close arrives before the last fragment is sent.
    served = await serve()
    ws = await served.connect()
    ws.transport.write(_masked(Opcode.TEXT, VALID_PART, fin=False))
    ws.transport.write(_masked(Opcode.CONT, INVALID_PART, fin=False))
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1007
    assert await served.next_event("error") == ("error", "InvalidUtf8Error", 1007)


async def test_invalid_utf8_fails_inside_one_frame_still_arriving_with_1007(
    serve: Serve,
) -> None:
    # Autobahn 6.4.3 / 6.4.4: one frame, sent in pieces; the Close comes at the bad piece.
    served = await serve()
    ws = await served.connect()
    frame = _masked(Opcode.TEXT, VALID_PART + INVALID_PART + b"x" * 2000)
    head = 2 + 2 + 4  # 16-bit length, mask
    ws.transport.write(frame[: head + len(VALID_PART) + len(INVALID_PART)])
    with pytest.raises(ConnectionClosed):  # the rest of the frame is never sent
        await within(ws.recv())
    assert ws.close_code == 1007
    assert await served.next_event("error") == ("error", "InvalidUtf8Error", 1007)


async def test_a_fragmented_text_message_is_decoded_across_fragments(serve: Serve) -> None:
    served = await serve()
    ws = await served.connect()
    encoded = "echo:κόσμε €".encode()
    # Split inside multi-byte characters: each fragment alone is not valid UTF-8.
    ws.transport.write(
        _masked(Opcode.TEXT, encoded[:7], fin=False)
        + _masked(Opcode.CONT, encoded[7:14], fin=False)
        + _masked(Opcode.PING, b"p")
        + _masked(Opcode.CONT, encoded[14:])
    )
    assert await within(ws.recv()) == "κόσμε €"


async def test_websocket_error_gets_close_code_1007_and_a_stable_code(serve: Serve) -> None:
    class Strict(hub.DurableObject):
        async def websocket_error(self, ws: hub.WebSocket, error: Exception) -> None:
            assert isinstance(error, hub.WebSocketError)
            self.env.EVENTS.put_nowait(("error", error.code, error.close_code))

    served = await serve({"STRICT": Strict})
    ws = await served.connect("/objects/strict/s")
    ws.transport.write(_masked(Opcode.TEXT, b"ok \xff"))
    assert await served.next_event("error") == ("error", "invalid_utf8", 1007)
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1007


async def test_a_bad_frame_does_not_wake_an_object_without_handlers(serve: Serve) -> None:
    class Quiet(hub.DurableObject):
        async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
            ws.send(message)

    served = await serve({"QUIET": Quiet})
    ws = await served.connect("/objects/quiet/q")
    await ws.send("hi")
    assert await within(ws.recv()) == "hi"
    assert await served.app.hibernate("QUIET", "q")
    activations = len(served.lifecycle.kinds("activate"))
    ws.transport.write(b"\x83\x80\x00\x00\x00\x00")
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1002
    assert len(served.lifecycle.kinds("activate")) == activations
    assert not served.app.is_active("QUIET", "q")


_UPGRADE = (
    "{method} /objects/room/r {version}\r\n"
    "Host: 127.0.0.1\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)


async def _raw_upgrade(
    served: Served, method: str, version: str
) -> tuple[int, dict[str, str], bytes]:
    """Send an upgrade request by hand; the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.server.port)
    try:
        writer.write(_UPGRADE.format(method=method, version=version).encode())
        head = await within(reader.readuntil(b"\r\n\r\n"))
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await within(reader.readexactly(int(headers.get("content-length", "0"))))
        assert await within(reader.read()) == b""  # the hub closed the connection
        return status, headers, body
    finally:
        writer.close()


async def test_an_upgrade_that_is_not_get_gets_405_and_never_reaches_the_object(
    serve: Serve,
) -> None:
    served = await serve()
    status, headers, body = await _raw_upgrade(served, "POST", "HTTP/1.1")
    assert status == 405
    assert headers["allow"] == "GET"
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"]["code"] == "method_not_allowed"
    assert served.lifecycle.kinds("activate") == []
    assert served.events.empty()


async def test_an_upgrade_over_http_1_0_gets_400_and_never_reaches_the_object(
    serve: Serve,
) -> None:
    served = await serve()
    status, headers, body = await _raw_upgrade(served, "GET", "HTTP/1.0")
    assert status == 400
    assert headers["content-type"] == "application/json"
    error = orjson.loads(body)["error"]
    assert error["code"] == "bad_request"
    assert error["retryable"] is False
    assert served.lifecycle.kinds("activate") == []
    assert served.events.empty()
