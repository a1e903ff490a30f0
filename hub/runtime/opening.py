"""Opening an object, the first thing its activation's task does: its file, then its
instance.

Rules:

1. An object's file is open in one process at a time: the open waits while another
   process still has it (a worker handing its objects over finishes first),
   ``host.lock_timeout`` at most.
2. A file that cannot be opened, or a constructor that raises, fails the activation:
   ``activate`` returns the error and the activation refuses every event with it
   (``hub.runtime.activation`` rule 3).
3. The constructor runs in a transaction of its own, behind the gates
   (``hub.runtime.gates``): the ``block_concurrency_while`` work it starts (migrations)
   ends before the object's feed tables are enabled.
4. After a restore the hub-wide alarm index follows the file's alarm, and every feed
   subscription resets.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING

from hub.errors import ActivationError, InternalError, RpcError
from hub.runtime.context import DurableObjectState
from hub.storage.database import ObjectBusyError, ObjectDatabase

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.runtime.activation import Activation
    from hub.runtime.host import ObjectHost

__all__ = ["activate", "open_database"]

log = logging.getLogger("roost.runtime")


async def activate(act: Activation) -> RpcError | None:
    """Open the object's file and construct its instance: None, or the error every
    event of ``act`` is refused with (rule 2)."""
    host = act.host
    try:
        db = await open_database(host, act.id)
        meta = db.meta
    except (sqlite3.Error, OSError):
        log.exception("cannot open the database of %r", act.id)
        return InternalError("cannot open the object's database")
    act.attach(db)
    stored_name = meta.get("name")
    if act.id.name is None and isinstance(stored_name, str):
        act.id = act.id.with_name(stored_name)
    alarm = meta.get("alarm")
    act.committed_alarm = None if alarm is None else int(alarm)
    if db.shipper is not None and db.shipper.restored_from is not None:
        # A restore: the hub-wide alarm index follows the file's alarm (rule 4).
        await host.scheduler.committed(act.id, act.committed_alarm)
    if db.created:
        await host.note_created(act.id)

    async def construct() -> None:
        if act.id.name is not None and stored_name is None:
            db.write_meta("name", act.id.name)
        if db.shipper is not None and db.shipper.restored_from is not None:
            act.storage.feeds.restored(db.replaced_seq)  # subscribers reset
        act.instance = act.spec.cls(DurableObjectState(act), host.env)
        await act.await_blockers()  # migrations create the feed tables
        for table in act.instance.feeds:
            act.storage.feeds.enable(table)

    try:
        await act.transact(construct, (act.id.hex,))
    except Exception as exc:
        act.instance = None
        log.warning("constructor of %s raised", act.spec.cls.__name__, exc_info=True)
        return ActivationError(type(exc).__name__, str(exc))
    host.emit("activate", act.id)
    return None


async def open_database(host: ObjectHost, object_id: ObjectId) -> ObjectDatabase:
    """Open the object's file, waiting while another process still has it (rule 1)."""
    deadline = asyncio.get_running_loop().time() + host.lock_timeout
    path = host.path_for(object_id)
    backups = host.backups
    while True:
        shipper = None
        if backups is not None:
            shipper = backups.shipper(object_id.hex, path, object_id.binding, object_id.name)
        try:
            return ObjectDatabase(path, host.durability, shipper)
        except ObjectBusyError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.01)
