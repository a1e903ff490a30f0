"""Change feeds on the object's side: answering subscriptions, publishing commits.

Rules:

1. A subscription's snapshot (or replay after ``since``) and the seq it ends at are read
   in one event, and handed to the port right after that event commits. Events of one
   object run one at a time and each one's changes reach the port right after its
   commit, so the subscriber misses nothing between the snapshot and the live changes
   (protocol/SPEC.md §9.3).
2. After an event that wrote, the publisher reads the changes it added to the log
   (inside the transaction) and the port gets them only if the commit succeeded.
3. Retention is applied in the transaction of an event that wrote: at most
   ``max_changes`` plus a slack of a tenth, and by age at most once a minute.
4. ``disable`` of a feed table and ``delete_all`` end the subscriptions they affect
   (``no_such_feed``, ``reset``), after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.errors import (
    BadSubscriptionError,
    ForbiddenError,
    HubError,
    InternalError,
    NoSuchFeedError,
)
from hub.runtime.events import FeedSubscribe
from hub.runtime.ports import FeedAnswer, FeedOpened, FeedRefused, FeedResetNeeded
from hub.storage.feeds import Change, FeedReset, FeedRetention
from protocol.where import WhereError, compile_where

if TYPE_CHECKING:
    from hub.errors import RpcError
    from hub.runtime.activation import Activation
    from hub.runtime.ports import SocketPort
    from hub.storage.storage import Storage

__all__ = ["FeedPublisher", "Publication", "handle_subscribe", "refuse_subscribe"]

log = logging.getLogger("roost.runtime")

#: How often (seconds of the hub clock) an object trims its log by age, at most.
_AGE_TRIM_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class Publication:
    """What one transaction changed in the feeds, to hand to the port after commit."""

    changes: list[Change]
    #: Feed tables the transaction stopped, None for "every subscription resets".
    ended: list[str | None]
    #: The newest seq once it committed.
    seq: int


class FeedPublisher:
    """Follows one activation's change log: what each commit added, and retention."""

    __slots__ = ("_next_age_trim", "_retention", "_trim_above", "seq")

    def __init__(self, seq: int, retention: FeedRetention) -> None:
        #: The newest change handed to the port.
        self.seq = seq
        self._retention = retention
        self._trim_above = self._trim_point(seq)
        self._next_age_trim = 0.0

    def _trim_point(self, seq: int) -> int | None:
        keep = self._retention.max_changes
        return None if keep is None else seq + max(1, keep // 10)

    def collect(self, storage: Storage, now: float) -> Publication | None:
        """What the open transaction changed (call it before commit; None: nothing),
        with retention applied to the log."""
        feeds = storage.feeds
        ended, feeds.ended = feeds.ended, []
        if not ended and feeds.last_seq() <= self.seq:
            return None  # the event wrote, but not to a feed table
        try:
            changes = feeds.since(self.seq)
        except FeedReset:  # cleared or trimmed past what subscribers have: they reset
            return Publication([], [*ended, None], feeds.last_seq())
        last = changes[-1].seq if changes else self.seq
        retention = self._retention
        trim_by_count = self._trim_above is not None and last > self._trim_above
        trim_by_age = retention.max_age is not None and now >= self._next_age_trim
        if changes and (trim_by_count or trim_by_age):
            max_age_ms = None if retention.max_age is None else retention.max_age * 1000
            feeds.trim(keep=retention.max_changes, max_age_ms=max_age_ms, now_ms=now * 1000)
            self._trim_above = self._trim_point(last)
            self._next_age_trim = now + _AGE_TRIM_EVERY
        return Publication(changes, ended, last)

    def publish(self, port: SocketPort, object_key: str, publication: Publication) -> None:
        """Hand a committed transaction's changes and ended feeds to the port."""
        self.seq = publication.seq
        if publication.changes:
            port.feed_changes(object_key, publication.changes)
        for table in publication.ended:
            port.feed_ended(object_key, table)


async def handle_subscribe(act: Activation, event: FeedSubscribe) -> None:
    """Read a subscription's snapshot or replay in one event; answer after commit."""
    answer: FeedAnswer | None = None
    refuse = FeedRefused

    async def body() -> None:
        nonlocal answer
        answer = _read(act, event)

    def reply(_: None) -> None:
        assert answer is not None
        act.port.feed_answer(answer)

    try:
        await act.transact(body, (act.id.hex,), reply=reply)
    except HubError as error:
        act.port.feed_answer(refuse(event.socket_id, event.sub_id, _as_feed_error(act, error)))
    except Exception as exc:
        failure = act.as_rpc_error(exc, "feed_allowed")
        act.port.feed_answer(refuse(event.socket_id, event.sub_id, failure))


def _read(act: Activation, event: FeedSubscribe) -> FeedAnswer:
    feeds = act.storage.feeds
    if event.table not in feeds.tables():
        raise NoSuchFeedError(f"{event.table!r} is not a feed table of this object")
    columns, keys = feeds.shape(event.table)
    if event.snapshot and event.since is not None:
        raise BadSubscriptionError("give snapshot or since, not both")
    try:
        compile_where(event.where, columns)
    except WhereError as exc:
        raise BadSubscriptionError(str(exc)) from None
    if event.columns is not None:
        unknown = [c for c in event.columns if c not in columns]
        if unknown:
            raise BadSubscriptionError(f"unknown columns {unknown!r} (the table has {columns!r})")
    allowed = getattr(act.instance, "feed_allowed", None)
    if allowed is not None and not allowed(act.websocket(event.socket_id), event.table):
        raise ForbiddenError(f"the object refused a subscription to {event.table!r}")
    rows = changes = None
    if event.snapshot:
        rows = feeds.snapshot(event.table)
    elif event.since is not None:
        try:
            changes = feeds.since(event.since, [event.table])
        except FeedReset:
            return FeedResetNeeded(event.socket_id, event.sub_id)
    return FeedOpened(
        socket_id=event.socket_id,
        sub_id=event.sub_id,
        table=event.table,
        where=event.where,
        columns=event.columns,
        table_columns=columns,
        keys=keys,
        seq=feeds.last_seq(),
        rows=rows,
        changes=changes,
    )


def _as_feed_error(act: Activation, error: HubError) -> HubError:
    if isinstance(error, NoSuchFeedError | BadSubscriptionError | ForbiddenError):
        return error
    if error.code in ("activation_failed", "overloaded", "hub_stopping", "object_error"):
        return error
    log.error("subscription on %r failed", act.id, exc_info=error)
    return InternalError("internal error")


def refuse_subscribe(act: Activation, sub: FeedSubscribe, error: RpcError) -> None:
    """Refuse the subscription with ``error`` (the object cannot run the event)."""
    act.port.feed_answer(FeedRefused(sub.socket_id, sub.sub_id, error))
