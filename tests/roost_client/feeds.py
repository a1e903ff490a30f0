"""What the feed tests do with a subscription: apply its changes to a dict, as an app
would, and keep every change to check order, gaps and repeats."""

from __future__ import annotations

import asyncio
from typing import Any

import roost_client
from roost_client import Change

from tests.conftest import within

Rows = dict[Any, dict[str, Any]]


def apply(rows: Rows, change: Change, key: str = "id") -> None:
    """Apply one change to ``rows`` (primary key -> row), as SPEC §9.7 says."""
    if change.op == "reset":
        rows.clear()
        return
    assert change.row is not None
    if change.op == "delete":
        del rows[change.row[key]]
    else:
        rows[change.row[key]] = change.row


class Follower:
    """Reads a subscription in a task of its own until it ends."""

    def __init__(self, sub: roost_client.Subscription) -> None:
        self.sub = sub
        self.changes: list[Change] = []
        self.rows: Rows = {}
        self._changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            async for change in self.sub:
                self.changes.append(change)
                apply(self.rows, change)
                self._changed.set()
        finally:
            self._changed.set()

    @property
    def last(self) -> int:
        """The seq of the last change read (-1: none)."""
        return self.changes[-1].seq if self.changes else -1

    async def until(self, seq: int, factor: float = 1.0) -> None:
        """Wait until a change with ``seq`` or later was read (raises if the
        subscription ended first)."""

        async def wait() -> None:
            while self.last < seq:
                if self.task.done():
                    self.task.result()
                    raise AssertionError(f"the subscription ended at {self.last}, before {seq}")
                self._changed.clear()
                await self._changed.wait()

        await within(wait(), factor)

    async def stop(self) -> None:
        """Close the subscription and wait for the reader."""
        await within(self.sub.close())
        await within(self.task)

    def live(self) -> list[Change]:
        """The changes that are not snapshot rows or resets."""
        return [c for c in self.changes if c.op not in ("snapshot", "reset")]
