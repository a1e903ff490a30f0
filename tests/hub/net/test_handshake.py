"""The opening handshake's fast path (hub/net/handshake.py) answers exactly as websockets
would, and leaves every request it is not sure of to websockets (pure: no server)."""

from __future__ import annotations

import asyncio
import re

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from hub.net.handshake import accept, accept_key
from protocol import SUBPROTOCOL
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
BASE = [
    ("Host", "127.0.0.1:8787"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
]


def websockets_answer(headers: list[tuple[str, str]]) -> bytes:
    """What websockets' ServerProtocol answers, as the hub configures it."""
    protocol = ServerProtocol(
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        select_subprotocol=lambda _, offered: (
            Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None
        ),
    )
    response = protocol.accept(Request("/objects/room/a", Headers(headers)))
    return response.serialize()


def without_date(answer: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"", answer)


def test_rfc_6455_sample_key() -> None:
    # RFC 6455 §1.3's example.
    assert accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(
    "extra",
    [
        [],
        [("Sec-WebSocket-Protocol", SUBPROTOCOL)],
        [("Sec-WebSocket-Protocol", f"chat, {SUBPROTOCOL}")],
        [("Sec-WebSocket-Protocol", "chat"), ("Sec-WebSocket-Protocol", SUBPROTOCOL)],
        [("Sec-WebSocket-Protocol", "chat")],
        [("Origin", "https://example.com"), ("Cookie", "a=b"), ("User-Agent", "x")],
        [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")],
    ],
)
def test_a_valid_handshake_gets_the_answer_websockets_gives(extra: list[tuple[str, str]]) -> None:
    headers = [*BASE, *extra]
    accepted = accept("/objects/room/a", headers)
    assert accepted is not None
    assert without_date(accepted.response) == without_date(websockets_answer(headers))
    assert re.search(rb"\r\nDate: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT\r\n", accepted.response)
    assert accepted.v1 == (b"Sec-WebSocket-Protocol: roost.v1" in accepted.response)


def test_header_names_are_case_insensitive_and_values_trimmed() -> None:
    headers = [
        ("host", "h"),
        ("upgrade", " WebSocket "),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-key", KEY),
        ("sec-websocket-version", "13"),
    ]
    accepted = accept("/", headers)
    assert accepted is not None and not accepted.v1
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in accepted.response


def replaced(name: str, *values: str) -> list[tuple[str, str]]:
    """BASE with the header ``name`` given ``values`` (none: left out)."""
    return [(n, v) for n, v in BASE if n != name] + [(name, v) for v in values]


@pytest.mark.parametrize(
    "headers",
    [
        replaced("Upgrade"),
        replaced("Upgrade", "h2c"),
        replaced("Upgrade", "websocket", "websocket"),
        replaced("Upgrade", "websocket, h2c"),
        replaced("Connection"),
        replaced("Connection", "keep-alive"),
        replaced("Connection", "upgrade, bad token"),
        replaced("Sec-WebSocket-Key"),
        replaced("Sec-WebSocket-Key", KEY, KEY),
        replaced("Sec-WebSocket-Key", "not base64 at all!!!!!!!"),
        replaced("Sec-WebSocket-Key", "c2hvcnQ="),
        replaced("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=é"),
        replaced("Sec-WebSocket-Version"),
        replaced("Sec-WebSocket-Version", "8"),
        replaced("Sec-WebSocket-Version", "13", "13"),
        [*BASE, ("Origin", "https://a"), ("Origin", "https://b")],
        [*BASE, ("Sec-WebSocket-Protocol", "roost.v1, a b")],
        [*BASE, ("Origin", "https://a\x01")],
    ],
)
def test_anything_unusual_is_left_to_websockets(headers: list[tuple[str, str]]) -> None:
    assert accept("/objects/room/a", headers) is None


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        "AAAAAAAAAAAAAAAAAAAAAB==",  # non-zero padding bits: websockets accepts them too
        "+/+/+/+/+/+/+/+/+/+/+/==",
        "AAAAAAAAAAAAAAAAAAAAAAA=",  # 17 bytes
        "AAAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAA-_==",  # the URL-safe alphabet is not base64 here
    ],
)
def test_keys_are_judged_as_websockets_judges_them(key: str) -> None:
    headers = replaced("Sec-WebSocket-Key", key)
    websockets_accepts = websockets_answer(headers).startswith(b"HTTP/1.1 101")
    assert (accept("/", headers) is not None) == websockets_accepts


def test_a_very_long_target_is_left_to_websockets() -> None:
    assert accept("/" + "a" * 9000, BASE) is None
    assert accept("/" + "a" * 100, BASE) is not None


# -- through a real hub: the fast path and websockets' path, side by side ------------------


async def _raw(served: Served, headers: list[tuple[str, str]], then: bytes = b"") -> bytes:
    """Send an upgrade by hand (and ``then`` right after it); the answer's head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.server.port)
    try:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
        writer.write(f"GET /objects/room/r?greet=you HTTP/1.1\r\n{lines}\r\n".encode() + then)
        head = await within(reader.readuntil(b"\r\n\r\n"))
        if head.startswith(b"HTTP/1.1 101"):  # then the greeting (and the answer to ``then``)
            for _ in range(2 if then else 1):
                frame = await within(reader.readexactly(2))  # unmasked, under 126 bytes
                head += frame + await within(reader.readexactly(frame[1]))
        return head
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_fast_path_opens_a_roost_v1_socket(serve: Serve) -> None:
    served = await serve()
    answer = await _raw(served, [*BASE, ("Sec-WebSocket-Protocol", SUBPROTOCOL)])
    assert answer.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"\r\nSec-WebSocket-Protocol: roost.v1\r\n" in answer
    assert b'"t":"msg"' in answer and b"welcome you" in answer  # a roost.v1 msg frame


async def test_the_fast_path_keeps_frames_sent_before_the_101(serve: Serve) -> None:
    served = await serve()
    masked_ping = bytes([0x89, 0x80, 1, 2, 3, 4])  # a ping, empty payload, masked
    answer = await _raw(served, BASE, then=masked_ping)
    assert answer.startswith(b"HTTP/1.1 101")
    assert b"\r\n\r\n\x8a\x00" in answer  # the pong, as soon as the socket is open
    assert answer.endswith(b"welcome you")


async def test_a_bad_handshake_still_gets_websockets_refusal(serve: Serve) -> None:
    served = await serve()
    answer = await _raw(served, replaced("Sec-WebSocket-Version", "8"))
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert served.lifecycle.kinds("activate") == []


async def test_with_compression_websockets_negotiates(serve: Serve) -> None:
    served = await serve(serve_options={"compression": True})
    ws = await served.connect("/objects/room/r?greet=z", compression="deflate")
    assert ws.protocol.extensions  # permessage-deflate, negotiated by websockets
    assert await within(ws.recv()) == "welcome z"
