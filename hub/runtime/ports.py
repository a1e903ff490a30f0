"""The two halves of the seam between the network front and the object host.

``HostPort`` is what the front may ask of the objects: submit an event, call a method,
wait behind the queued events, and read facts for the admin API. ``ObjectHost``
implements it in one process; a gateway implements it over its links to the workers
(``hub.cluster``).

``SocketPort`` is what an object may ask of the front (commands). The runtime never
imports the front: it holds a ``SocketPort`` and calls it. Calls that change what
clients see (``send``, ``broadcast``, ``close``) are made only from the output gate,
after the event's writes committed. The rest (accepting, tags, attachments,
auto-responses) take effect at once, as in the anchor.

Sockets are named by the front's integer ids (an upgrade's socket id is chosen by the
front before the object sees the request, so accepting needs no answer); objects by
their 64-hex-digit key. Only builtins, ids and the plain dataclasses of
``hub.runtime.events`` and this module cross the seam, so either half can move into
another process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import ConfigurationError, HubError
from hub.histograms import Wire
from hub.storage.feeds import Change

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.runtime.events import Event

__all__ = [
    "DetachedPort",
    "FeedAnswer",
    "FeedOpened",
    "FeedRefused",
    "FeedResetNeeded",
    "HostPort",
    "HubStats",
    "ObjectFacts",
    "ObjectStats",
    "SocketPort",
]


@dataclass(frozen=True, slots=True)
class FeedOpened:
    """A subscription's snapshot (``rows``) or replay (``changes``), read in one event at
    change ``seq``; live changes above ``seq`` follow it."""

    socket_id: int
    sub_id: int
    table: str
    where: list[Any]
    #: The columns the subscriber asked for (None: all), and every column of the table.
    columns: list[str] | None
    table_columns: list[str]
    keys: list[str]
    seq: int
    rows: list[dict[str, Any]] | None = None
    changes: list[Change] | None = None


@dataclass(frozen=True, slots=True)
class FeedResetNeeded:
    """The changes after the subscriber's ``since`` were trimmed: it must take a snapshot."""

    socket_id: int
    sub_id: int


@dataclass(frozen=True, slots=True)
class FeedRefused:
    """The subscription was refused (unknown table, bad filter, forbidden, ...)."""

    socket_id: int
    sub_id: int
    error: HubError


FeedAnswer = FeedOpened | FeedResetNeeded | FeedRefused


@dataclass(frozen=True, slots=True)
class ObjectStats:
    """One live object, and why it is not evicted yet."""

    binding: str
    id: str
    name: str | None
    queued: int
    idle_seconds: float
    not_evictable: list[str]


@dataclass(frozen=True, slots=True)
class HubStats:
    """Counts over the whole hub (every worker), plus every live object."""

    active: int
    evicted: int
    activations: int
    evictions: int
    alarms_scheduled: int
    objects: list[ObjectStats]
    #: Latency histograms by kind and binding, in their wire form (``hub.histograms``).
    latencies: Wire = field(default_factory=dict)
    #: Age of the oldest commit not yet in the backup replica (the RPO; 0: none behind),
    #: None when backups are off (``hub.backup``).
    backup_lag_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ObjectFacts:
    """What the host tells of one object without waking it (the inspector).

    The feed and alarm facts come from the object's file, read-only
    (``hub.storage.peek``): what is committed. ``file_error`` says why they are unknown
    (None), when the file could not be read.
    """

    #: Why it is not evicted yet, while it is live; None when it is not live.
    live: ObjectStats | None
    #: False when the object never had a file (nothing was ever stored).
    has_file: bool
    #: ``(table, seq)`` per feed table, and the newest seq of the change log.
    feeds: list[tuple[str, int]] | None
    last_seq: int | None
    trimmed_through: int | None
    #: The alarm stored in the file (epoch milliseconds).
    alarm_ms: int | None
    #: The scheduler's entry: ``(epoch seconds, retry count)`` of its next firing.
    scheduled: tuple[float, int] | None
    file_error: str | None = None


