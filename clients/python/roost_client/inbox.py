"""What the object sent, waiting for the user to read it.

Rules:

1. Messages are read in the order they arrived, across reconnects.
2. When ``max_queue`` messages wait, ``put`` waits for room: the connection stops
   reading its socket until the user reads (as ``websockets`` does), so memory stays
   bounded. ``release()`` ends that for good (the connection is closing).
3. After ``end()``, ``get`` returns what is left, then None.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Inbox"]


class Inbox:
    """A bounded FIFO of received messages with an end."""

    def __init__(self, max_queue: int | None) -> None:
        if max_queue is not None and max_queue < 1:
            raise ValueError(f"max_queue must be at least 1 or None, got {max_queue!r}")
        self.max_queue = max_queue
        self._messages: deque[str | bytes] = deque()
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._ended = False
        self._released = False

    def __len__(self) -> int:
        return len(self._messages)

    async def put(self, message: str | bytes) -> None:
        """Add ``message``; wait while the inbox is full (rule 2)."""
        self._messages.append(message)
        self._readable.set()
        if self._full() and not self._released:
            self._room.clear()
            await self._room.wait()

    async def get(self) -> str | bytes | None:
        """The oldest message; None once ended and empty."""
        while not self._messages:
            if self._ended:
                return None
            self._readable.clear()
            await self._readable.wait()
        message = self._messages.popleft()
        if not self._full():
            self._room.set()
        return message

    def end(self) -> None:
        """No more messages will come (rule 3)."""
        self._ended = True
        self._readable.set()

    def release(self) -> None:
        """Never make ``put`` wait again."""
        self._released = True
        self._room.set()

    def _full(self) -> bool:
        return self.max_queue is not None and len(self._messages) >= self.max_queue
