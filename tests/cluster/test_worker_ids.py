"""``hub.cluster.worker.Worker``: the object ids it hands its runtime for the objects
named in the messages it reads (one per object, as long as its name stays the same)."""

from __future__ import annotations

from pathlib import Path

import hub
from hub.cluster.worker import Worker
from hub.ids import id_from_name


class Room(hub.DurableObject):
    """An object class for the worker's app."""


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
