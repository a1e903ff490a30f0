"""Continuous backup of every object: the settings, the histories, the S3 pusher.

One ``Backups`` per process that runs objects (the one process, or each worker). It
gives each opening object database its ``Shipper``; with an S3 replica it pushes the
histories that changed, every ``push_interval`` seconds, from a worker thread.

Rules:

1. Histories live in ``folder/{hex[:2]}/{hex}/`` (``hub.backup.history``), beside a
   ``object.json`` naming the object's binding and name, so a disaster recovery can
   register the objects again without the application.
2. An object that does not write costs nothing: no timer, no scan; only a shipper that
   appended marks its history for the next push.
3. Lag (the RPO) is the age of the oldest commit not yet in the replica: commits wait
   up to ``FLUSH_DELAY`` (20 ms) to be written to the local history with the ones after
   them (shipper rule 6), and with S3 until the next push.
4. ``gated``: a commit's answers wait until the replica has it (fsync of the local log;
   with S3, the push of that history).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from hub.backup.clean import CleanClose
from hub.backup.history import History
from hub.backup.remote import Mirror, S3Store, Store
from hub.backup.shipper import Shipper
from hub.errors import ConfigurationError

__all__ = ["BackupSettings", "Backups"]

log = logging.getLogger("roost.backup")
DAY_MS = 86_400_000
#: How long a commit may wait to be shipped with the ones after it (shipper rule 6).
FLUSH_DELAY = 0.02
#: Clean closes remembered at most (``hub.backup.clean`` rule 2; a few hundred bytes each).
REMEMBERED_CLOSES = 10_000


@dataclass(frozen=True, slots=True)
class BackupSettings:
    """How objects are backed up (``roost serve --backup-*``)."""

    #: The local history folder; None: ``DATA_DIR/backup``.
    folder: Path | None = None
    #: Days of history kept (point-in-time restore reaches this far back).
    retention_days: float = 30.0
    #: Answers wait until the replica holds the commit.
    gated: bool = False
    #: ``s3://bucket/prefix`` to push histories to (None: the local folder only).
    s3: str | None = None
    #: The S3 endpoint (MinIO, R2, moto ...); None: AWS or ``ROOST_S3_ENDPOINT``.
    s3_endpoint: str | None = None
    #: Seconds between pushes to S3 (bounds the lag).
    push_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.retention_days <= 0:
            raise ConfigurationError("backup retention must be more than 0 days")
        if self.push_interval <= 0:
            raise ConfigurationError("backup push interval must be more than 0 seconds")
        if self.s3 is not None:
            parsed = urlparse(self.s3)
            if parsed.scheme != "s3" or not parsed.netloc:
                raise ConfigurationError(f"not an s3://bucket/prefix URL: {self.s3!r}")


class Backups:
    """The histories of one process's objects, and their push to S3 (rules 1-4)."""

    def __init__(
        self,
        settings: BackupSettings,
        data_dir: Path,
        now: Callable[[], float] = time.time,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.folder = settings.folder or data_dir / "backup"
        self._now = now
        if store is None and settings.s3 is not None:
            parsed = urlparse(settings.s3)
            store = S3Store(parsed.netloc, parsed.path, endpoint_url=settings.s3_endpoint)
        self.mirror = None if store is None else Mirror(store)
        #: Object hex id -> when its oldest unpushed append happened (rule 3).
        self._dirty: dict[str, float] = {}
        #: The histories of objects opened so far, each with its ``object.json`` written
        #: (once a process: a wake pays no stat and no path for it).
        self._histories: dict[str, History] = {}
        #: The record of each evicted object's last clean close, as written here: its
        #: next wake checks it by ``stat`` instead of reading the history (clean rule 2).
        #: Taken out when the object opens, so it is kept for evicted objects only.
        self._clean: dict[str, CleanClose] = {}
        self._retention_ms = int(settings.retention_days * DAY_MS)
        #: The shippers of open objects (their unshipped commits count in the lag).
        self._shippers: weakref.WeakSet[Shipper] = weakref.WeakSet()
        #: Appends counted per object, and how many of them the replica holds.
        self._appended: dict[str, int] = {}
        self._replicated: dict[str, int] = {}
        self._progress: asyncio.Condition | None = None

    def history(self, key: str) -> History:
        """The history of the object whose hex id is ``key``."""
        return History(self.folder / key[:2] / key)

    def shipper(self, key: str, path: Path, binding: str, name: str | None) -> Shipper:
        """A shipper for the object's database at ``path`` (rule 1 records who it is)."""
        history = self._histories.get(key)
        if history is None:
            history = self.history(key)
            marker = history.folder / "object.json"
            if not marker.exists():
                history.folder.mkdir(parents=True, exist_ok=True)
                marker.write_text(json.dumps({"binding": binding, "name": name}))
            self._histories[key] = history
        gated = self.settings.gated
        clean = self._clean

        def remember(record: CleanClose) -> None:
            if len(clean) >= REMEMBERED_CLOSES:
                del clean[next(iter(clean))]  # the oldest: its next wake reads the record
            clean[key] = record

        shipper = Shipper(
            history,
            path,
            self._now_ms,
            sync=gated and self.mirror is None,
            retention_ms=self._retention_ms,
            on_append=None if self.mirror is None else lambda: self._mark(key),
            later=None if gated else _later,
            remembered=clean.pop(key, None),
            remember=remember,
        )
        self._shippers.add(shipper)
        return shipper

    def lag_seconds(self) -> float:
        """Age of the oldest commit not yet in the replica (rule 3)."""
        oldest = [since for s in self._shippers if (since := s.pending_since) is not None]
        oldest += self._dirty.values()
        if not oldest:
            return 0.0
        return max(0.0, self._now() - min(oldest))

    async def replicated(self, key: str) -> None:
        """Wait until the replica holds every append of the object so far (rule 4)."""
        target = self._appended.get(key, 0)
        if self.mirror is None or self._replicated.get(key, 0) >= target:
            return
        if self._progress is None:
            self._progress = asyncio.Condition()
        async with self._progress:
            await self._progress.wait_for(lambda: self._replicated.get(key, 0) >= target)

    async def run(self) -> None:
        """Push changed histories to S3 until cancelled (a last push then)."""
        if self.mirror is None:
            return
        try:
            while True:
                await asyncio.sleep(self.settings.push_interval)
                await self.push()
        finally:
            await asyncio.shield(self.push())

    async def push(self) -> None:
        """Push every history that changed since its last push."""
        if self.mirror is None or not self._dirty:
            return
        batch, self._dirty = self._dirty, {}
        counts = {key: self._appended.get(key, 0) for key in batch}
        mirror = self.mirror
        for key, since in batch.items():
            try:
                await asyncio.to_thread(mirror.push, key, self.history(key))
            except Exception:
                log.exception("pushing the history of %s failed; retrying", key)
                self._dirty[key] = min(since, self._dirty.get(key, since))
                continue
            self._replicated[key] = max(self._replicated.get(key, 0), counts[key])
        if self._progress is not None:
            async with self._progress:
                self._progress.notify_all()

    def _mark(self, key: str) -> None:
        self._dirty.setdefault(key, self._now())
        self._appended[key] = self._appended.get(key, 0) + 1

    def _now_ms(self) -> int:
        return int(self._now() * 1000)


def _later(callback: Callable[[], None]) -> None:
    """Run ``callback`` on the running loop in ``FLUSH_DELAY`` seconds (shipper rule 6)."""
    asyncio.get_running_loop().call_later(FLUSH_DELAY, callback)
