"""The entry points of gateway and worker processes: ``python -m hub.cluster ROLE CONFIG``.

The supervisor (``hub.cluster.supervisor``) starts them with one JSON argument, a
``ProcessConfig``; nobody else should. A gateway loads the application only for its
router and limits (object code runs in workers); a worker loads it to run objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from hub.backup.cli import unwire
from hub.cli import load_app, run_loop
from hub.cluster.gateway import Workers
from hub.cluster.paths import gateway_path, gateway_ready_path
from hub.cluster.wire import Link
from hub.cluster.worker import Worker
from hub.databases.gate import DatabaseGate
from hub.logs import configure as configure_logging
from hub.net.connection import Connection
from hub.net.forwarded import parse_trusted
from hub.net.frames_out import CLOSE_TIMEOUT
from hub.net.front import Front
from hub.net.sockets import SocketTable

__all__ = ["ProcessConfig", "main", "run_gateway", "run_worker"]

log = logging.getLogger("roost.cluster")

#: Events a gateway holds for a partition whose worker is being replaced.
HOLD_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ProcessConfig:
    """What the supervisor tells each process."""

    target: str
    index: int
    workers: int
    gateways: int
    run_dir: str
    host: str
    port: int
    data_dir: str | None
    idle_timeout: float | None
    admin_key: str | None
    compression: bool
    shutdown_timeout: float
    log_level: str
    generation: int = 0
    #: ``roost serve --databases``: database objects on (docs/databases.md).
    databases: bool = False
    log_format: str = "text"
    access_log: bool = True
    health_requires_key: bool = False
    #: ``--trusted-proxies`` (None: the application's own setting).
    trusted_proxies: str | None = None
    #: Backup settings as ``hub.backup.cli.wire`` writes them (None: off).
    backup: dict[str, Any] | None = None

    def to_json(self) -> str:
        """The command-line form."""
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> ProcessConfig:
        """Parse the command-line form."""
        return cls(**orjson.loads(text))


async def run_gateway(config: ProcessConfig) -> None:
    """Hold sockets on the shared port; route events to workers until SIGTERM."""
    app = load_app(config.target)
    app.configure(data_dir=config.data_dir, databases=True if config.databases else None)
    run_dir = Path(config.run_dir)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # the supervisor decides
    limits = app.host.limits
    workers = Workers(config.index, config.gateways, config.workers, hold_limit=HOLD_LIMIT)
    # Disjoint socket ids across gateways (id % gateways is the gateway), and new ones
    # after a restart of this gateway (the time in ms), below 2**53 for JS clients.
    first = int(time.time() * 1000) * config.gateways + config.index
    table = SocketTable(limits, first_id=first, id_step=config.gateways)
    front = Front(
        workers,
        limits=limits,
        clock=app.host.clock,
        router=app.router,
        admin_key=config.admin_key,
        health_requires_key=config.health_requires_key,
        compression=config.compression,
        table=table,
        databases=None if app.databases is None else DatabaseGate(app.data_dir),
        trusted_proxies=app.trusted_proxies
        if config.trusted_proxies is None
        else parse_trusted(config.trusted_proxies),
    )
    workers.front = front
    path = gateway_path(run_dir, config.index)
    path.unlink(missing_ok=True)
    links = await loop.create_unix_server(
        lambda: Link(workers.on_message, workers.on_lost), str(path)
    )
    await workers.ready.wait()
    front.tail.attach()  # the gateway's own events: accepts and closes (and its errors)
    server = await loop.create_server(
        lambda: Connection(front), config.host, config.port, reuse_port=True, backlog=2048
    )
    gateway_ready_path(run_dir, config.index).touch()
    log.info("gateway %d listening", config.index)
    await stop.wait()
    # Stop accepting; answer what is in flight while the workers finish (they got the
    # same SIGTERM); then close the sockets.
    server.close()
    front.tail.close()
    await front.drain(config.shutdown_timeout)
    deadline = loop.time() + config.shutdown_timeout
    for partition in workers.partitions:
        owner = partition.owner
        if owner is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(owner.closed.wait(), max(0.0, deadline - loop.time()))
    await front.close_connections(1001, CLOSE_TIMEOUT)
    links.close()
    path.unlink(missing_ok=True)


async def run_worker(config: ProcessConfig) -> None:
    """Run one partition's objects until retired or SIGTERM."""
    app = load_app(config.target)
    app.configure(
        data_dir=config.data_dir,
        idle_timeout=config.idle_timeout,
        databases=True if config.databases else None,
        backup=unwire(config.backup),
    )
    worker = Worker(
        app,
        index=config.index,
        count=config.workers,
        gateways=config.gateways,
        generation=config.generation,
        run_dir=Path(config.run_dir),
        shutdown_timeout=config.shutdown_timeout,
    )
    await worker.run()


def main(argv: list[str]) -> int:
    """``python -m hub.cluster gateway|worker CONFIG``."""
    role, text = argv
    config = ProcessConfig.from_json(text)
    configure_logging(
        config.log_level,
        config.log_format,
        access_log=config.access_log,
        process=f"{role} {config.index}",
    )
    run = run_gateway if role == "gateway" else run_worker
    run_loop(run(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
