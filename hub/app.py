"""``hub.Hub``: an application's object classes, its data directory and its runtime."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from hub.alarms import RetryPolicy
from hub.backup.service import BackupSettings
from hub.clock import Clock, SystemClock
from hub.databases.database_object import database_class
from hub.databases.settings import BINDING as DATABASE_BINDING
from hub.databases.settings import DatabaseSettings
from hub.errors import ConfigurationError, InvalidIdError
from hub.ids import ObjectId
from hub.limits import Limits
from hub.net.forwarded import parse_trusted
from hub.object import DurableObject
from hub.runtime.host import HubStats, LifecycleEvent, ObjectHost
from hub.runtime.stub import Env
from hub.storage.database import Durability

if TYPE_CHECKING:
    from hub.net.front import Router
    from hub.net.server import Server

__all__ = ["Hub"]


class Hub:
    """A Roost application: ``Hub(objects={"COUNTER": Counter})``.

    ``async with hub:`` starts the runtime (opens ``data_dir/hub.db``, starts alarms)
    and stops it on exit, letting queued events finish. Objects are reached through
    ``hub.env.BINDING``.

    Args:
        objects: binding name (UPPER_SNAKE_CASE) to ``DurableObject`` subclass.
        data_dir: where every object's SQLite file and ``hub.db`` live.
        idle_timeout: seconds without an event before an object is evicted.
        durability: ``"normal"`` survives a process crash; ``"full"`` also power loss
            (an fsync per commit).
        clock: time source for eviction and alarms (``FakeClock`` in tests).
        alarm_retry: how failing ``alarm()`` handlers are retried.
        limits: sizes and counts the hub enforces.
        vars: plain values objects read from ``env`` (like the anchor's env vars).
        router: ``router(request)`` (may be async) answers a request itself (returns a
            ``Response``: auth, redirects), routes it to ``(binding, name)`` (per-tenant
            routing), or returns None for the default routes.
        databases: True (or a ``DatabaseSettings``) binds the built-in database class to
            ``DATABASE`` and serves it under ``/db/`` (docs/databases.md).
        trusted_proxies: addresses or CIDR networks (a list, or one comma-separated
            string) of the proxies in front of the hub: a request from one of them gets
            its ``request.client`` from ``X-Forwarded-For`` (``hub.net.forwarded``).
        backup: continuous backup of every object, for point-in-time restore
            (``ctx.storage.get_bookmark_for_time``) and disaster recovery: ``True``
            (the default) keeps 30 days in ``DATA_DIR/backup``; a
            ``hub.BackupSettings`` chooses the folder, the retention, an S3 replica and
            gated durability; ``False`` turns it off.
    """

    def __init__(
        self,
        objects: Mapping[str, type[DurableObject]],
        *,
        data_dir: str | Path = ".roost",
        idle_timeout: float = 10.0,
        durability: Durability = "normal",
        clock: Clock | None = None,
        alarm_retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        vars: Mapping[str, object] | None = None,
        router: Router | None = None,
        databases: bool | DatabaseSettings = False,
        trusted_proxies: str | Sequence[str] = (),
        backup: BackupSettings | bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._objects = objects
        self.router = router
        self.trusted_proxies = parse_trusted(trusted_proxies)
        self.running = False
        self._options: dict[str, Any] = {
            "classes": objects,
            "base": DurableObject,
            "data_dir": self.data_dir,
            "clock": clock or SystemClock(),
            "idle_timeout": idle_timeout,
            "durability": durability,
            "retry_policy": alarm_retry or RetryPolicy(),
            "limits": limits or Limits(),
            "vars": vars or {},
            "backup": _backup_settings(backup),
        }
        self.databases: DatabaseSettings | None = None
        self._set_databases(databases)
        self._host = ObjectHost(**self._options)

    def _set_databases(self, databases: bool | DatabaseSettings) -> None:
        if databases is True:
            databases = DatabaseSettings()
        if databases is False:
            self.databases = None
            self._options["classes"] = self._objects
            return
        if not isinstance(databases, DatabaseSettings):
            raise ConfigurationError(
                f"databases must be a bool or DatabaseSettings, got {databases!r}"
            )
        if DATABASE_BINDING in self._objects:
            raise ConfigurationError(
                f"binding {DATABASE_BINDING!r} is reserved for database objects: rename the"
                " app's class, or turn databases off"
            )
        self.databases = databases
        self._options["classes"] = {**self._objects, DATABASE_BINDING: database_class(databases)}

    @classmethod
    def from_folder(cls, folder: str | Path, **options: Any) -> Hub:
        """A hub of the object classes in ``folder``, one per file (``hub.folder``):
        ``chat_room.py`` defines the class bound as ``CHAT_ROOM``; ``_router.py`` may
        define ``router(request)``. ``options`` are the constructor's (``data_dir``,
        ``idle_timeout``, ...); ``ConfigurationError`` names the file at fault."""
        from hub.folder import load_folder

        classes, router = load_folder(folder)
        if router is not None:
            if options.get("router") is not None:
                raise ConfigurationError(
                    "router given twice: as an option and by the folder's _router.py"
                )
            options["router"] = router
        return cls(classes, **options)

    def configure(
        self,
        *,
        data_dir: str | Path | None = None,
        idle_timeout: float | None = None,
        databases: bool | DatabaseSettings | None = None,
        trusted_proxies: str | Sequence[str] | None = None,
        backup: BackupSettings | bool | None = None,
    ) -> None:
        """Override settings before the hub starts (``roost serve --data-dir ...``);
        ``databases=True`` turns database objects on (``roost serve --databases``)."""
        if self.running:
            raise ConfigurationError("configure() must be called before the hub starts")
        if trusted_proxies is not None:
            self.trusted_proxies = parse_trusted(trusted_proxies)
        if data_dir is not None:
            self.data_dir = self._options["data_dir"] = Path(data_dir)
        if idle_timeout is not None:
            self._options["idle_timeout"] = idle_timeout
        if databases is not None and not (databases is True and self.databases is not None):
            self._set_databases(databases)
        if backup is not None:
            self._options["backup"] = _backup_settings(backup)
        self._host = ObjectHost(**self._options)

    @property
    def env(self) -> Env:
        """The namespaces (``env.COUNTER``) and vars of this application."""
        return self._host.env

    @property
    def host(self) -> ObjectHost:
        """The object host (the seam the network front talks to)."""
        return self._host

    async def start(self) -> None:
        """Start the runtime (prefer ``async with hub:``)."""
        await self._host.start()
        self.running = True

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Stop the runtime after queued events finish (those still running after
        ``timeout`` seconds are cancelled: their writes roll back)."""
        self.running = False
        await self._host.stop(timeout)

    @asynccontextmanager
    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8787,
        *,
        admin_key: str | None = None,
        health_requires_key: bool = False,
        compression: bool = False,
        shutdown_timeout: float = 10.0,
        sockets: Sequence[socket.socket] = (),
    ) -> AsyncIterator[Server]:
        """Serve WebSockets and HTTP on ``host:port`` (0: any free port) while inside.

        Binds first (``hub.net.server.ListenError`` if it cannot, and nothing starts),
        then starts the hub if it is not running (and then stops it on exit).
        ``compression`` enables permessage-deflate when a client offers it (it costs
        memory per socket). ``/_roost/health`` answers without ``admin_key`` (for
        load-balancer probes) unless ``health_requires_key``. On exit (or
        ``server.stop(code)``) requests and events in flight get up to
        ``shutdown_timeout`` seconds to finish and be answered before sockets close.
        ``sockets``: listening sockets to adopt instead of binding.
        """
        from hub.net.server import Server

        server = Server(
            self,
            host=host,
            port=port,
            router=self.router,
            admin_key=admin_key,
            health_requires_key=health_requires_key,
            compression=compression,
            shutdown_timeout=shutdown_timeout,
            sockets=sockets,
        )
        await server.start()
        try:
            yield server
        finally:
            await server.stop()

    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def object_id(self, binding: str, name: str | ObjectId) -> ObjectId:
        """The id of ``name`` (or ``id`` itself) in ``binding``."""
        namespace = self._host.namespace(binding)
        if isinstance(name, ObjectId):
            if name.binding != binding:
                raise InvalidIdError(f"id of binding {name.binding!r} used with {binding!r}")
            return name
        return namespace.id_from_name(name)

    async def hibernate(self, binding: str, name: str | ObjectId) -> bool:
        """Evict the object now (after its queued events); False if it was not live."""
        return await self._host.hibernate(self.object_id(binding, name))

    def is_active(self, binding: str, name: str | ObjectId) -> bool:
        """True while the object has a live instance in memory."""
        return self._host.is_active(self.object_id(binding, name))

    def stats(self) -> HubStats:
        """Active and evicted counts, and why each live object is not evicted."""
        return self._host.stats()

    def add_listener(self, listener: Callable[[LifecycleEvent], None]) -> Callable[[], None]:
        """Be told of every activation, eviction and alarm; returns an unsubscribe."""
        return self._host.add_listener(listener)


def _backup_settings(backup: BackupSettings | bool) -> BackupSettings | None:
    """``True``: the defaults (``DATA_DIR/backup``, 30 days); ``False``: no backup."""
    if backup is True:
        return BackupSettings()
    if backup is False:
        return None
    if not isinstance(backup, BackupSettings):
        raise ConfigurationError(f"backup must be a bool or hub.BackupSettings, got {backup!r}")
    return backup
