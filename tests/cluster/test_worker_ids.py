"""``hub.cluster.worker.Worker``: the object ids it hands its runtime for the objects
named in the messages it reads (one per object, as long as its name stays the same)."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import msgspec

import hub
from hub.cluster.messages import message_head, message_to_wire
from hub.cluster.wire import Link
from hub.cluster.worker import Worker
from hub.ids import ObjectId, id_from_name
from hub.runtime.events import Event, SocketMessage


class Room(hub.DurableObject):
    """An object class for the worker's app."""


class Transport(asyncio.Transport):
    """Where the link writes (nothing is written in these tests)."""


def frame(*messages: tuple[Any, ...]) -> bytes:
    """One link frame (``hub.cluster.wire`` rule 1) holding ``messages``."""
    payload = msgspec.msgpack.encode(list(messages))
    return struct.pack(">I", len(payload)) + payload


def worker_in(directory: Path) -> Worker:
    app = hub.Hub({"ROOM": Room})
    app.configure(data_dir=directory / "data")
    return Worker(
        app,
        index=0,
        count=1,
        gateways=1,
        generation=0,
        run_dir=directory,
        shutdown_timeout=1.0,
    )


def test_every_message_of_an_object_gets_the_same_id(tmp_path: Path) -> None:
    worker = worker_in(tmp_path)
    hex_id = id_from_name("ROOM", "lobby").hex
    first = worker._object_of("ROOM", hex_id, "lobby")
    assert (first.binding, first.hex, first.name) == ("ROOM", hex_id, "lobby")
    assert worker._object_of("ROOM", hex_id, "lobby") is first
    assert worker.mirror.objects[hex_id] is first  # what names it if its gateway goes


def test_an_object_named_differently_gets_an_id_with_that_name(tmp_path: Path) -> None:
    worker = worker_in(tmp_path)
    hex_id = id_from_name("ROOM", "lobby").hex
    unnamed = worker._object_of("ROOM", hex_id, None)
    named = worker._object_of("ROOM", hex_id, "lobby")
    assert (unnamed.name, named.name) == (None, "lobby")
    assert worker._object_of("ROOM", hex_id, "lobby") is named
    assert worker.mirror.objects[hex_id] is named


def test_msg_messages_reach_the_object_by_the_id_their_name_gives(tmp_path: Path) -> None:
    """``msg`` (handled in ``Worker._on_message`` itself, the most frequent message)
    reaches the host with the id ``_object_of`` gives, message after message, also
    when the name a socket used changes; the event is the one the gateway sent."""
    worker = worker_in(tmp_path)
    worker._released = True  # every gateway's sockets are here: events are handled
    submitted: list[tuple[ObjectId, Event]] = []
    worker.host.submit = lambda object_id, event: submitted.append((object_id, event))  # type: ignore[method-assign]
    room = id_from_name("ROOM", "lobby")
    link = Link(worker._on_message, lambda link: None)
    sent = [
        SocketMessage(7, "hi"),
        SocketMessage(7, b"\x00bytes"),
        SocketMessage(8, "once", "session-1", 41),
        SocketMessage(8, "twice", "session-1", 42),
        SocketMessage(7, "hi"),
    ]
    names = ["lobby", "lobby", None, None, "lobby"]
    heads = [message_head(ObjectId("ROOM", room.hex, name)) for name in names]
    messages = [message_to_wire(head, event) for head, event in zip(heads, sent, strict=True)]
    link.data_received(frame(*messages[:2]))  # the link's batches, as a gateway sends them
    link.data_received(frame(*messages[2:]))
    ids = [object_id for object_id, _event in submitted]
    assert [object_id.name for object_id in ids] == names
    assert ids[0] is ids[1] and ids[2] is ids[3]  # one id per object while its name stays
    assert {object_id.hex for object_id in ids} == {room.hex}
    assert worker.mirror.objects[room.hex] is ids[4]  # what names it if its gateway goes
    assert [event for _id, event in submitted] == sent


async def test_msg_messages_wait_for_the_sockets_of_every_gateway(tmp_path: Path) -> None:
    """Until every gateway sent its sockets, a ``msg`` waits; then it is handled, in
    order (``Worker._release``)."""
    worker = worker_in(tmp_path)
    submitted: list[tuple[ObjectId, Event]] = []
    worker.host.submit = lambda object_id, event: submitted.append((object_id, event))  # type: ignore[method-assign]
    link = Link(worker._on_message, lambda link: None)
    link.connection_made(Transport())
    room = id_from_name("ROOM", "lobby")
    sent = [SocketMessage(7, "first"), SocketMessage(7, "second")]
    link.data_received(frame(*(message_to_wire(message_head(room), event) for event in sent)))
    assert submitted == []
    worker._release()
    assert [event for _id, event in submitted] == sent
    for task in worker._tasks:  # the alarm scheduler the release started
        task.cancel()
