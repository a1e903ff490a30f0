"""The inbox: order, the bound that pauses reading, the end."""

from __future__ import annotations

import asyncio

import pytest
from roost_client.inbox import Inbox

from tests.conftest import within


async def test_messages_come_out_in_the_order_they_went_in() -> None:
    inbox = Inbox(None)
    for message in ("a", b"b", "c"):
        await inbox.put(message)
    assert [await inbox.get() for _ in range(3)] == ["a", b"b", "c"]


async def test_a_full_inbox_makes_put_wait_until_a_message_is_read() -> None:
    inbox = Inbox(2)
    await inbox.put("1")
    third_may_go = asyncio.ensure_future(inbox.put("2"))  # fills it: waits for room
    await asyncio.sleep(0)  # a yield, so the put runs up to its wait
    assert not third_may_go.done()
    assert await inbox.get() == "1"
    await within(third_may_go)
    assert len(inbox) == 1


async def test_release_stops_put_from_waiting_for_good() -> None:
    inbox = Inbox(1)
    waiting = asyncio.ensure_future(inbox.put("1"))
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.release()
    await within(waiting)
    await within(inbox.put("2"))
    assert len(inbox) == 2


async def test_after_the_end_what_is_left_is_read_then_none() -> None:
    inbox = Inbox(None)
    await inbox.put("last")
    reader = asyncio.ensure_future(inbox.get())
    assert await within(reader) == "last"
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.end()
    assert await within(waiting) is None
    assert await inbox.get() is None


def test_the_bound_must_allow_one_message() -> None:
    with pytest.raises(ValueError, match="max_queue must be at least 1 or None, got 0"):
        Inbox(0)
