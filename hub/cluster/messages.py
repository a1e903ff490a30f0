"""The messages between gateways and workers, and their tuple forms.

Every message is a tuple whose first item is its kind; only builtins, ids and bytes
cross. Gateway to worker (events and socket facts)::

    sync      records, auto_responses, presence   the partition's sockets (on taking over)
    gone      socket                               the gateway dropped a socket
    auto_at   socket, epoch seconds                it auto-responded on a socket
    msg       binding, hex, name, socket, data, session, message id   a ``SocketMessage``
    event     object, event                        any other socket or feed event
    fetch     call, object, request, chain         ``FetchCall``, answered by fetched/failed
    call      call, object, method, args, kwargs, chain, form   ``RpcCall``, answered by result
    barrier   barrier, object                      answered by ``reached``
    hibernate call, object / report call / list call         admin, answered by result
    inspect   call, object                         the inspector's facts, answered by result
    result    call, ok, value | error              the answer to a worker's ``call``
    fetched call, status, headers, body / failed call, error   the answer to a ``fetch``
    retire                                         stop taking events: a new worker is here

Worker to gateway (commands and answers)::

    hello     version, index, count, generation, handlers   a worker for partition index
              of count, speaking ``WIRE_VERSION`` of these messages
    accept socket, object, tags / abandon socket / tags socket, tags
    attachment socket, bytes | None / send socket, data / close socket, code, reason
    broadcast object, data, tag, exclude           one per gateway, never one per socket
    ack       socket, message id, error | None
    answer    socket, auth id, result, error | None  the answer to an ``auth`` frame
    auto_response object, request, response / presence object, socket, state
    feed_answer answer / feed_changes object, changes / feed_ended object, table
    fetched   call, status, headers, body / failed call, error
    result    call, ok, value | error / reached barrier
    call      call, object, method, args, kwargs, chain     a call to another worker's object
    fetch     call, object, request, chain         ``stub.fetch`` to another worker's object
    retired                                        every event is handled and committed
    tail      at, kind, level, object, socket, detail, message   an event of its log

An object is ``(binding, hex, name)``; an error ``(code, message, type name)``.

``WIRE_VERSION`` changes with any change of these forms. Gateways outlive a ``roost
reload`` and workers do not, so a worker of another Roost version could meet old
gateways: a gateway turns away a ``hello`` of another version (a Roost upgrade needs a
full restart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.errors import (
    ActivationError,
    HubError,
    InternalError,
    RemoteError,
    RpcError,
    WebSocketError,
    WebSocketInternalError,
)
from hub.http import Request, Response
from hub.ids import ObjectId
from hub.runtime.events import (
    Event,
    FeedSubscribe,
    SocketAuth,
    SocketClosed,
    SocketErrored,
    SocketMessage,
)
from hub.runtime.ports import (
    FeedAnswer,
    FeedOpened,
    FeedRefused,
    FeedResetNeeded,
    ObjectFacts,
    ObjectStats,
)
from hub.storage.feeds import Change

if TYPE_CHECKING:
    from hub.net.tail import Fields

__all__ = [
    "WIRE_VERSION",
    "WireObject",
    "change_from_wire",
    "change_to_wire",
    "error_from_wire",
    "error_to_wire",
    "event_from_wire",
    "event_to_wire",
    "facts_from_wire",
    "facts_to_wire",
    "feed_answer_from_wire",
    "feed_answer_to_wire",
    "message_from_wire",
    "message_head",
    "message_to_wire",
    "object_from_wire",
    "object_to_wire",
    "request_from_wire",
    "request_to_wire",
    "response_from_wire",
    "tail_from_wire",
]

#: The version of these message forms (the ``hello``'s first item); 2: socket messages
#: as a flat ``msg``.
WIRE_VERSION = 2

WireObject = tuple[str, str, str | None]
WireError = tuple[str, str, str | None]


def object_to_wire(object_id: ObjectId) -> WireObject:
    """``(binding, hex, name)``."""
    return (object_id.binding, object_id.hex, object_id.name)


def object_from_wire(value: Any) -> ObjectId:
    """The ``ObjectId`` of ``(binding, hex, name)``."""
    binding, hex_id, name = value
    return ObjectId(binding, hex_id, name)


# -- errors --------------------------------------------------------------------------


def _classes(root: type[HubError]) -> list[type[HubError]]:
    """``root`` and its subclasses declared in ``hub.errors`` (the public ones; others,
    like a feed's internal reset, never cross a link), depth first."""
    found = [root] if root.__module__ == HubError.__module__ else []
    for sub in root.__subclasses__():
        found += _classes(sub)
    return found


#: code -> the most specific class raising it (depth-first order: a subclass sharing
#: its parent's code comes later and wins). An ``RpcError`` that is also of another
#: branch (an ``HttpError``, like ``TokenRejectedError``) is kept apart in
#: ``_CALL_BRIDGES``: a call's error with their code comes back as them, any other
#: family keeps the plain class.
_BY_CODE: dict[str, type[HubError]] = {}
_CALL_BRIDGES: dict[str, type[HubError]] = {}
for _cls in _classes(HubError):
    if issubclass(_cls, RpcError) and any(
        issubclass(base, HubError) and not issubclass(base, RpcError) for base in _cls.__bases__
    ):
        _CALL_BRIDGES[_cls.code] = _cls
    else:
        _BY_CODE[_cls.code] = _cls


def error_to_wire(error: HubError) -> WireError:
    """``(code, message, type name of a remote error)``."""
    type_name = error.type_name if isinstance(error, RemoteError) else None
    message = error.message if isinstance(error, RemoteError) else str(error)
    return (error.code, message, type_name)


def error_from_wire(value: Any, family: type[HubError] = RpcError) -> HubError:
    """The error of ``(code, message, type name)``, a subclass of ``family`` when the
    code has one there (``internal_error`` is ``InternalError`` for calls,
    ``WebSocketInternalError`` for sockets)."""
    code, message, type_name = value
    if code == "activation_failed":
        return ActivationError(type_name or "Exception", message)
    if code == "object_error":
        return RemoteError(type_name or "Exception", message)
    if code == "internal_error":
        return (
            WebSocketInternalError(message) if family is WebSocketError else InternalError(message)
        )
    cls = _BY_CODE.get(code)
    if (cls is None or not issubclass(cls, family)) and family is RpcError:
        cls = _CALL_BRIDGES.get(code, cls)
    if cls is None or not issubclass(cls, family):
        return InternalError(message) if family is RpcError else HubError(message)
    return cls(message)


# -- requests ------------------------------------------------------------------------


def request_to_wire(request: Request) -> tuple[Any, ...]:
    """``(method, url, headers, body, upgrade id, client)``; client ``[host, port]``."""
    return (
        request.method,
        request.url,
        request.headers.raw_items(),
        request.raw_body,
        request.upgrade_id,
        None if request.client is None else list(request.client),
    )


def request_from_wire(value: Any) -> Request:
    """The ``Request`` of ``request_to_wire``."""
    method, url, headers, body, upgrade_id, client = value
    # ``headers`` arrive as [name, value] lists: ``Headers`` takes them as they are.
    return Request(method, url, headers, body, upgrade_id=upgrade_id, client=client)


def response_from_wire(ok: bool, value: Any) -> Response | RpcError:
    """The answer of ``fetched`` (``ok``: ``(status, headers, body)``) or ``failed``."""
    if not ok:
        error = error_from_wire(value)
        assert isinstance(error, RpcError)
        return error
    status, headers, body = value
    return Response(body, status, headers)  # [name, value] lists, as ``Headers`` takes them


# -- events --------------------------------------------------------------------------


def message_head(object_id: ObjectId) -> tuple[str, str, str, str | None]:
    """The first items of every ``msg`` message to the object (see ``message_to_wire``)."""
    return ("msg", object_id.binding, object_id.hex, object_id.name)


def message_to_wire(head: tuple[Any, ...], event: SocketMessage) -> tuple[Any, ...]:
    """The ``msg`` message: ``(kind, binding, hex, name, socket, data, session, message
    id)``, ``head`` (``message_head``) being its first four items. The most frequent
    event of all travels flat, its object spelled out in it: nothing nested to build on
    one side and take apart on the other."""
    return (*head, event.socket_id, event.data, event.session, event.message_id)


def message_from_wire(value: Any) -> tuple[str, str, str | None, SocketMessage]:
    """The binding, hex and name of the object and the event of ``message_to_wire``."""
    _kind, binding, hex_id, name, socket_id, data, session, message_id = value
    return binding, hex_id, name, SocketMessage(socket_id, data, session, message_id)


def event_to_wire(event: Event) -> tuple[Any, ...]:
    """A socket or feed event other than a message (``message_to_wire``; calls and
    fetches travel as their own messages)."""
    if isinstance(event, SocketAuth):
        return ("auth", event.socket_id, event.call_id, event.token)
    if isinstance(event, SocketClosed):
        return (
            "closed",
            event.socket_id,
            event.code,
            event.reason,
            event.was_clean,
            list(event.tags),
            event.attachment,
        )
    if isinstance(event, SocketErrored):
        return (
            "errored",
            event.socket_id,
            error_to_wire(event.error),
            list(event.tags),
            event.attachment,
        )
    if isinstance(event, FeedSubscribe):
        return (
            "sub",
            event.socket_id,
            event.sub_id,
            event.table,
            event.where,
            event.columns,
            event.snapshot,
            event.since,
        )
    raise TypeError(f"not a wire event: {type(event).__name__}")


def event_from_wire(value: Any) -> Event:
    """The event of ``event_to_wire``."""
    kind = value[0]
    if kind == "auth":
        return SocketAuth(value[1], value[2], value[3])
    if kind == "closed":
        return SocketClosed(value[1], value[2], value[3], value[4], tuple(value[5]), value[6])
    if kind == "errored":
        error = error_from_wire(value[2], WebSocketError)
        assert isinstance(error, WebSocketError)
        return SocketErrored(value[1], error, tuple(value[3]), value[4])
    if kind == "sub":
        return FeedSubscribe(*value[1:])
    raise ValueError(f"unknown wire event {kind!r}")


# -- feeds ---------------------------------------------------------------------------


def change_to_wire(change: Change) -> tuple[Any, ...]:
    """A committed change as a tuple."""
    return (change.seq, change.table, change.op, change.pk, change.row, change.at, change.old)


def change_from_wire(value: Any) -> Change:
    """The ``Change`` of ``change_to_wire``."""
    return Change(*value)


def feed_answer_to_wire(answer: FeedAnswer) -> tuple[Any, ...]:
    """A ``FeedAnswer`` as a tuple."""
    if isinstance(answer, FeedOpened):
        changes = None if answer.changes is None else [change_to_wire(c) for c in answer.changes]
        return (
            "opened",
            answer.socket_id,
            answer.sub_id,
            answer.table,
            answer.where,
            answer.columns,
            answer.table_columns,
            answer.keys,
            answer.seq,
            answer.rows,
            changes,
        )
    if isinstance(answer, FeedResetNeeded):
        return ("reset", answer.socket_id, answer.sub_id)
    return ("refused", answer.socket_id, answer.sub_id, error_to_wire(answer.error))


def feed_answer_from_wire(value: Any) -> FeedAnswer:
    """The ``FeedAnswer`` of ``feed_answer_to_wire``."""
    kind = value[0]
    if kind == "opened":
        changes = None if value[10] is None else [change_from_wire(c) for c in value[10]]
        socket_id, sub_id, table, where, columns, table_columns, keys, seq, rows = value[1:10]
        return FeedOpened(
            socket_id, sub_id, table, where, columns, table_columns, keys, seq, rows, changes
        )
    if kind == "reset":
        return FeedResetNeeded(value[1], value[2])
    return FeedRefused(value[1], value[2], error_from_wire(value[3], HubError))


def facts_to_wire(facts: ObjectFacts) -> tuple[Any, ...]:
    """An ``ObjectFacts`` as a tuple of builtins (``ObjectStats`` as a list)."""
    live = facts.live
    return (
        None if live is None else [getattr(live, name) for name in ObjectStats.__slots__],
        facts.has_file,
        facts.feeds,
        facts.last_seq,
        facts.trimmed_through,
        facts.alarm_ms,
        facts.scheduled,
        facts.file_error,
    )


def facts_from_wire(value: Any) -> ObjectFacts:
    """The inverse of ``facts_to_wire``."""
    live, has_file, feeds, last_seq, trimmed, alarm_ms, scheduled, error = value
    return ObjectFacts(
        None if live is None else ObjectStats(*live),
        has_file,
        None if feeds is None else [(str(table), int(seq)) for table, seq in feeds],
        last_seq,
        trimmed,
        alarm_ms,
        None if scheduled is None else (float(scheduled[0]), int(scheduled[1])),
        error,
    )


def tail_from_wire(value: Any) -> Fields:
    """A worker's log event (``hub.net.tail.Fields``) as the gateway's tail takes it."""
    at, kind, level, obj, socket, detail, message = value
    return (
        float(at),
        str(kind),
        str(level),
        None if obj is None else str(obj),
        None if socket is None else int(socket),
        {str(name): item for name, item in dict(detail).items()},
        str(message),
    )
