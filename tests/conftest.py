"""Shared fixtures: a fake clock, a hub factory, and a recorder of lifecycle events.

Waits use one timeout unit, ``ROOST_TEST_TIMEOUT`` seconds (default 10), so a slow
machine can be given more room without editing tests. Nothing here sleeps to wait.
Hypothesis runs without its per-example deadline (a timing assertion).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings

import hub

T = TypeVar("T")

TIMEOUT = float(os.environ.get("ROOST_TEST_TIMEOUT", "10"))

# No timed assertions in unit tests: Hypothesis's per-example deadline is one (it failed
# test_kv on a loaded machine), so it is off for every property test.
settings.register_profile("roost", deadline=None)
settings.load_profile("roost")


async def within(awaitable: Awaitable[T], factor: float = 1.0) -> T:
    """Await with the suite's timeout unit."""
    return await asyncio.wait_for(awaitable, TIMEOUT * factor)


def split_response(
    raw: bytes, *, body: bool = True
) -> tuple[tuple[int, dict[str, str], bytes], bytes]:
    """The first HTTP/1.1 answer in ``raw`` (status, lowercase headers, the body its
    ``Content-Length`` says, none when ``body`` is false: HEAD, 304) and what follows."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest))) if body else 0
    return (int(status_line.split()[1]), headers, rest[:length]), rest[length:]


class Recorder:
    """Collects lifecycle events and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[hub.LifecycleEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: hub.LifecycleEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def kinds(self, kind: str) -> list[hub.LifecycleEvent]:
        return [event for event in self.events if event.kind == kind]

    async def wait(self, kind: str, count: int = 1) -> list[hub.LifecycleEvent]:
        """Wait until ``count`` events of ``kind`` were seen in all."""

        async def until() -> list[hub.LifecycleEvent]:
            while len(self.kinds(kind)) < count:
                self._changed.clear()
                await self._changed.wait()
            return self.kinds(kind)

        return await within(until())


@pytest.fixture
def clock() -> hub.FakeClock:
    return hub.FakeClock()


MakeHub = Callable[..., Awaitable[tuple[hub.Hub, "Recorder"]]]


@pytest.fixture
async def make_hub(tmp_path: Path, clock: hub.FakeClock) -> AsyncIterator[MakeHub]:
    """Start hubs on ``tmp_path`` with the fake clock; all are stopped at the end."""
    started: list[hub.Hub] = []

    async def factory(
        objects: Mapping[str, type[hub.DurableObject]], **options: Any
    ) -> tuple[hub.Hub, Recorder]:
        options.setdefault("data_dir", tmp_path / "data")
        options.setdefault("clock", clock)
        app = hub.Hub(objects, **options)
        recorder = Recorder()
        app.add_listener(recorder)
        await app.start()
        started.append(app)
        return app, recorder

    yield factory
    for app in reversed(started):
        await app.stop()


async def eventually(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Wait until ``predicate()`` holds, within the timeout unit.

    For state that has no event to wait on (a transport that stopped reading): it
    checks after every short turn of the loop and fails the test at the deadline.
    """

    async def until() -> None:
        while not predicate():  # noqa: ASYNC110 - no event exists for such state
            await asyncio.sleep(0.005)

    try:
        await within(until())
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {TIMEOUT} s") from None
