"""The hub's log records and their two formats: text (for people) and JSON (one object a line).

Rules:

1. A record about something that happened carries its facts in ``record.roost``, a dict
   built by ``extra`` (pass it as ``extra=``): ``event`` always, then those known of
   ``binding``, ``object`` (the 64-hex id), ``name``, ``socket``, ``code`` (a close
   code), ``duration_ms``, ``reason``, ... and, for the access log (``roost.access``),
   ``method``, ``path``, ``status``, ``bytes``, ``peer``. Readers (the JSON format,
   the inspector's tail) read ``record.roost`` and nothing else.
2. Events (the ``event`` values): ``activate``, ``evict``, ``accept``, ``close``,
   ``message`` (debug level), ``error``, ``alarm``, ``alarm_retry``, ``alarm_dropped``,
   ``access``.
3. The text format's lines stay as they were: the message says the same facts in words.
4. Every roost process (``roost serve``, and with ``--workers`` each gateway and worker)
   configures logging here, once, with the same settings: ``configure``.
5. ``debug`` is the hub's and the application's: libraries' debug lines would flood,
   and websockets' carry request lines, tokens included.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from hub.ids import ObjectId

__all__ = ["ACCESS_LOGGER", "FORMATS", "QUIET_LIBRARIES", "JsonFormatter", "configure", "extra"]

#: Accepted by ``--log-format`` (and ``ROOST_LOG_FORMAT``).
FORMATS = ("text", "json")
#: The access log's logger: one line per HTTP answer (``roost serve --no-access-log``).
ACCESS_LOGGER = "roost.access"
#: Libraries whose debug lines are never shown (rule 5).
QUIET_LIBRARIES = ("websockets", "aiosqlite", "watchfiles")
_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def extra(event: str, object_id: ObjectId | None = None, **fields: Any) -> dict[str, Any]:
    """The ``extra=`` of a structured record: ``event``, the object's binding, id and
    name (when given), then ``fields`` whose value is not None."""
    facts: dict[str, Any] = {"event": event}
    if object_id is not None:
        facts["binding"] = object_id.binding
        facts["object"] = object_id.hex
        if object_id.name is not None:
            facts["name"] = object_id.name
    for key, value in fields.items():
        if value is not None:
            facts[key] = value
    return {"roost": facts}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (RFC 3339, UTC), ``level``, ``logger``,
    ``message``, the record's facts (rule 1), ``process`` (in a cluster), ``exception``."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        facts = getattr(record, "roost", None)
        if isinstance(facts, dict):
            line.update(facts)
        if self.process is not None:
            line["process"] = self.process
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return orjson.dumps(line, default=str).decode()


def configure(
    level: str,
    fmt: str = "text",
    *,
    access_log: bool = True,
    process: str | None = None,
) -> None:
    """Set up the root logger for a roost process (rule 4); ``debug`` leaves
    ``QUIET_LIBRARIES`` at info.

    ``process`` names a cluster process (``gateway 0``, ``worker 1``): in brackets in
    text, the ``process`` field in JSON. ``access_log=False`` silences ``roost.access``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        tag = f"[{process}] " if process is not None else ""
        handler.setFormatter(logging.Formatter(_TEXT.replace("%(message)s", f"{tag}%(message)s")))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The libraries' debug lines flood (a line per frame or query), and websockets'
    # print request lines, tokens included: they stay at info.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # Off: a level no record of it has, so the check per answer is one cached lookup.
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET if access_log else logging.CRITICAL)