class HostPort(Protocol):
    """What the network front may ask of the objects (``ObjectHost`` in one process, the
    gateway's worker links in several)."""

    def object_id(self, binding: str, name: str) -> ObjectId:
        """The id of ``name`` in ``binding`` (``UnknownBindingError`` if unknown)."""

    def parse_id(self, binding: str, hex_id: str) -> ObjectId:
        """The id ``hex_id`` of ``binding`` (``UnknownBindingError``, ``InvalidIdError``)."""

    def handles(self, binding: str, handler: str) -> bool:
        """True if the class bound to ``binding`` defines ``handler`` (the front does not
        wake an object for a close or error it would not handle)."""

    def submit(self, object_id: ObjectId, event: Event) -> None:
        """Queue ``event`` for the object, waking it if it is evicted."""

    def call_wire(
        self,
        object_id: ObjectId,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
        *,
        form: bool = False,
    ) -> asyncio.Future[Any]:
        """Queue an RPC call with builtins arguments (with ``form``: ``kwargs`` are HTML
        form fields, name -> list of texts); the future gets the builtins result or an
        ``RpcError``."""

    def after_queued(self, object_id: ObjectId, reached: Callable[[], None]) -> None:
        """Call ``reached`` once the events queued for the object so far are handled and
        their output sent (at once when it is not live; never wakes it)."""

    def socket_gone(self, object_id: ObjectId, socket_id: int) -> None:
        """The front dropped one of the object's sockets (before any ``SocketClosed``).
        A worker's mirror of the sockets forgets it; in one process, nothing to do."""

    def auto_responded(self, object_id: ObjectId, socket_id: int, at: float) -> None:
        """The front answered an auto-response on the socket at ``at`` without an event
        (``auto_response_timestamp`` reads it)."""

    async def hibernate(self, object_id: ObjectId) -> bool:
        """Evict the object once its queued events are done; False if it was not live."""

    async def report(self) -> HubStats:
        """Counts, latency histograms and the live objects (the admin API, metrics); with
        several workers, their counts and histograms added up."""

    async def list_objects(self) -> list[tuple[str, str, str | None]]:
        """``(binding, id, name)`` of every object with a file."""

    async def inspect(self, object_id: ObjectId) -> ObjectFacts:
        """The object's liveness, feeds and alarm, read without waking it."""


class SocketPort(Protocol):
    """Implemented by the network front (``hub.net.commands.Commands``)."""

    def accept(self, upgrade_id: int, object_key: str, tags: Sequence[str]) -> int:
        """Register the pending upgrade as a socket of ``object_key``; its id, which is
        ``upgrade_id`` (the front chose it with the request)."""

    def abandon(self, socket_id: int) -> None:
        """Forget a socket accepted by an event that did not complete the upgrade."""

    def socket_ids(self, object_key: str, tag: str | None) -> list[int]:
        """Ids of the object's OPEN sockets (with ``tag``), in accept order."""

    def tags(self, socket_id: int) -> tuple[str, ...]:
        """The socket's tags."""

    def set_tags(self, socket_id: int, tags: Sequence[str]) -> None:
        """Replace the socket's tags (limits checked)."""

    def attachment(self, socket_id: int) -> bytes | None:
        """The socket's serialized attachment."""

    def set_attachment(self, socket_id: int, data: bytes | None) -> None:
        """Replace the socket's serialized attachment (limit checked)."""

    def ready_state(self, socket_id: int) -> int:
        """1 open, 2 closing, 3 closed (the WebSocket readyState values)."""

    def send(self, socket_id: int, data: str | bytes) -> None:
        """Send one message to one socket (dropped if it is no longer open)."""

    def broadcast(
        self, object_key: str, data: str | bytes, tag: str | None, exclude: Collection[int]
    ) -> int:
        """Send one message to every OPEN socket of the object; how many got it."""

    def close(self, socket_id: int, code: int, reason: str) -> None:
        """Start the closing handshake of a socket."""

    def acknowledge(self, socket_id: int, message_id: int, error: HubError | None) -> None:
        """Tell a roost.v1 client its message is handled (``ack``, or ``error`` if the
        handler raised)."""

    def answer(self, socket_id: int, call_id: int, result: Any, error: HubError | None) -> None:
        """Answer a roost.v1 ``auth`` frame: ``result`` (builtins), or ``error`` if the
        handler refused the token or failed (protocol/SPEC.md §6.6)."""

    def set_auto_response(self, object_key: str, request: str | None, response: str | None) -> None:
        """Set (or with two Nones, clear) the object's auto-response pair."""

    def auto_response(self, object_key: str) -> tuple[str, str] | None:
        """The object's auto-response pair."""

    def feed_answer(self, answer: FeedAnswer) -> None:
        """Answer a ``FeedSubscribe``: send the snapshot or replay and register the
        subscription (or refuse it). Called right after the event committed."""

    def feed_changes(self, object_key: str, changes: Sequence[Change]) -> None:
        """The committed changes of one event, in seq order, for the subscribers."""

    def feed_ended(self, object_key: str, table: str | None) -> None:
        """The object's feed ``table`` stopped (or, with None, its storage was deleted):
        end those subscriptions."""

    def set_presence(self, socket_id: int, state: bytes | None) -> None:
        """Set (JSON bytes) or clear (None) the socket's presence state."""

    def presence_members(self, object_key: str) -> list[tuple[int, bytes]]:
        """The object's members: (socket id, JSON state), in join order."""

    def auto_response_timestamp(self, socket_id: int) -> float | None:
        """When the front last auto-responded on the socket (epoch seconds)."""


