"""The event tail: which log records it keeps, its bound, its waiting readers."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator

import pytest

from hub.net.tail import MESSAGE_CHARS, EventTail
from tests.conftest import within

log = logging.getLogger("roost.test_tail")


@pytest.fixture
async def tail() -> AsyncIterator[EventTail]:
    tail = EventTail(size=3, max_waiters=1)
    tail.attach()
    log.setLevel(logging.DEBUG)
    yield tail
    tail.close()
    log.setLevel(logging.NOTSET)


def event(kind: str, socket: int | None = None, **facts: object) -> None:
    log.info("%s happened", kind, extra={"roost": {"event": kind, "socket": socket, **facts}})


async def test_it_keeps_events_and_warnings_not_other_records(tail: EventTail) -> None:
    log.info("listening on somewhere")
    log.debug("noise")
    event("accept", 7, object="ab" * 32, code=1000)
    log.warning("something odd: %s", "x" * 1000)
    first, second = tail.since(0)
    assert (first.seq, first.kind, first.level, first.socket) == (1, "accept", "info", 7)
    assert (first.object, first.detail, first.message) == (
        "ab" * 32,
        {"code": 1000},
        "accept happened",
    )
    assert (second.kind, second.object, second.socket) == ("warning", None, None)
    assert len(second.message) == MESSAGE_CHARS


async def test_only_the_newest_are_kept_and_numbers_go_on(tail: EventTail) -> None:
    for n in range(5):
        event(f"e{n}")
    assert [entry.seq for entry in tail.since(0)] == [3, 4, 5]
    assert [entry.kind for entry in tail.since(4)] == ["e4"]
    assert tail.since(5) == []
    assert [entry.seq for entry in tail.since(99)] == [3, 4, 5]  # from before a restart


async def test_a_reader_waits_for_the_next_event_and_extra_readers_do_not(tail: EventTail) -> None:
    event("first")
    waiting = asyncio.create_task(tail.wait(1, timeout=60))
    await asyncio.sleep(0)  # let it start waiting
    assert await within(tail.wait(1, timeout=60)) == []  # over max_waiters: at once
    event("second")
    (entry,) = await within(waiting)
    assert (entry.seq, entry.kind) == (2, "second")
    assert [e.kind for e in await within(tail.wait(0, timeout=60))] == ["first", "second"]


async def test_closing_answers_waiting_readers_and_stops_taking_records(tail: EventTail) -> None:
    waiting = asyncio.create_task(tail.wait(0, timeout=60))
    await asyncio.sleep(0)
    tail.close()
    assert await within(waiting) == []
    event("late")
    assert tail.since(0) == []
    assert await within(tail.wait(0, timeout=60)) == []


async def test_records_from_other_threads_are_added_on_the_loop(tail: EventTail) -> None:
    waiting = asyncio.create_task(tail.wait(0, timeout=60))
    await asyncio.sleep(0)
    thread = threading.Thread(target=event, args=("threaded",))
    thread.start()
    thread.join()
    (entry,) = await within(waiting)
    assert entry.kind == "threaded"
