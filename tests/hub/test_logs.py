"""Structured log records and their JSON form: one object a line, facts as fields."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from datetime import datetime

import orjson
import pytest

from hub.ids import id_from_name
from hub.logs import ACCESS_LOGGER, QUIET_LIBRARIES, JsonFormatter, configure, extra


def _record(message: str, **facts: object) -> logging.LogRecord:
    record = logging.LogRecord("roost.runtime", logging.INFO, __file__, 1, message, (), None)
    record.__dict__.update(facts)
    return record


def test_extra_carries_the_object_and_drops_unknown_fields() -> None:
    object_id = id_from_name("CHAT_ROOM", "lobby")
    assert extra("accept", object_id, socket=7, code=None) == {
        "roost": {
            "event": "accept",
            "binding": "CHAT_ROOM",
            "object": object_id.hex,
            "name": "lobby",
            "socket": 7,
        }
    }
    assert extra("access", status=404) == {"roost": {"event": "access", "status": 404}}


def test_a_json_line_has_time_level_logger_message_and_the_facts() -> None:
    object_id = id_from_name("CHAT_ROOM", "lobby")
    record = _record("evict ...", **extra("evict", object_id, reason="idle"))
    line = orjson.loads(JsonFormatter().format(record))
    assert line["level"] == "info"
    assert line["logger"] == "roost.runtime"
    assert line["message"] == "evict ..."
    assert (line["event"], line["binding"], line["object"], line["name"], line["reason"]) == (
        "evict",
        "CHAT_ROOM",
        object_id.hex,
        "lobby",
        "idle",
    )
    assert line["time"].endswith("Z")  # RFC 3339, UTC
    stamp = datetime.fromisoformat(line["time"].replace("Z", "+00:00"))
    assert abs(stamp.timestamp() - record.created) < 0.001
    assert "process" not in line and "exception" not in line


def test_a_json_line_carries_the_exception_and_the_process() -> None:
    try:
        raise ValueError("bad thing")
    except ValueError:
        info = sys.exc_info()
    record = _record("it failed", **extra("error"))
    record.exc_info = info
    line = orjson.loads(JsonFormatter("worker 1").format(record))
    assert line["process"] == "worker 1"
    assert "ValueError: bad thing" in line["exception"]
    assert "\n" not in JsonFormatter().format(record)  # one line


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    access_level = logging.getLogger(ACCESS_LOGGER).level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    yield
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger(ACCESS_LOGGER).setLevel(access_level)


@pytest.mark.usefixtures("restore_logging")
def test_configure_sets_the_format_and_can_silence_the_access_log() -> None:
    configure("info", "json", access_log=False, process="gateway 0")
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert handler.formatter.process == "gateway 0"
    assert not logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
    configure("debug", "text")
    assert logging.getLogger("roost.runtime").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("an_app").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("websockets.server").isEnabledFor(logging.DEBUG)
    (handler,) = logging.getLogger().handlers
    assert handler.formatter is not None and not isinstance(handler.formatter, JsonFormatter)
    assert logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
    with pytest.raises(ValueError, match="log format must be one of text, json, got 'xml'"):
        configure("info", "xml")
