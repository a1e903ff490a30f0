"""``TextCheckingReader``: invalid UTF-8 is found while a frame is still arriving.

Sans-I/O: websockets' own ``Frame.parse`` reads through the reader, fed by hand.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from websockets.frames import Frame, Opcode

from hub.net.rfc6455 import TextCheckingReader


def masked(opcode: Opcode, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    data = Frame(opcode, payload, fin=fin).serialize(mask=True)
    return bytes([data[0] | 0x40]) + data[1:] if rsv1 else data


def parser(reader: TextCheckingReader) -> Generator[None, None, Frame]:
    return Frame.parse(reader.read_exact, mask=True)


def feed(reader: TextCheckingReader, data: bytes, step: int) -> list[Frame]:
    """Feed ``data`` ``step`` bytes at a time; the frames parsed."""
    frames: list[Frame] = []
    gen = parser(reader)
    for i in range(0, len(data), step):
        reader.feed_data(data[i : i + step])
        while True:
            try:
                next(gen)
            except StopIteration as done:
                frames.append(done.value)
                gen = parser(reader)
                if reader.buffer:
                    continue
            break
    return frames


def test_invalid_utf8_fails_before_the_frame_is_complete() -> None:
    payload = "héllo".encode() + b"\xff" + b"x" * 10_000
    data = masked(Opcode.TEXT, payload)
    reader = TextCheckingReader()
    gen = parser(reader)
    reader.feed_data(data[:20])  # the head, the mask and the bad byte: not the rest
    with pytest.raises(UnicodeDecodeError):
        next(gen)


def test_a_split_multibyte_character_is_not_an_error() -> None:
    payload = ("é" * 5000).encode()
    frames = feed(TextCheckingReader(), masked(Opcode.TEXT, payload), 7)  # splits each é
    assert [f.data.decode() for f in frames] == ["é" * 5000]


def test_fragments_run_on_through_one_decoder() -> None:
    text = "€uro".encode()
    data = (
        masked(Opcode.TEXT, text[:2], fin=False)
        + masked(Opcode.PING, b"p")  # a control frame between fragments
        + masked(Opcode.CONT, text[2:] + b"y" * 300, fin=False)
        + masked(Opcode.CONT, b"!")
    )
    frames = feed(TextCheckingReader(), data, 5)
    assert [f.opcode for f in frames] == [Opcode.TEXT, Opcode.PING, Opcode.CONT, Opcode.CONT]


def test_invalid_utf8_in_a_later_fragment_fails_as_it_arrives() -> None:
    data = masked(Opcode.TEXT, b"ok", fin=False) + masked(Opcode.CONT, b"\xc3\x28" + b"z" * 500)
    reader = TextCheckingReader()
    with pytest.raises(UnicodeDecodeError):
        feed(reader, data[: len(data) - 400], 3)


def test_a_message_cut_mid_character_fails_at_its_last_fragment() -> None:
    data = masked(Opcode.TEXT, b"ok\xe2\x82", fin=False) + masked(Opcode.CONT, b"")
    with pytest.raises(UnicodeDecodeError):
        feed(TextCheckingReader(), data, 1)


@pytest.mark.parametrize("opcode", [Opcode.BINARY, Opcode.CLOSE])
def test_binary_and_control_payloads_are_not_checked(opcode: Opcode) -> None:
    payload = b"\x03\xe8\xff" if opcode is Opcode.CLOSE else b"\xff" * 300
    reader = TextCheckingReader()
    gen = parser(reader)
    reader.feed_data(masked(opcode, payload)[:-1])
    next(gen)  # waiting for the last byte, nothing raised


def test_compressed_messages_are_left_to_the_extension() -> None:
    reader = TextCheckingReader()
    gen = parser(reader)
    reader.feed_data(masked(Opcode.TEXT, os.urandom(300), rsv1=True)[:-1])
    next(gen)


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY, Opcode.PING])
def test_the_reader_is_at_a_frame_start_only_between_frames(opcode: Opcode) -> None:
    # hub.net.fastframes may take frames only there (rfc6455 rule 1): at every cut
    # inside a frame, including a payload still awaited with nothing buffered, not.
    data = masked(opcode, b"payload") + masked(Opcode.BINARY, b"")
    for cut in range(1, len(data)):
        reader = TextCheckingReader()
        assert reader.at_frame_start
        frames = feed(reader, data[:cut], len(data))
        expected = cut in (13, len(data))  # after the first frame; after both
        assert (reader.at_frame_start, len(frames) >= 1) == (expected, cut >= 13), cut
