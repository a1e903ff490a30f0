"""The fast path for incoming frames changes nothing a client or an object can see.

Any sequence of frames, valid or not, cut at any byte boundaries, is fed to two
connections: one with ``hub.net.fastframes`` (as served) and one where websockets parses
every frame (``WebsocketsOnly``). Both must deliver the same messages, report the same
close or error, and write back the same bytes, in the same order. The front is a
recording fake at the seam (``Front``'s methods the frame-in path calls); the protocol,
reader and connection are the real ones. End-to-end runs on a real hub follow.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.frames import Close, Opcode
from websockets.protocol import OPEN

from hub.ids import ObjectId
from hub.limits import Limits
from hub.net.connection import Connection
from hub.net.rfc6455 import ServerProtocol
from tests.conftest import within
from tests.hub.net.conftest import Serve
from tests.hub.net.test_fastframes import masked, raw_frame

Record = list[tuple[Any, ...]]


class WebsocketsOnly(ServerProtocol):
    """The reference: websockets parses every frame, as before the fast path."""

    def takes_whole_frames(self) -> bool:
        return False


class Counting(ServerProtocol):
    """The served protocol, counting the bytes that reach websockets' parser."""

    fed = 0

    def receive_data(self, data: bytes | bytearray) -> None:
        self.fed += len(data)
        super().receive_data(data)


class FakeTransport:
    """Records what the connection writes, and whether it closed or aborted TCP."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        if self.record and self.record[-1][0] == "wrote":  # one byte stream
            self.record[-1] = ("wrote", self.record[-1][1] + data)
        else:
            self.record.append(("wrote", bytes(data)))

    def close(self) -> None:
        self.record.append(("tcp closed",))
        self.closing = True

    def abort(self) -> None:
        self.record.append(("tcp aborted",))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@dataclass
class FakeFront:
    """What the frame-in path asks of ``Front``; each message is echoed at once (as an
    auto-response or a roost.v1 error answer is), and ``close me`` closes the socket."""

    limits: Limits
    record: Record = field(default_factory=list)
    flushes: list[Connection] = field(default_factory=list)
    drains: list[Any] = field(default_factory=list)

    def socket_message(self, conn: Connection, data: str | bytes, size: int) -> None:
        self.record.append(("message", data, size))
        if data == "close me":
            conn.close_socket(4000, "asked")
        else:
            conn.send_message(data)

    def socket_closed(
        self, conn: Connection, code: int, reason: str, *, was_clean: bool, slow: bool = False
    ) -> None:
        self.record.append(("closed", code, reason, was_clean, slow))

    def socket_errored(self, conn: Connection, error: Exception) -> None:
        self.record.append(("errored", type(error).__name__, str(error)))

    def after_events(self, conn: Connection, reached: Any) -> None:
        self.drains.append(reached)

    def flush_later(self, conn: Connection) -> None:
        self.flushes.append(conn)

    def connection_lost(self, conn: Connection) -> None:
        self.record.append(("lost",))


async def exchange(
    protocol: type[ServerProtocol], chunks: list[bytes], limit: int, *, opened: bool = False
) -> Record:
    """Feed ``chunks`` to a fresh WebSocket connection; everything it did, in order.
    ``opened``: its protocol made as the handshake fast path makes it (parser started
    at its first use, ``ServerProtocol.opened``), else by websockets' constructor."""
    front = FakeFront(Limits(message_bytes=limit))
    conn = Connection(front)  # type: ignore[arg-type]  # the fake has what this path uses
    transport = FakeTransport(front.record)
    conn.transport = transport  # type: ignore[assignment]
    conn._http = None  # upgraded, as ``begin_upgrade`` leaves it
    logger = logging.getLogger("test.ws")
    if opened:
        conn.ws = protocol.opened(limit, logger)
    else:
        conn.ws = protocol(state=OPEN, max_size=limit, logger=logger)
    conn.socket_id, conn.object_id = 1, ObjectId("ROOM", "ab" * 32, "r")
    for chunk in chunks:
        if transport.closing:
            break  # a closed transport reads no more
        conn.data_received(chunk)
    for reached in front.drains:  # the object handled what came first (rule 8)
        reached()
    for queued in front.flushes:
        queued.flush_pending()
    conn.connection_lost(None)
    return front.record


# -- frames, valid and not ---------------------------------------------------------------

#: A zero key leaves the payload as it is on the wire: one can look like frames.
KEYS = st.one_of(st.just(b"\x00\x00\x00\x00"), st.binary(min_size=4, max_size=4))
#: Payloads that are frames themselves: cut after the outer frame's mask, they must
#: not be taken for frames (the parser is inside a frame there).
INNER = st.sampled_from([raw_frame(0x81, b"inner", key=b"\x00" * 4), raw_frame(0x82, b"")])
SIZES = st.one_of(st.integers(0, 130), st.sampled_from([125, 126, 127, 200, 65535, 65536, 70000]))
LIMITS = st.sampled_from([100, 125, 126, 65535, 65536, 1 << 20])


