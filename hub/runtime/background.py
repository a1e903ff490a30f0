"""``ctx.wait_until`` work of one activation: owned, logged when it fails, drained or
cancelled when the activation closes (rule 4 of ``hub.runtime.activation``)."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hub.errors import ObjectAbortedError

__all__ = ["BackgroundWork"]

log = logging.getLogger("roost.runtime")


class BackgroundWork:
    """The futures started by ``ctx.wait_until``; ``done()`` is called as each ends."""

    __slots__ = ("_done", "_futures", "_label")

    def __init__(self, label: str, done: Callable[[], None]) -> None:
        self._label = label
        self._done = done
        self._futures: set[asyncio.Future[Any]] = set()

    def __bool__(self) -> bool:
        return bool(self._futures)

    def start(self, awaitable: Awaitable[Any], context: contextvars.Context) -> None:
        """Run ``awaitable`` (a coroutine runs as a task in ``context``)."""
        if inspect.iscoroutine(awaitable):
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_task(awaitable, context=context)
        else:
            future = asyncio.ensure_future(awaitable)
        self._futures.add(future)
        future.add_done_callback(self._finished)

    def cancel(self) -> None:
        """Cancel every piece of work still running."""
        for future in self._futures:
            future.cancel()

    async def drain(self) -> None:
        """Wait for every piece of work (their errors are logged, not raised)."""
        while self._futures:
            await asyncio.gather(*tuple(self._futures), return_exceptions=True)

    def _finished(self, future: asyncio.Future[Any]) -> None:
        self._futures.discard(future)
        if future.cancelled():
            log.info("wait_until work of %s was cancelled", self._label)
        elif isinstance(future.exception(), ObjectAbortedError):
            log.info("wait_until work of %s reset the object (ctx.abort)", self._label)
        elif (error := future.exception()) is not None:
            log.error("wait_until work of %s raised", self._label, exc_info=error)
        self._done()
