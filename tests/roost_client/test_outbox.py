"""The outbox: ids, issue order, what survives a new socket, and the bound (SPEC §5.1)."""

from __future__ import annotations

import pytest
from roost_client import BufferFull
from roost_client.outbox import Entry, Outbox


def _message(outbox: Outbox, data: str) -> Entry:
    return outbox.add_message(lambda i: f"{data}#{i}")


def _drain(outbox: Outbox) -> list[str | bytes]:
    taken = []
    while (entry := outbox.take()) is not None:
        taken.append(entry.payload)
    return taken


def test_exactly_once_messages_are_numbered_from_one_per_outbox() -> None:
    outbox = Outbox(10)
    assert [_message(outbox, "m").id for _ in range(3)] == [1, 2, 3]
    assert outbox.next_id == 4


def test_entries_are_taken_in_issue_order_whatever_their_kind() -> None:
    outbox = Outbox(10)
    _message(outbox, "a")
    outbox.add(b"\x00binary")
    outbox.add("call", call_id=99)
    _message(outbox, "b")
    assert _drain(outbox) == ["a#1", b"\x00binary", "call", "b#2"]
    assert outbox.take() is None


def test_at_most_once_entries_leave_when_taken_exactly_once_ones_when_settled() -> None:
    outbox = Outbox(10)
    _message(outbox, "a")
    outbox.add("fire-and-forget")
    _drain(outbox)
    assert len(outbox) == 1
    assert outbox.unacknowledged == 1
    settled = outbox.settle(1)
    assert settled is not None and settled.payload == "a#1"
    assert len(outbox) == 0


def test_rewind_resends_unacknowledged_messages_in_id_order_before_new_ones() -> None:
    outbox = Outbox(10)
    for data in "abcd":
        _message(outbox, data)
    _drain(outbox)  # all four written on the first socket
    outbox.settle(2)  # only b was acknowledged before the socket dropped
    outbox.add("call", call_id=7)  # made while reconnecting: never written
    _message(outbox, "e")
    outbox.rewind()
    assert _drain(outbox) == ["a#1", "c#3", "d#4", "call", "e#5"]
    _message(outbox, "f")
    assert _drain(outbox) == ["f#6"]


def test_an_entry_written_on_the_old_socket_and_at_most_once_is_not_sent_again() -> None:
    outbox = Outbox(10)
    outbox.add(b"once")
    outbox.add("call", call_id=1)
    _drain(outbox)
    outbox.rewind()
    assert _drain(outbox) == []


def test_settling_an_unknown_or_settled_id_changes_nothing() -> None:
    outbox = Outbox(10)
    _message(outbox, "a")
    assert outbox.settle(5) is None
    assert outbox.settle(1) is not None
    assert outbox.settle(1) is None
    assert len(outbox) == 0


def test_a_message_settled_before_it_was_written_again_is_skipped() -> None:
    outbox = Outbox(10)
    _message(outbox, "a")
    _message(outbox, "b")
    _drain(outbox)
    outbox.rewind()
    outbox.settle(1)  # a late ack from the old socket
    assert _drain(outbox) == ["b#2"]


def test_a_full_outbox_refuses_more_and_changes_nothing() -> None:
    outbox = Outbox(3)
    _message(outbox, "a")
    outbox.add("x")
    _message(outbox, "b")
    with pytest.raises(BufferFull, match="outbox full: 3 frames wait, expected at most 3") as info:
        _message(outbox, "c")
    assert info.value.code == "buffer_full" and info.value.retryable
    with pytest.raises(BufferFull):
        outbox.add(b"y")
    assert outbox.next_id == 3
    assert len(outbox) == 3
    outbox.settle(1)
    assert _message(outbox, "c").id == 3


def test_written_but_unacknowledged_messages_count_against_the_bound() -> None:
    outbox = Outbox(2)
    _message(outbox, "a")
    _message(outbox, "b")
    _drain(outbox)
    with pytest.raises(BufferFull):
        _message(outbox, "c")


def test_a_payload_that_cannot_be_built_does_not_use_an_id() -> None:
    outbox = Outbox(5)

    def fail(message_id: int) -> str:
        raise TypeError("cannot encode")

    with pytest.raises(TypeError):
        outbox.add_message(fail)
    assert _message(outbox, "a").id == 1
    assert len(outbox) == 1


def test_an_unwritten_call_can_be_discarded() -> None:
    outbox = Outbox(5)
    outbox.add("call 1", call_id=1)
    outbox.add("call 2", call_id=2)
    assert outbox.discard_call(1)
    assert not outbox.discard_call(1)
    assert _drain(outbox) == ["call 2"]
    assert not outbox.discard_call(2)  # written already


def test_clearing_unwritten_entries_keeps_unacknowledged_messages() -> None:
    outbox = Outbox(5)
    _message(outbox, "a")
    outbox.add("call", call_id=1)
    outbox.add(b"bin")
    dropped = outbox.clear_unwritten()
    assert [entry.payload for entry in dropped] == ["call", b"bin"]
    assert [entry.payload for entry in outbox.messages()] == ["a#1"]


def test_messages_lists_unacknowledged_ones_in_id_order() -> None:
    outbox = Outbox(10)
    for data in "abc":
        _message(outbox, data)
    outbox.settle(2)
    assert [entry.id for entry in outbox.messages()] == [1, 3]


def test_the_bound_must_allow_one_entry() -> None:
    with pytest.raises(ValueError, match="max_buffered must be at least 1, got 0"):
        Outbox(0)


def test_a_control_frame_skips_the_bound_and_can_be_taken_back_until_written() -> None:
    outbox = Outbox(1)
    _message(outbox, "a")
    with pytest.raises(BufferFull):
        outbox.add("call", call_id=7)
    first = outbox.add("sub-1", bounded=False)
    second = outbox.add("sub-2", bounded=False)
    assert len(outbox) == 3
    assert outbox.discard(first)
    assert _drain(outbox) == ["a#1", "sub-2"]
    assert not outbox.discard(second)  # written: too late
    message = outbox.messages()[0]
    assert not outbox.discard(message)  # exactly-once messages leave only when settled
    assert len(outbox) == 1