@st.composite
def payloads(draw: st.DrawFn, text: bool) -> bytes:
    """``SIZES`` bytes: UTF-8 text (sometimes made invalid) or any bytes."""
    size = draw(SIZES)
    head = draw(st.text(max_size=8)).encode() if text else draw(st.binary(max_size=8))
    data = (head + b"a" * size)[:size] if size >= len(head) else b"a" * size
    if text and size and draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, size - 1))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + data[at:]
    return data


@st.composite
def whole_messages(draw: st.DrawFn) -> bytes:
    text = draw(st.booleans())
    opcode = Opcode.TEXT if text else Opcode.BINARY
    payload = draw(st.sampled_from([b"close me"])) if draw(st.integers(0, 19)) == 0 else b""
    payload = payload or draw(payloads(text))
    bits = draw(st.sampled_from([None, None, None, 16, 64]))  # sometimes not the fewest
    if bits == 16 and len(payload) > 65535:
        bits = None
    return raw_frame(0x80 | opcode.value, payload, key=draw(KEYS), length_bits=bits)


@st.composite
def fragmented(draw: st.DrawFn) -> bytes:
    text = draw(st.booleans())
    parts = draw(st.lists(payloads(text), min_size=2, max_size=4))
    frames = [raw_frame(Opcode.TEXT.value if text else Opcode.BINARY.value, parts[0])]
    frames += [raw_frame(Opcode.CONT.value, part) for part in parts[1:-1]]
    frames.append(raw_frame(0x80 | Opcode.CONT.value, parts[-1]))
    if draw(st.booleans()):  # a control frame between fragments (RFC 6455 §5.4)
        frames.insert(1, masked(Opcode.PING, b"between"))
    return b"".join(frames)


CLOSES = st.sampled_from(
    [
        b"",
        Close(1000, "").serialize(),
        Close(1001, "going").serialize(),
        Close(4000, "é").serialize(),
        b"\x03\xe7",  # 999: not a valid close code
        b"\x03",  # too short
        b"\x03\xe8\xff",  # invalid UTF-8 in the reason
    ]
)

FRAMES = st.one_of(
    st.builds(  # frames inside a binary message
        lambda inner, bits: raw_frame(0x82, b"".join(inner), key=bytes(4), length_bits=bits),
        st.lists(INNER, min_size=1, max_size=3),
        st.sampled_from([None, 64]),
    ),
    whole_messages(),
    whole_messages(),
    whole_messages(),
    fragmented(),
    st.builds(masked, st.sampled_from([Opcode.PING, Opcode.PONG]), st.binary(max_size=126)),
    st.builds(masked, st.just(Opcode.CLOSE), CLOSES),
    st.builds(lambda p: raw_frame(0x81, p, key=None), st.binary(max_size=20)),  # unmasked
    st.builds(  # RSV bits, or a reserved opcode, or a continuation of nothing
        lambda first, p: raw_frame(first, p),
        st.sampled_from([0xC1, 0xA2, 0x91, 0x83, 0x8B, 0x80, 0x01]),
        st.binary(max_size=20),
    ),
)


