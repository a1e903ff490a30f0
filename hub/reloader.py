"""``roost serve --reload``: reload the application when its code changes (development).

Rules:

1. What is watched: every ``.py`` file under the folder of the served file (the
   folder itself for a folder of objects, the current folder for a ``package.module``
   target), skipping ``.git``, ``.venv``,
   ``node_modules``, ``__pycache__`` and the like (watchfiles' ``PythonFilter``). Data
   files (the objects' SQLite files) never trigger a reload.
2. A change does what ``roost reload`` does: one process restarts (sockets close with
   1012, the SDKs reconnect); with ``--workers`` the workers are replaced and every
   socket stays open.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from hub.folder import is_folder_target

__all__ = ["watch", "watched_folder"]

log = logging.getLogger("roost.reload")


def watched_folder(target: str) -> Path:
    """The folder whose Python files the served ``target`` is loaded from."""
    spec = target.partition(":")[0]
    if is_folder_target(spec):
        return Path(spec).resolve()
    if spec.endswith(".py") or os.sep in spec:
        return Path(spec).resolve().parent
    return Path.cwd()


async def watch(target: str, on_change: Callable[[], None]) -> None:
    """Call ``on_change`` after each batch of changes to the code of ``target``."""
    from watchfiles import PythonFilter, awatch

    folder = watched_folder(target)
    log.info("watching %s for changes", folder)
    async for changes in awatch(folder, watch_filter=PythonFilter()):
        names = sorted({Path(path).name for _change, path in changes})
        log.warning("reloading: %s changed", ", ".join(names[:5]))
        on_change()
