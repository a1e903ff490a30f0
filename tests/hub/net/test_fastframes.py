"""``take_messages``: whole plain messages from the front of the bytes, nothing else."""

from __future__ import annotations

import pytest
from websockets.frames import Close, Frame, Opcode

from hub.net.fastframes import take_messages

LIMIT = 1 << 20


def raw_frame(
    first: int,
    payload: bytes,
    *,
    key: bytes | None = b"\x37\xfa\x21\x3d",
    length_bits: int | None = None,
) -> bytes:
    """A frame built byte by byte (RFC 6455 §5.2): ``first`` is its first byte (FIN,
    RSV, opcode); masked with ``key`` unless it is None; the length in the fewest bits
    unless ``length_bits`` (7, 16 or 64) says otherwise. Anything goes, valid or not."""
    size = len(payload)
    bits = length_bits or (7 if size < 126 else 16 if size < 65536 else 64)
    mask_bit = 0x80 if key is not None else 0
    if bits == 7:
        head = bytes((first, mask_bit | size))
    elif bits == 16:
        head = bytes((first, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + size.to_bytes(8, "big")
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def masked(opcode: Opcode, data: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """A client's frame (RFC 6455 §5.3: masked)."""
    return raw_frame((0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode.value, data)


def test_text_and_binary_messages_are_taken_in_order_with_their_sizes() -> None:
    data = masked(Opcode.TEXT, "héllo".encode()) + masked(Opcode.BINARY, b"\x00\xff")
    assert take_messages(data, LIMIT) == ([("héllo", 6), (b"\x00\xff", 2)], len(data))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535])
def test_payloads_with_a_7_or_16_bit_length_are_taken(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    frame = masked(Opcode.BINARY, payload)
    assert take_messages(frame, LIMIT) == ([(payload, size)], len(frame))


def test_a_64_bit_length_is_left_to_websockets() -> None:
    frame = masked(Opcode.BINARY, b"x" * 65536)
    assert frame[1] & 0x7F == 127
    assert take_messages(frame, LIMIT) == ([], 0)


def test_a_payload_over_the_limit_is_left_to_websockets_and_one_at_it_is_taken() -> None:
    assert take_messages(masked(Opcode.TEXT, b"x" * 101), 100) == ([], 0)
    assert take_messages(masked(Opcode.TEXT, b"x" * 100), 100)[0] == [("x" * 100, 100)]


@pytest.mark.parametrize(
    "other",
    [
        masked(Opcode.TEXT, b"frag", fin=False),
        masked(Opcode.CONT, b"ment"),
        masked(Opcode.PING, b"p"),
        masked(Opcode.PONG, b""),
        masked(Opcode.CLOSE, Close(1000, "bye").serialize()),
        masked(Opcode.TEXT, b"compressed?", rsv1=True),
        Frame(Opcode.TEXT, b"unmasked").serialize(mask=False),
        masked(Opcode.TEXT, b"\xff invalid utf-8"),
        b"\x83\x80\x00\x00\x00\x00",  # opcode 3 is reserved
        b"\xa1\x80\x00\x00\x00\x00",  # RSV2
        b"\x91\x80\x00\x00\x00\x00",  # RSV3
    ],
)
def test_the_run_stops_at_the_first_frame_of_any_other_kind(other: bytes) -> None:
    first = masked(Opcode.TEXT, b"first")
    data = first + other + masked(Opcode.TEXT, b"after")
    assert take_messages(data, LIMIT) == ([("first", 5)], len(first))


def test_an_incomplete_frame_is_not_taken_at_any_cut() -> None:
    whole = masked(Opcode.TEXT, b"a" * 200)  # a 16-bit length
    first = masked(Opcode.BINARY, b"b")
    for cut in range(len(whole)):
        assert take_messages(first + whole[:cut], LIMIT) == ([(b"b", 1)], len(first))


def test_a_16_bit_length_for_a_short_payload_is_accepted_as_websockets_does() -> None:
    frame = raw_frame(0x81, b"ok", length_bits=16)
    assert take_messages(frame, LIMIT) == ([("ok", 2)], len(frame))
