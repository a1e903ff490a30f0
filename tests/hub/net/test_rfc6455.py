"""``TextCheckingReader``: invalid UTF-8 is found while a frame is still arriving;
``ServerProtocol.opened``: websockets' protocol, its parser made at its first use.

Sans-I/O: websockets' own ``Frame.parse`` reads through the reader, fed by hand.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Generator
from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

from hub.net.rfc6455 import ServerProtocol, TextCheckingReader


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


# -- ServerProtocol.opened: websockets' protocol, its parser made at its first use ------


def constructed(max_size: int = 1 << 20) -> ServerProtocol:
    return ServerProtocol(state=OPEN, max_size=max_size, logger=logging.getLogger("test.ws"))


def opened(max_size: int = 1 << 20) -> ServerProtocol:
    return ServerProtocol.opened(max_size, logging.getLogger("test.ws"))


def test_opened_has_what_websockets_constructor_gives() -> None:
    reference, protocol = constructed(1000), opened(1000)
    lazy = {"id", "reader", "parser"}
    assert not lazy & set(vars(protocol))  # nothing made before it is used
    assert protocol.takes_whole_frames()
    assert isinstance(protocol.id, uuid.UUID) and protocol.id != reference.id
    assert isinstance(protocol.reader, TextCheckingReader)
    assert set(vars(protocol)) == set(vars(reference)) | {"reading"}
    for name, value in vars(reference).items():
        if name not in lazy:
            assert vars(protocol)[name] == value, name
    other = opened(1000)
    assert other.events is not protocol.events and other.writes is not protocol.writes


def feed_both(chunks: list[bytes], *, eof: bool = False) -> list[tuple[Any, ...]]:
    """What websockets' constructor's protocol and ``opened``'s do with ``chunks``."""
    results = []
    for protocol in (constructed(100), opened(100)):
        for chunk in chunks:
            protocol.receive_data(chunk)
        if eof:
            protocol.receive_eof()
        events = [(e.opcode, bytes(e.data)) for e in protocol.events_received()]
        error = repr(protocol.parser_exc)
        results.append((events, protocol.data_to_send(), protocol.state, error))
    return results


def test_opened_parses_as_websockets_does_from_its_first_frame() -> None:
    ping = masked(Opcode.PING, b"p")
    close = masked(Opcode.CLOSE, b"\x03\xe8bye")
    (reference, lazy) = feed_both([ping[:3], ping[3:] + close])
    assert lazy == reference
    assert reference[0] == [(Opcode.PING, b"p"), (Opcode.CLOSE, b"\x03\xe8bye")]


def test_opened_fails_on_a_bad_frame_as_websockets_does() -> None:
    (reference, lazy) = feed_both([masked(Opcode.TEXT, b"x" * 200)])  # over 100 bytes
    assert lazy == reference
    assert "PayloadTooBig" in reference[3]


def test_opened_sees_eof_before_any_data_as_websockets_does() -> None:
    (reference, lazy) = feed_both([], eof=True)
    assert lazy == reference


def test_opened_fails_before_reading_as_websockets_does() -> None:
    reference, protocol = constructed(), opened()
    for each in (reference, protocol):
        each.fail(1011)  # a hub fault before any frame came: discard what comes
        each.receive_data(masked(Opcode.TEXT, b"ignored"))
        each.receive_eof()
    assert protocol.events_received() == reference.events_received() == []
    assert protocol.data_to_send() == reference.data_to_send()
    assert protocol.state is reference.state
