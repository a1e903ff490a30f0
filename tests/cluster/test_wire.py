"""``hub.cluster.wire.Link``: batched, ordered message frames over a Unix socket.

Every test runs over a real ``socket.socketpair()``. Where the frames themselves matter,
the far end is a plain asyncio stream that reads the bytes as they are on the wire (a
4-byte big-endian length, then a msgpack array of messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import weakref
from collections.abc import AsyncIterator

import msgspec
import pytest

from hub.cluster.wire import MAX_FRAME, Link, Message
from tests.cluster.ends import Peer, accepted_link, peer_pair
from tests.conftest import eventually, within

Raw = tuple[Peer, asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def raw() -> AsyncIterator[Raw]:
    """A ``Link`` (kept by a recorder) and a raw stream at its other end."""
    left, right = socket.socketpair()
    peer = Peer()
    await accepted_link(lambda: peer.link, left)
    reader, writer = await asyncio.open_unix_connection(sock=right)
    yield peer, reader, writer
    writer.close()
    with contextlib.suppress(ConnectionError):  # the link may have dropped it already
        await within(writer.wait_closed())
    peer.link.abort()
    await within(peer.link.closed.wait())


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Peer, Peer]]:
    """Two links over one socket pair, each kept by a recorder."""
    sender, receiver = await peer_pair()
    yield sender, receiver
    for peer in (sender, receiver):
        peer.link.abort()
        await within(peer.link.closed.wait())


async def read_frame(reader: asyncio.StreamReader) -> list[list[object]]:
    """One frame as the wire carries it: its length, then its msgpack batch."""
    size = int.from_bytes(await within(reader.readexactly(4)), "big")
    batch = msgspec.msgpack.decode(await within(reader.readexactly(size)))
    assert isinstance(batch, list)
    return batch


def frame(*messages: Message) -> bytes:
    """The bytes of one frame carrying ``messages``."""
    payload = msgspec.msgpack.encode(list(messages))
    return len(payload).to_bytes(4, "big") + payload


# -- batches and order ------------------------------------------------------------------


async def test_messages_sent_in_one_loop_turn_leave_as_one_frame_in_order(raw: Raw) -> None:
    peer, reader, _writer = raw
    peer.link.send(("a", 1))
    peer.link.send(("b", 2))
    peer.link.send(("c", 3))
    assert await read_frame(reader) == [["a", 1], ["b", 2], ["c", 3]]
    # A later turn is a frame of its own.
    peer.link.send(("d", 4))
    assert await read_frame(reader) == [["d", 4]]


async def test_messages_arrive_in_order_across_turns_and_frames(pair: tuple[Peer, Peer]) -> None:
    sender, receiver = pair
    sent = []
    for burst in range(50):
        for i in range(burst):
            message = ("n", burst, i)
            sender.link.send(message)
            sent.append(message)
        await asyncio.sleep(0)  # end the loop turn: the next burst is another frame
    await eventually(lambda: len(receiver.received) >= len(sent), "every message arrived")
    assert receiver.received == sent


async def test_str_and_bytes_stay_distinct(pair: tuple[Peer, Peer]) -> None:
    sender, receiver = pair
    sender.link.send(("data", "text", b"text", "", b"", "é", "é".encode()))
    message = await receiver.next()
    assert message == ("data", "text", b"text", "", b"", "é", "é".encode())
    assert [type(item) for item in message[1:]] == [str, bytes, str, bytes, str, bytes]


async def test_a_message_arrives_as_a_tuple_whose_first_item_is_its_kind(
    pair: tuple[Peer, Peer],
) -> None:
    sender, receiver = pair
    sender.link.send(("accept", 7, "a" * 64, ["x", "y"]))
    message = await receiver.next()
    assert type(message) is tuple
    assert message == ("accept", 7, "a" * 64, ["x", "y"])  # inner sequences are lists


# -- frames split across reads --------------------------------------------------------


async def test_a_frame_larger_than_one_read_is_reassembled(pair: tuple[Peer, Peer]) -> None:
    sender, receiver = pair
    big = bytes(range(256)) * (16 * 1024)  # 4 MiB: many reads of the socket
    sender.link.send(("before",))
    sender.link.send(("big", big))
    sender.link.send(("after",))
    assert await receiver.next() == ("before",)
    assert await receiver.next() == ("big", big)
    assert await receiver.next() == ("after",)


async def test_a_frame_written_in_two_parts_is_delivered_once_complete(raw: Raw) -> None:
    peer, _reader, writer = raw
    first, second = frame(("a", 1)), frame(("b", "two"), ("c", b"3"))
    writer.write(first + second[:5])
    assert await peer.next() == ("a", 1)
    # ``b`` is not whole yet: it cannot have been delivered.
    assert peer.unread() == []
    writer.write(second[5:])
    assert await peer.next() == ("b", "two")
    assert await peer.next() == ("c", b"3")


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 1000], ids=lambda step: f"{step}-byte reads")
async def test_frames_fed_in_pieces_give_the_same_messages(raw: Raw, step: int) -> None:
    """As h11 does: the same input whole, in pieces, and with a partial frame behind."""
    peer, _reader, _writer = raw
    data = frame(("a", 1), ("b", [1, 2])) + frame(("c", "x" * 300)) + frame(("d", b"\x00"))
    last = frame(("e", "not complete"))
    stream = data + last[:-1]
    for offset in range(0, len(stream), step):
        peer.link.data_received(stream[offset : offset + step])
    assert peer.unread() == [("a", 1), ("b", [1, 2]), ("c", "x" * 300), ("d", b"\x00")]
    peer.link.data_received(last[-1:])
    assert peer.unread() == [("e", "not complete")]
    assert peer.link.is_open


# -- frames that end the link -----------------------------------------------------------


async def test_an_oversize_length_prefix_ends_the_link_at_once(raw: Raw) -> None:
    peer, reader, writer = raw
    # A good frame first, in the same write: it is delivered; nothing after the prefix is.
    writer.write(frame(("ok",)) + (MAX_FRAME + 1).to_bytes(4, "big") + frame(("never",)))
    await within(peer.gone.wait())
    assert peer.received == [("ok",)]
    assert peer.lost == 1
    assert not peer.link.is_open
    assert await within(reader.read()) == b""  # the other side sees the link end


async def test_a_length_prefix_of_exactly_max_frame_waits_for_the_frame(raw: Raw) -> None:
    peer, _reader, _writer = raw
    peer.link.data_received(MAX_FRAME.to_bytes(4, "big") + b"\x91")
    assert peer.link.transport is not None
    assert not peer.link.transport.is_closing()
    peer.link.data_received((MAX_FRAME + 1).to_bytes(4, "big"))  # still buffered: no effect
    assert not peer.link.transport.is_closing()


@pytest.mark.parametrize(
    "payload",
    [b"\xc1", b"\x92\x01", b"\x90\x00", b"\x91\x01"],
    ids=["invalid opcode", "truncated array", "trailing bytes", "a message not an array"],
)
async def test_a_frame_that_does_not_decode_ends_the_link(raw: Raw, payload: bytes) -> None:
    peer, reader, writer = raw
    bad = len(payload).to_bytes(4, "big") + payload
    writer.write(frame(("ok",)) + bad + frame(("never",)))
    await within(peer.gone.wait())
    assert peer.received == [("ok",)]
    assert peer.lost == 1
    assert await within(reader.read()) == b""


async def test_on_lost_is_called_once_however_the_link_ends(raw: Raw) -> None:
    peer, _reader, writer = raw
    writer.write((MAX_FRAME + 1).to_bytes(4, "big"))
    await within(peer.gone.wait())
    peer.link.abort()
    peer.link.close()
    peer.link.connection_lost(None)  # as a transport reporting it twice would
    assert peer.lost == 1


async def test_the_peer_closing_ends_the_link_once(pair: tuple[Peer, Peer]) -> None:
    a, b = pair
    b.link.close()
    await within(a.gone.wait())
    await within(b.gone.wait())
    assert (a.lost, b.lost) == (1, 1)
    assert not a.link.is_open and not b.link.is_open
    assert a.link.closed.is_set()


async def test_close_delivers_what_was_sent_before_the_peer_sees_the_loss(
    pair: tuple[Peer, Peer],
) -> None:
    sender, receiver = pair
    order: list[str] = []
    receiver.link.on_message = lambda link, message: order.append(message[0])
    receiver.link.on_lost = lambda link: order.append("lost")
    sender.link.send(("one",))
    sender.link.send(("two",))
    sender.link.close()
    await within(receiver.link.closed.wait())
    await within(sender.gone.wait())
    assert order == ["one", "two", "lost"]


# -- sending after the end, and what cannot be sent ---------------------------------------


class Payload:
    """A weakly referenceable value, to see whether a link still holds a message."""


async def test_send_after_the_link_is_lost_is_a_no_op(pair: tuple[Peer, Peer]) -> None:
    a, b = pair
    b.link.abort()
    await within(a.gone.wait())
    await within(b.gone.wait())
    payload = Payload()
    held = weakref.ref(payload)
    a.link.send(("late", payload))
    a.link.flush()
    await within(a.link.drain())  # returns at once: nothing to wait for
    del payload
    gc.collect()
    assert held() is None, "the lost link kept the message"
    assert not a.link.is_open
    assert a.lost == 1 and b.received == []


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(object(), id="not a builtin (TypeError)"),
        pytest.param(
            2**64,
            id="int over 64 bits (OverflowError)",
        ),
        pytest.param(
            "\ud800",
            id="lone surrogate (UnicodeEncodeError)",
        ),
    ],
)
async def test_a_message_that_cannot_be_encoded_is_dropped_and_its_batch_delivered(
    pair: tuple[Peer, Peer], bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    sender, receiver = pair
    with caplog.at_level(logging.ERROR, logger="roost.cluster"):
        sender.link.send(("ok", 1))
        sender.link.send(("bad", bad))
        sender.link.send(("ok", 2))
        await asyncio.sleep(0)  # the batch leaves; the link goes on with the next one
        sender.link.send(("ok", 3))
        assert await receiver.next() == ("ok", 1)
        assert await receiver.next() == ("ok", 2)
        assert await receiver.next() == ("ok", 3)
    logged = [r.getMessage() for r in caplog.records]
    assert any("cannot be encoded" in text and "bad" in text for text in logged), logged


async def test_a_handler_that_raises_does_not_stop_the_messages_after_it(
    pair: tuple[Peer, Peer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender, receiver = pair
    seen: list[Message] = []

    def on_message(link: Link, message: Message) -> None:
        if message[0] == "boom":
            raise RuntimeError("handler bug")
        seen.append(message)
        receiver.inbox.put_nowait(message)

    receiver.link.on_message = on_message
    with caplog.at_level(logging.ERROR, logger="roost.cluster"):
        sender.link.send(("one",))
        sender.link.send(("boom",))
        sender.link.send(("two",))
        await receiver.next()
        await receiver.next()
    assert seen == [("one",), ("two",)]
    assert any("failed" in r.getMessage() for r in caplog.records)
    assert receiver.link.is_open and receiver.lost == 0
