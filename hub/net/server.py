"""Serving a hub on one port: ``async with app.serve(port=0) as server:``.

Rules:

1. The server owns the listening sockets and the front; it attaches the front's
   commands (``Front.commands``, the ``SocketPort``) to the object host on start and
   detaches them on stop.
2. Starting binds first (or adopts sockets handed over by a previous process), then
   starts the hub, then accepts: a port in use raises ``ListenError`` and starts nothing.
3. Stopping is ordered, and drains before it closes anything a client is waiting on:
   stop accepting; answer the HTTP requests already read (new ones get 503
   ``hub_stopping``, every answer carries ``Connection: close``); stop the hub (if we
   started it), whose objects finish their queued events and commit while the sockets
   are still open to get what they send; then close every socket with 1001 (going away)
   or 1012 (restarting) and close the registry. Requests and events share one deadline,
   ``shutdown_timeout``; what is still running then is cancelled, logged once.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hub.databases.gate import DatabaseGate
from hub.net.connection import Connection
from hub.net.frames_out import CLOSE_TIMEOUT
from hub.net.front import Front, Router

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["ListenError", "Server"]

log = logging.getLogger("roost.net")


class ListenError(OSError):
    """The listening socket could not be bound (a port in use, an unknown address).

    ``str()`` is one line: ``cannot listen on 127.0.0.1:8787: [Errno 98] address already
    in use``; the ``OSError`` from the bind is its ``__cause__``.
    """

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        code = cause.errno
        if code is not None and code in errno.errorcode:
            detail = f"[Errno {code}] {os.strerror(code).lower()}"
        else:
            detail = str(cause)
        super().__init__(code, f"cannot listen on {_address(host, port)}: {detail}")

    def __str__(self) -> str:
        return str(self.strerror)


class Server:
    """A running hub on ``host:port``; ``url`` is its ``http://`` base URL.

    ``sockets``: listening sockets to adopt instead of binding ``host:port`` (a
    restarted ``roost serve`` gets them from the process it replaces).
    """

    def __init__(
        self,
        app: Hub,
        *,
        host: str,
        port: int,
        router: Router | None,
        admin_key: str | None,
        compression: bool,
        health_requires_key: bool = False,
        shutdown_timeout: float,
        sockets: Sequence[socket.socket] = (),
    ) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self.port = port
        self.shutdown_timeout = shutdown_timeout
        self.front = Front(
            app.host,
            limits=app.host.limits,
            clock=app.host.clock,
            router=router,
            admin_key=admin_key,
            health_requires_key=health_requires_key,
            compression=compression,
            databases=None if app.databases is None else DatabaseGate(app.data_dir),
            trusted_proxies=app.trusted_proxies,
        )
        self._adopted = list(sockets)
        self._servers: list[asyncio.Server] = []
        self._started_app = False

    @property
    def url(self) -> str:
        """``http://host:port`` of the listening socket."""
        return f"http://{_address(self.host, self.port)}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` of the listening socket."""
        return "ws" + self.url[4:]

    async def start(self) -> None:
        """Listen (``ListenError`` if that fails), start the hub if needed, accept."""
        servers = await self._listen()
        try:
            if not self.app.running:
                await self.app.start()
                self._started_app = True
        except BaseException:
            for server in servers:
                server.close()
            raise
        for key, (request, response) in self.app.host.attach(self.front.commands).items():
            self.front.table.set_auto_response(key, request, response)
        self._servers = servers
        self.front.tail.attach()
        for server in servers:
            await server.start_serving()
        log.info("listening on %s", self.url)

    async def _listen(self) -> list[asyncio.Server]:
        loop = asyncio.get_running_loop()

        def factory() -> Connection:
            return Connection(self.front)

        servers: list[asyncio.Server] = []
        try:
            if self._adopted:
                for sock in self._adopted:
                    servers.append(
                        await loop.create_server(
                            factory, sock=sock, backlog=2048, start_serving=False
                        )
                    )
            else:
                servers.append(
                    await loop.create_server(
                        factory,
                        self.host,
                        self._requested_port,
                        backlog=2048,
                        start_serving=False,
                    )
                )
        except OSError as exc:
            for server in servers:
                server.close()
            raise ListenError(self.host, self._requested_port, exc) from exc
        name = servers[0].sockets[0].getsockname()
        if self._adopted:
            self.host = str(name[0])
        self.port = int(name[1])
        return servers

    def inheritable_fds(self) -> list[int]:
        """Inheritable duplicates of the listening sockets, for a process that takes
        over (``roost serve`` on SIGHUP): connections made while this one drains and
        the next one starts wait in the kernel's backlog instead of being refused."""
        fds = []
        for server in self._servers:
            for sock in server.sockets:
                fd = os.dup(sock.fileno())
                os.set_inheritable(fd, True)
                fds.append(fd)
        return fds

    async def stop(self, code: int = 1001) -> None:
        """Drain, then close sockets with ``code`` (1001 or 1012) and stop the hub if we
        started it (see the module's rules)."""
        if not self._servers:
            return
        servers, self._servers = self._servers, []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        for server in servers:
            server.close()  # stop accepting
        self.front.tail.close()  # answers the inspector's waiting readers
        log.info(
            "draining: %d requests in flight, %d connections, deadline %.1f s",
            self.front.requests_in_flight,
            len(self.front.connections),
            self.shutdown_timeout,
        )
        await self.front.drain(self.shutdown_timeout)
        if self._started_app:
            # Objects finish their queued events while sockets can still get answers.
            await self.app.stop(timeout=max(0.0, deadline - loop.time()))
        await self.front.close_connections(code, CLOSE_TIMEOUT)
        for server in servers:
            await server.wait_closed()
        self.app.host.detach()


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
