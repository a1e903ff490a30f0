"""The inspector's live event tail: the last events of the hub's structured log.

Rules:

1. One source: the hub's log. ``LogTap`` is a ``logging.Handler`` on the ``roost``
   logger; every structured record (``record.roost`` with an ``event``, built by
   ``hub.logs.extra``: activations, evictions, alarms, accepts, closes, errors) and
   every warning or error becomes one entry (the access log's lines do not: the
   page's own polls would fill the tail). So the tail shows what the log shows, at
   the level it is set to (``roost serve --log-level``, info by default). A worker of
   ``--workers`` taps its own log the same way and sends its events (the structured
   records) to the gateways, which add them with ``add``.
2. Bounded: the newest ``size`` entries are kept; entries are numbered from 1 and a
   reader asks for those after the last number it saw. At most ``max_waiters`` readers
   wait for the next entry at once; a reader past that gets its answer at once.
3. Records may come from any thread: they are handed on on the event loop thread.
4. ``close`` answers every waiting reader and stops waiting, so a stopping hub is never
   held up by a reader.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EventTail", "Fields", "LogTap", "TailEntry"]

#: Log messages in entries are cut to this many characters.
MESSAGE_CHARS = 500
#: Facts of ``record.roost`` an entry has a place for; the others go to its detail.
_NAMED = frozenset({"event", "object", "socket"})


#: An event as builtins: (at, kind, level, object, socket, detail, message); see
#: ``TailEntry``.
Fields = tuple[float, str, str, "str | None", "int | None", dict[str, "str | int | float"], str]


@dataclass(frozen=True, slots=True)
class TailEntry:
    """One event of the tail."""

    seq: int
    #: Epoch seconds.
    at: float
    #: ``activate``, ``evict``, ``accept``, ``close``, ``error``, ``alarm``, ... or the
    #: level (``warning``, ``error``) of a record that is not structured.
    kind: str
    level: str
    #: The object's 64 hex digits and the socket id, when the record names them.
    object: str | None
    socket: int | None
    detail: dict[str, str | int | float]
    message: str


class LogTap(logging.Handler):
    """Hands each event record of a logger, as ``Fields``, to ``sink`` on the loop thread.

    ``events_only``: only structured records (not other warnings).
    """

    def __init__(self, sink: Callable[[Fields], None], *, events_only: bool = False) -> None:
        super().__init__(logging.NOTSET)
        self._sink = sink
        self._events_only = events_only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._logger: logging.Logger | None = None

    def attach(self, logger_name: str = "roost") -> None:
        """Start taking the records of ``logger_name`` (call on the event loop)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._logger = logging.getLogger(logger_name)
        self._logger.addHandler(self)

    def detach(self) -> None:
        """Stop taking records."""
        if self._logger is not None:
            self._logger.removeHandler(self)
            self._logger = None

    def emit(self, record: logging.LogRecord) -> None:
        """``logging.Handler.emit``: hand the record on if it is an event."""
        try:
            facts = getattr(record, "roost", None)
            kind = facts.get("event") if isinstance(facts, dict) else None
            if kind == "access":
                return  # HTTP answers (the page's own polls among them) are not events
            if kind is None and (self._events_only or record.levelno < logging.WARNING):
                return
            fields = _fields(record, kind)
            if threading.get_ident() == self._thread:
                self._sink(fields)
            elif self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._sink, fields)
        except Exception:
            self.handleError(record)


class EventTail:
    """The newest events of the hub's log, and readers waiting for the next one."""

    def __init__(self, size: int = 1000, max_waiters: int = 32) -> None:
        self._entries: deque[TailEntry] = deque(maxlen=size)
        self._seq = 0
        self._max_waiters = max_waiters
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = False
        self._tap = LogTap(self.add)

    @property
    def last_seq(self) -> int:
        """The number of the newest entry (0 before the first)."""
        return self._seq

    def attach(self, logger_name: str = "roost") -> None:
        """Start taking the events of ``logger_name``'s log (call on the event loop)."""
        self._closed = False
        self._tap.attach(logger_name)

    def close(self) -> None:
        """Stop taking events and answer every waiting reader."""
        self._tap.detach()
        self._closed = True
        self._wake()

    def add(self, fields: Fields) -> None:
        """Add one event (from this process's log, or a worker's)."""
        if self._closed:
            return
        self._seq += 1
        self._entries.append(TailEntry(self._seq, *fields))
        self._wake()

    def since(self, after: int) -> list[TailEntry]:
        """The entries numbered above ``after``; all of them when ``after`` is above the
        newest (a number from before a restart)."""
        if after >= self._seq:
            return [] if after == self._seq else list(self._entries)
        first = self._seq - len(self._entries) + 1
        return list(self._entries)[max(0, after + 1 - first) :]

    async def wait(self, after: int, timeout: float) -> list[TailEntry]:  # noqa: ASYNC109
        """``since(after)``, waiting up to ``timeout`` seconds for one if there is none."""
        found = self.since(after)
        if found or self._closed or timeout <= 0 or len(self._waiters) >= self._max_waiters:
            return found
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            self._waiters.discard(waiter)
        return self.since(after)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def _fields(record: logging.LogRecord, kind: object) -> Fields:
    message = record.getMessage()
    if record.exc_info and record.exc_info[0] is not None:
        message += f" ({record.exc_info[0].__name__})"
    facts = getattr(record, "roost", None)
    facts = facts if isinstance(facts, dict) else {}
    detail = {
        name: value
        for name, value in facts.items()
        if name not in _NAMED and isinstance(value, str | int | float)
    }
    socket = facts.get("socket")
    obj = facts.get("object")
    return (
        record.created,
        str(kind) if kind is not None else record.levelname.lower(),
        record.levelname.lower(),
        obj if isinstance(obj, str) else None,
        socket if isinstance(socket, int) else None,
        detail,
        message[:MESSAGE_CHARS],
    )
