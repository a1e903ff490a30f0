"""Serving a hub on one port: ``async with app.serve(port=0) as server:``.

Rules: the server owns the listening socket and the front; it attaches the front to
the object host on start and detaches it on stop. Stopping is ordered: stop accepting,
close every socket (1001 going away, or 1012 when restarting), let the object host
finish queued events and commit, close the registry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hub.net.connection import Connection
from hub.net.front import Front, Router
from hub.runtime.ports import DetachedPort

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["Server"]

log = logging.getLogger("roost.net")


class Server:
    """A running hub on ``host:port``; ``url`` is its ``http://`` base URL."""

    def __init__(
        self,
        app: Hub,
        *,
        host: str,
        port: int,
        router: Router | None,
        admin_key: str | None,
        compression: bool,
        shutdown_timeout: float,
    ) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self.port = port
        self.shutdown_timeout = shutdown_timeout
        self.front = Front(app.host, router=router, admin_key=admin_key, compression=compression)
        self._server: asyncio.Server | None = None
        self._started_app = False

    @property
    def url(self) -> str:
        """``http://host:port`` of the listening socket."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` of the listening socket."""
        return "ws" + self.url[4:]

    async def start(self) -> None:
        """Start the hub (if needed), attach the front, listen."""
        if not self.app.running:
            await self.app.start()
            self._started_app = True
        detached = self.app.host.port
        if isinstance(detached, DetachedPort):
            for key, (request, response) in detached.auto_responses.items():
                self.front.table.set_auto_response(key, request, response)
        self.app.host.port = self.front
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self.front), self.host, self._requested_port, backlog=2048
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("listening on %s", self.url)

    async def stop(self, code: int = 1001) -> None:
        """Stop accepting, close sockets with ``code``, stop the hub if we started it."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        await self.front.shutdown(code, self.shutdown_timeout)
        await server.wait_closed()
        self.app.host.port = DetachedPort()
        if self._started_app:
            await self.app.stop()
