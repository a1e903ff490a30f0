"""The calls of a connection waiting for their answer (SPEC §6).

Rules:

1. Call ids count down from ``protocol.MAX_ID`` while message ids count up from 1, so
   the ``id`` of an ``error`` frame (SPEC §7.1) always tells a call from a message.
   Subscription ids come from the same counter (``reserve``, SPEC §9.3), so an id names
   one call or one subscription, never both.
2. A call is *written* once its frame went to the current socket. When that socket
   ends, written calls fail with ``ConnectionLost`` (SPEC §6.4: at most once, the method
   may or may not have run); calls not yet written wait for the next socket.
3. A call is answered at most once; an answer for a call no longer waiting (timed out,
   cancelled) is dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

import protocol
from roost_client.errors import ConnectionLost, RoostError

__all__ = ["Calls"]


class Calls:
    """Futures of the calls in flight, by call id."""

    def __init__(self) -> None:
        self._next = protocol.MAX_ID
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._written: set[int] = set()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._waiting

    @property
    def next_id(self) -> int:
        """The id the next call will get (rule 1)."""
        return self._next

    def reserve(self) -> int:
        """Take the next id for a subscription (rule 1); no answer is awaited for it."""
        reserved = self._next
        self._next -= 1
        return reserved

    def add(self) -> tuple[int, asyncio.Future[Any]]:
        """A new call: its id and the future of its answer."""
        call_id = self._next
        self._next -= 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        return call_id, future

    def written(self, call_id: int) -> bool:
        """The call's frame goes to the current socket; False if it no longer waits."""
        if call_id not in self._waiting:
            return False
        self._written.add(call_id)
        return True

    def resolve(self, call_id: int, result: Any) -> bool:
        """Call ``call_id`` returned ``result``; False if no such call waits."""
        future = self._pop(call_id)
        if future is None:
            return False
        if not future.done():
            future.set_result(result)
        return True

    def fail(self, call_id: int, error: BaseException) -> bool:
        """Call ``call_id`` failed with ``error``; False if no such call waits."""
        future = self._pop(call_id)
        if future is None:
            return False
        if not future.done():
            future.set_exception(error)
        return True

    def forget(self, call_id: int) -> None:
        """The caller stopped waiting (timeout, cancellation)."""
        self._pop(call_id)

    def socket_lost(self, close_code: int) -> None:
        """The socket ended: fail every call written on it (rule 2)."""
        for call_id in sorted(self._written, reverse=True):
            error = ConnectionLost(
                f"connection lost before the answer to call {call_id}: closed with {close_code}",
                close_code=close_code,
                id=call_id,
            )
            self.fail(call_id, error)
        self._written.clear()

    def fail_all(self, error: RoostError) -> None:
        """Closed for good: fail every waiting call."""
        for call_id in list(self._waiting):
            self.fail(call_id, error)

    def _pop(self, call_id: int) -> asyncio.Future[Any] | None:
        self._written.discard(call_id)
        return self._waiting.pop(call_id, None)
