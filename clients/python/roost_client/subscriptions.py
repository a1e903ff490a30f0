"""A connection's subscriptions: ``Subscription`` (what the app iterates for a feed
table), and ``Subscriptions``, which runs each ``Feed`` (``feed.py``) and the presence
(``presence.py``) over the connection's sockets.

Rules:

1. Their frames are control frames (``control.py``): queued only while a socket is
   open, in issue order with the app's messages and calls.
2. A subscription's request is sent when it is made, if a socket is open, and again on
   every new socket, after the ``hello`` and the resent messages (SPEC §9.9; the
   connection calls ``opened`` after the outbox was rewound). A request still unwritten
   when its socket ended is taken out of the outbox first: the hub never gets two.
3. Every request has a fresh id from the call counter (SPEC §9.3); frames for an id
   that is not a current request (an earlier request, an unsubscribed one) are
   ignored (SPEC §9.10).
4. An ``error`` for a request ends the subscription with that error, unless it is
   retryable: then the request is sent again after the connection's backoff (at once
   on a new socket), until ``backoff.max_attempts`` errors came in a row. A ``reset``
   gives a ``reset`` change and a snapshot request at once.
5. Changes wait in memory until the app reads them, without bound: a subscription the
   app stops reading grows with the feed (``close()`` it). The connection never stops
   reading its socket for a slow subscription, so calls and acks keep flowing.
6. Closed for good: iteration gives what is left, then raises the connection's error
   (ends quietly after ``conn.close()`` or a normal close). ``sub.close()`` ends
   iteration at once and drops what was left.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

import protocol
from roost_client import wire
from roost_client.backoff import Backoff
from roost_client.calls import Calls
from roost_client.control import Control
from roost_client.errors import RoostError
from roost_client.feed import Change, Feed, FeedFrame
from roost_client.outbox import Entry
from roost_client.presence import Presence, PresenceFrame

__all__ = ["Subscription", "Subscriptions"]


class Subscription:
    """A subscription to a feed table; made by ``Connection.subscribe``.

    ``async for change in sub`` gives each ``Change`` once, in order: the snapshot's
    rows (op ``snapshot``), then inserts, updates and deletes; a ``reset`` change means
    "discard what you built, a fresh snapshot follows". It survives reconnects: the SDK
    resumes with ``since`` (SPEC §9.9), so no change is missed or repeated.

    Changes wait in memory until read, without bound. Iteration ends after ``close()``
    or when the connection closes (raising its error, if it closed on one); an
    ``error`` from the hub ends it with that error (``NoSuchFeed``,
    ``BadSubscription``, ``Forbidden``, ``TooManySubscriptions``, ...).

    ``async with conn.subscribe(...) as sub:`` closes it at the end of the block.
    """

    def __init__(self, feed: Feed, registry: Subscriptions) -> None:
        self._feed = feed
        self._registry = registry
        self._changes: deque[Change] = deque()
        self._readable = asyncio.Event()
        self._ended = False
        self._error: RoostError | None = None
        self._entry: Entry | None = None
        self._retry: asyncio.Task[None] | None = None
        self._failures = 0

    def __repr__(self) -> str:
        return f"<Subscription {self._feed.table!r} seq={self._feed.seq} id={self._feed.id}>"

    @property
    def table(self) -> str:
        """The feed table."""
        return self._feed.table

    @property
    def seq(self) -> int | None:
        """The highest seq received (from a snapshot, changes or ``subscribed``); None
        before any. The SDK resumes after it (``since``) on a new socket."""
        return self._feed.seq

    @property
    def id(self) -> int | None:
        """The id of the current request on the wire (diagnostics); None between
        sockets and after the end."""
        return self._feed.id

    @property
    def closed(self) -> bool:
        """The subscription ended: closed, refused by the hub, or its connection closed
        (changes may still wait to be read)."""
        return self._ended

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Change:
        """The next change; raises the error that ended the subscription, if any."""
        while not self._changes:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._readable.clear()
            await self._readable.wait()
        return self._changes.popleft()

    async def close(self) -> None:
        """End the subscription: ``unsub`` to the hub, iteration ends (what was not
        read is dropped). Closing twice, or after the end, does nothing more."""
        self._changes.clear()
        self._error = None
        self._end(None)
        retry = self._registry.remove(self)
        if retry is not None:
            await asyncio.gather(retry, return_exceptions=True)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _push(self, changes: list[Change]) -> None:
        if changes and not self._ended:
            self._changes.extend(changes)
            self._readable.set()

    def _end(self, error: RoostError | None) -> None:
        if not self._ended:
            self._ended = True
            self._error = error
            self._readable.set()


class Subscriptions:
    """Every open subscription of one connection, and its presence, across its
    sockets (rules 2-4)."""

    def __init__(
        self,
        control: Control,
        calls: Calls,
        backoff: Backoff,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._control = control
        self._calls = calls
        self._backoff = backoff
        self._sleep = sleep
        #: Open subscriptions, in the order they were made.
        self._active: dict[Subscription, None] = {}
        #: Current request id -> its subscription.
        self._by_id: dict[int, Subscription] = {}
        self._presence: Presence | None = None

    def __len__(self) -> int:
        return len(self._active)

    def add(self, feed: Feed) -> Subscription:
        """A new subscription, requested now if a socket is open (rule 2)."""
        sub = Subscription(feed, self)
        self._active[sub] = None
        if self._control.online:
            self._send(sub)
        return sub

    def presence(self) -> Presence:
        """The presence, made (and requested, if a socket is open) on first use."""
        if self._presence is None:
            self._presence = Presence(self._control, self._forget_presence)
            if self._control.online:
                self._presence._opened()
        return self._presence

    def receive_presence(self, frame: PresenceFrame) -> None:
        """A ``presence``, ``join``, ``update`` or ``leave`` frame."""
        if self._presence is not None:
            self._presence._receive(frame)

    def receive(self, frame: FeedFrame) -> None:
        """A ``snapshot``, ``changes``, ``subscribed`` or ``reset`` frame (rule 3)."""
        sub = self._by_id.get(frame.id)
        if sub is None:
            return
        sub._push(sub._feed.receive(frame))
        if isinstance(frame, protocol.Subscribed):
            sub._failures = 0
        elif isinstance(frame, protocol.Reset):
            del self._by_id[frame.id]
            sub._entry = None
            if self._control.online:
                self._send(sub)  # the snapshot it now owes (rule 4)

    def fail(self, id: int, error: RoostError) -> bool:
        """An ``error`` for request ``id`` (rule 4); False if no such request."""
        sub = self._by_id.pop(id, None)
        if sub is None:
            return False
        sub._feed.lost()
        sub._entry = None
        if error.retryable:
            sub._failures += 1
            if not self._backoff.gives_up(sub._failures):
                delay = self._backoff.delay(sub._failures)
                loop = asyncio.get_running_loop()
                sub._retry = loop.create_task(self._retry_after(sub, delay))
                return True
        del self._active[sub]
        sub._end(error)
        return True

    def opened(self) -> None:
        """A new socket was welcomed: request every open subscription and the
        presence again (rule 2)."""
        self._control.online = True
        for sub in self._active:
            self._cancel_retry(sub)
            self._send(sub)
        if self._presence is not None:
            self._presence._opened()

    def socket_lost(self) -> None:
        """The socket ended: no request is current any more."""
        self._control.online = False
        self._by_id.clear()
        for sub in self._active:
            sub._feed.lost()

    def remove(self, sub: Subscription) -> asyncio.Task[None] | None:
        """The app closed ``sub``: ``unsub`` if its request went out; the retry task that
        was cancelled, if any."""
        if sub not in self._active:
            return None
        del self._active[sub]
        retry = self._cancel_retry(sub)
        feed = sub._feed
        unwritten = self._control.discard(sub._entry)
        sub._entry = None
        if feed.id is not None:
            del self._by_id[feed.id]
            if not unwritten and self._control.online:
                self._control.send(wire.unsub(feed.id))
            feed.lost()
        return retry

    def end_all(self, error: RoostError | None, closed: RoostError) -> None:
        """The connection closed for good (rule 6); ``error`` is why (None after a
        deliberate or normal close), ``closed`` what ``presence.ready()`` raises."""
        self._control.online = False
        for sub in self._active:
            self._cancel_retry(sub)
            sub._feed.lost()
            sub._end(error)
        self._active.clear()
        self._by_id.clear()
        if self._presence is not None:
            self._presence._end(error, error or closed)

    def _send(self, sub: Subscription) -> None:
        self._control.discard(sub._entry)
        previous = sub._feed.id
        if previous is not None:
            self._by_id.pop(previous, None)
        request = self._calls.reserve()
        text = sub._feed.subscribe(request)
        self._by_id[request] = sub
        sub._entry = self._control.send(text)

    async def _retry_after(self, sub: Subscription, delay: float) -> None:
        await self._sleep(delay)
        sub._retry = None
        if sub in self._active and sub._feed.id is None and self._control.online:
            self._send(sub)

    def _forget_presence(self, presence: Presence) -> None:
        if self._presence is presence:
            self._presence = None

    @staticmethod
    def _cancel_retry(sub: Subscription) -> asyncio.Task[None] | None:
        retry, sub._retry = sub._retry, None
        if retry is not None:
            retry.cancel()
        return retry