class DetachedPort:
    """The port while no front is attached: no sockets, but settings are kept.

    An object used only through RPC (or before ``hub.serve``) may still set its
    auto-response in its constructor; the front takes the settings over when it attaches.
    """

    def __init__(self) -> None:
        self.auto_responses: dict[str, tuple[str, str]] = {}

    def accept(self, upgrade_id: int, object_key: str, tags: Sequence[str]) -> int:
        """Refused: there is no front to own the socket."""
        raise ConfigurationError("WebSockets need the network front: serve the hub")

    def abandon(self, socket_id: int) -> None:
        """Nothing to forget."""

    def socket_ids(self, object_key: str, tag: str | None) -> list[int]:
        """No sockets."""
        return []

    def tags(self, socket_id: int) -> tuple[str, ...]:
        """No sockets, no tags."""
        return ()

    def set_tags(self, socket_id: int, tags: Sequence[str]) -> None:
        """Refused: the socket does not exist here."""
        raise KeyError(f"unknown socket id: {socket_id}")

    def attachment(self, socket_id: int) -> bytes | None:
        """No sockets, no attachments."""
        return None

    def set_attachment(self, socket_id: int, data: bytes | None) -> None:
        """Refused: the socket does not exist here."""
        raise KeyError(f"unknown socket id: {socket_id}")

    def ready_state(self, socket_id: int) -> int:
        """Every socket is closed."""
        return 3

    def send(self, socket_id: int, data: str | bytes) -> None:
        """Dropped: no socket is open."""

    def broadcast(
        self, object_key: str, data: str | bytes, tag: str | None, exclude: Collection[int]
    ) -> int:
        """Nobody to send to."""
        return 0

    def close(self, socket_id: int, code: int, reason: str) -> None:
        """Nothing to close."""

    def acknowledge(self, socket_id: int, message_id: int, error: HubError | None) -> None:
        """No client to tell."""

    def answer(self, socket_id: int, call_id: int, result: Any, error: HubError | None) -> None:
        """No client to tell."""

    def set_auto_response(self, object_key: str, request: str | None, response: str | None) -> None:
        """Keep the pair until a front attaches."""
        if request is None and response is None:
            self.auto_responses.pop(object_key, None)
        elif request is None or response is None:
            raise ValueError("an auto-response needs both a request and a response")
        else:
            self.auto_responses[object_key] = (request, response)

    def auto_response(self, object_key: str) -> tuple[str, str] | None:
        """The pair kept for the object."""
        return self.auto_responses.get(object_key)

    def auto_response_timestamp(self, socket_id: int) -> float | None:
        """Never: no socket."""
        return None

    def feed_answer(self, answer: FeedAnswer) -> None:
        """No socket subscribed."""

    def feed_changes(self, object_key: str, changes: Sequence[Change]) -> None:
        """No subscribers."""

    def feed_ended(self, object_key: str, table: str | None) -> None:
        """No subscribers."""

    def set_presence(self, socket_id: int, state: bytes | None) -> None:
        """Refused: the socket does not exist here."""
        raise KeyError(f"unknown socket id: {socket_id}")

    def presence_members(self, object_key: str) -> list[tuple[int, bytes]]:
        """No members."""
        return []
