"""Restores from outside a running hub: one object to a point in time, or every object
after the data directory was lost (``roost restore``).

Rules:

1. One object: the bookmark (or the last one at or before a time) is restored in place
   under the object's lock, exactly as ``on_next_session_restore_bookmark`` does on the
   object's next start, and its change log is moved past every seq a subscriber saw.
   If a running hub has the object open, the restore is left requested: it happens
   when that hub next starts the object.
2. Every object (disaster recovery): each history in the backup folder (pulled first
   from S3 when one is configured and the folder lacks it) rebuilds its latest point
   into the data directory, unless the object's file is there; ``hub.db`` learns the
   object and its alarm again (the history's ``object.json`` names the binding).
3. Nothing here writes to a history except through the object's own shipper, so a
   recovered object's history goes on without a gap.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from hub.backup.history import Bookmark, BookmarkError, History
from hub.backup.service import Backups
from hub.backup.shipper import request_restore
from hub.errors import ConfigurationError
from hub.ids import ObjectId
from hub.storage.database import ObjectBusyError, ObjectDatabase
from hub.storage.feeds import FeedLog
from hub.storage.layout import object_path
from hub.storage.peek import peek
from hub.storage.registry import Registry

__all__ = ["Recovered", "RestoreError", "restore_all", "restore_object"]


class RestoreError(ConfigurationError):
    """A restore that cannot be done as asked (no history, no such point)."""


@dataclass(frozen=True, slots=True)
class Recovered:
    """What ``restore_object`` did."""

    bookmark: Bookmark
    #: The bookmark of the state the restore replaced (restoring it undoes this one).
    undo: Bookmark | None
    #: False: a running hub has the object open; it restores when it next starts it.
    applied: bool


def resolve(history: History, point: str | float) -> Bookmark:
    """The bookmark ``point`` names: a bookmark string, or epoch seconds (the last point
    at or before it)."""
    if isinstance(point, str):
        try:
            bookmark = Bookmark.parse(point)
        except BookmarkError as exc:
            raise RestoreError(str(exc)) from None
        if bookmark not in set(history.bookmarks()):
            raise RestoreError(f"bookmark {point} is not in this object's history")
        return bookmark
    found = history.at_time(round(point * 1000))
    if found is None:
        raise RestoreError(f"the object's history begins after {point} (epoch seconds)")
    return found


async def restore_object(
    data_dir: Path, backups: Backups, object_id: ObjectId, point: str | float
) -> Recovered:
    """Restore one object to ``point`` (rule 1)."""
    key = object_id.hex
    history = backups.history(key)
    if not history.generations():
        raise RestoreError(
            f"no backup of {object_id.binding} {object_id.name!r} in {backups.folder}"
        )
    bookmark = resolve(history, point)
    undo = history.latest()
    request_restore(history, bookmark)
    path = object_path(data_dir, key)
    shipper = backups.shipper(key, path, object_id.binding, object_id.name)
    try:
        db = ObjectDatabase(path, "normal", shipper)
    except ObjectBusyError:
        return Recovered(bookmark, undo, applied=False)
    try:
        db.begin()
        FeedLog(db).restored(db.replaced_seq)
        db.commit()
        alarm = db.read_meta().get("alarm")
    finally:
        db.close()
    await _register(data_dir, object_id.binding, key, object_id.name, alarm)
    return Recovered(bookmark, undo, applied=True)


async def restore_all(data_dir: Path, backups: Backups) -> list[tuple[str, Bookmark]]:
    """Rebuild every object whose file is missing from its latest point (rule 2)."""
    if backups.mirror is not None:
        for key in backups.mirror.names():
            history = backups.history(key)
            if not history.generations():
                backups.mirror.pull(key, history)
    done: list[tuple[str, Bookmark]] = []
    for marker in sorted(backups.folder.glob("*/*/object.json")):
        key = marker.parent.name
        history = backups.history(key)
        latest = history.latest()
        path = object_path(data_dir, key)
        if latest is None or path.exists():
            continue
        facts = json.loads(marker.read_text())
        path.parent.mkdir(parents=True, exist_ok=True)
        history.rebuild(latest, path)
        found = peek(path)
        alarm = None if found is None else found.alarm_ms
        await _register(data_dir, str(facts["binding"]), key, facts.get("name"), alarm)
        done.append((key, latest))
    return done


async def _register(
    data_dir: Path, binding: str, key: str, name: str | None, alarm: object
) -> None:
    registry = Registry(data_dir / "hub.db")
    await registry.open()
    try:
        await registry.record_object(binding, key, name, time.time())
        if alarm is None:
            await registry.delete_alarm(key)
        else:
            await registry.set_alarm(binding, key, int(str(alarm)) / 1000)
    finally:
        await registry.close()