@st.composite
def reads(draw: st.DrawFn) -> list[bytes]:
    """Frames cut into reads anywhere: inside a frame (often in or just past its
    header: the parser's states) and at frame boundaries or not."""
    frames = draw(st.lists(FRAMES, min_size=1, max_size=8))
    if draw(st.integers(0, 9)) == 0 and sum(map(len, frames)) < 2000:
        return [bytes((b,)) for b in b"".join(frames)]  # byte by byte
    points: set[int] = set()
    start = 0
    for frame in frames:
        near_head = st.sampled_from([n for n in (1, 2, 4, 6, 8, 14) if n <= len(frame)])
        offsets = draw(st.lists(st.one_of(near_head, st.integers(1, len(frame))), max_size=3))
        points.update(start + offset for offset in offsets)
        start += len(frame)
        if draw(st.booleans()):
            points.add(start)
    data = b"".join(frames)
    bounds = [0, *sorted(points - {0, len(data)}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=reads(), limit=LIMITS)
def test_the_fast_path_does_what_websockets_alone_does(chunks: list[bytes], limit: int) -> None:
    reference = asyncio.run(exchange(WebsocketsOnly, chunks, limit))
    fast = asyncio.run(exchange(ServerProtocol, chunks, limit))
    assert fast == reference
    assert ("errored", "WebSocketInternalError", "internal error") not in fast  # no fault
    # As the handshake fast path opens it: websockets' parser made at its first use.
    assert asyncio.run(exchange(ServerProtocol, chunks, limit, opened=True)) == reference
    assert asyncio.run(exchange(WebsocketsOnly, chunks, limit, opened=True)) == reference


# -- the fast path is taken, and left, where it should be ----------------------------------


async def fed_to_websockets(chunks: list[bytes]) -> tuple[int, Record]:
    protocol: list[Counting] = []

    def counting(**options: Any) -> Counting:
        protocol.append(Counting(**options))
        return protocol[0]

    record = await exchange(counting, chunks, 1 << 20)  # type: ignore[arg-type]
    return protocol[0].fed, record


async def test_whole_plain_messages_never_reach_websockets() -> None:
    data = masked(Opcode.TEXT, b"one") + masked(Opcode.BINARY, b"\x00" * 300)
    fed, record = await fed_to_websockets([data, masked(Opcode.TEXT, "é".encode())])
    assert fed == 0
    assert [e for e in record if e[0] == "message"] == [
        ("message", "one", 3),
        ("message", b"\x00" * 300, 300),
        ("message", "é", 2),
    ]


async def test_websockets_parses_from_the_first_other_frame_and_until_a_frame_start() -> None:
    ping = masked(Opcode.PING, b"p")
    after = masked(Opcode.TEXT, b"after")
    split = masked(Opcode.TEXT, b"split")
    fed, record = await fed_to_websockets(
        [masked(Opcode.TEXT, b"a") + ping + after + split[:4], split[4:], after]
    )
    # the ping and what followed it in that chunk; the rest of the split frame; not
    # the last chunk, which arrived with websockets' parser between frames again
    assert fed == len(ping) + len(after) + 4 + len(split) - 4
    assert record[:8] == [
        ("message", "a", 1),
        ("wrote", b"\x81\x01a"),
        ("message", "after", 5),
        ("wrote", b"\x81\x05after\x8a\x01p"),  # the echo, then the pong (at the flush)
        ("message", "split", 5),
        ("wrote", b"\x81\x05split"),
        ("message", "after", 5),
        ("wrote", b"\x81\x05after"),
    ]


async def test_a_message_before_a_close_in_the_same_read_is_handled_as_websockets_would() -> None:
    # The Close is parsed before the message is handled: the socket is closing, so the
    # echo is not sent, with the fast path as without it.
    data = masked(Opcode.TEXT, b"hi") + masked(Opcode.CLOSE, Close(1000, "").serialize())
    fast = await exchange(ServerProtocol, [data], 1 << 20)
    assert fast == await exchange(WebsocketsOnly, [data], 1 << 20)
    assert fast[:3] == [
        ("message", "hi", 2),
        ("closed", 1000, "", True, False),
        ("wrote", b"\x88\x02\x03\xe8"),
    ]


# -- end to end, on a real hub -----------------------------------------------------------


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
async def test_many_messages_in_one_write_are_each_answered_in_order(
    serve: Serve, size: int
) -> None:
    served = await serve()
    ws = await served.connect()
    text = "x" * size
    ws.transport.write(
        masked(Opcode.TEXT, f"echo:{text}".encode())
        + masked(Opcode.BINARY, b"\x01\x02")
        + masked(Opcode.PING, b"ping")
        + masked(Opcode.TEXT, "echo:é".encode())
    )
    assert await within(ws.recv()) == text
    assert await within(ws.recv()) == b"\x02\x01"  # the room answers bytes reversed
    assert await within(ws.recv()) == "é"
    await ws.close()
    assert (await served.next_event("close"))[1:4] == (1000, "", True)


async def test_invalid_utf8_after_good_messages_in_one_write_fails_with_1007(
    serve: Serve,
) -> None:
    served = await serve()
    ws = await served.connect()
    ws.transport.write(masked(Opcode.TEXT, b"echo:good") + masked(Opcode.TEXT, b"echo:\xff"))
    assert await within(ws.recv()) == "good"
    with pytest.raises(Exception, match="1007"):
        await within(ws.recv())
    assert ws.close_code == 1007
    assert await served.next_event("error") == ("error", "InvalidUtf8Error", 1007)


async def test_a_message_over_the_limit_after_a_good_one_fails_with_1009(serve: Serve) -> None:
    served = await serve(limits=Limits(message_bytes=200))
    ws = await served.connect()
    ws.transport.write(masked(Opcode.TEXT, b"echo:ok") + masked(Opcode.BINARY, b"x" * 201))
    assert await within(ws.recv()) == "ok"
    with pytest.raises(Exception, match="1009"):
        await within(ws.recv())
    assert ws.close_code == 1009
    assert await served.next_event("error") == ("error", "MessageTooBigError", 1009)
