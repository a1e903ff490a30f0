"""A connection's states, the record of a change, and the ways to be told of changes.

Rules:

1. States go ``connecting`` -> ``open`` -> ``reconnecting`` -> ``open`` ... -> ``closed``;
   ``closed`` is final. A failed attempt while connecting or reconnecting is reported
   as a change to the same state with the next ``attempt`` number and ``delay``.
2. Listeners are told in the order they subscribed, synchronously, when the change
   happens; a listener that raises is logged and never breaks the connection.
3. A ``StateStream`` sees every change after it was created and ends after ``closed``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from roost_client.errors import RoostError

__all__ = ["Listeners", "State", "StateChange", "StateStream"]

log = logging.getLogger("roost_client")

T = TypeVar("T")


class State(enum.StrEnum):
    """Where a connection is in its life."""

    CONNECTING = "connecting"
    """Opening the first socket (and retrying, if that fails)."""
    OPEN = "open"
    """A socket is open and the hub welcomed the session."""
    RECONNECTING = "reconnecting"
    """The socket was lost; waiting or trying to open another."""
    CLOSED = "closed"
    """Closed for good: by ``close()``, or after a close the client does not retry."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change of a connection's state.

    Attributes:
        state: the new state.
        previous: the state before (equal to ``state`` for another failed attempt).
        error: why: the lost socket or failed attempt (``connecting`` /
            ``reconnecting``), or what closed the connection for good (``closed``;
            None when the user closed it or the hub closed it normally).
        attempt: the number of the next attempt (1 for the first retry), 0 otherwise.
        delay: seconds until the next attempt, when one is planned.
    """

    state: State
    previous: State
    error: RoostError | None = None
    attempt: int = 0
    delay: float | None = None


class Listeners(Generic[T]):
    """Callbacks told of each event, in subscription order (rule 2)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[T], object]] = []

    def __len__(self) -> int:
        return len(self._callbacks)

    def add(self, callback: Callable[[T], object]) -> Callable[[], None]:
        """Subscribe ``callback``; returns a function that unsubscribes it."""
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def emit(self, event: T) -> None:
        """Tell every callback; one that raises is logged and skipped."""
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("listener %r raised", callback)


class StateStream(AsyncIterator[StateChange]):
    """``async for change in conn.state_changes()``: every change, ending after closed."""

    def __init__(self, current: State, listeners: Listeners[StateChange]) -> None:
        self._queue: asyncio.Queue[StateChange] = asyncio.Queue()
        self._done = current is State.CLOSED
        self._unsubscribe = listeners.add(self._queue.put_nowait)

    def __aiter__(self) -> StateStream:
        return self

    async def __anext__(self) -> StateChange:
        if self._done and self._queue.empty():
            self._unsubscribe()
            raise StopAsyncIteration
        change = await self._queue.get()
        if change.state is State.CLOSED:
            self._done = True
        return change

    def close(self) -> None:
        """Stop receiving changes."""
        self._unsubscribe()
        self._done = True
