"""The servers of the request/response benchmarks, each run in a child process.

* ``roost``: a ``hub.Hub`` with one object class, ``Echo``: ``fetch`` accepts the
  upgrade, the public method ``echo(value)`` returns its argument (``roost.v1`` ``call``
  -> ``result``, protocol/SPEC.md §6), and ``websocket_message`` does nothing, so an
  exactly-once ``msg`` costs only what the hub itself does for it (its event, the
  session's record in the object's SQLite, the ``ack``; SPEC §5.2).
* ``baseline``: a bare ``websockets.asyncio.server.serve`` whose handler sends every
  message it receives back on the same connection (``await ws.send(message)``).

Both listen on ``127.0.0.1`` on a free port with the same backlog, no compression and no
keepalive pings, select the subprotocol ``roost.v1`` when offered (so the opening
handshake is the same), and run on the same event loop (``process.run_loop``), as the
servers of ``loadtest.servers`` do.

Commands (see ``loadtest.process``): ``("count",)`` answers how many sockets the server
holds open; ``("stop",)`` stops the server and ends the process.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

import hub
import protocol
from loadtest.process import Commands, raise_fd_limit, run_loop
from loadtest.servers import BACKLOG, MAX_SIZE

__all__ = ["ECHO_BINDING", "ECHO_PREFIX", "SIDES", "Echo", "echo_path", "server_main"]

#: The servers compared: Roost and the bare websockets echo server.
SIDES = ("roost", "baseline")
ECHO_BINDING = "ECHO"
#: Objects are ``/objects/echo/{ECHO_PREFIX}{k}`` (the baseline ignores the path).
ECHO_PREFIX = "bench-"


def echo_path(index: int) -> str:
    """The URL path of echo object number ``index``."""
    return f"/objects/echo/{ECHO_PREFIX}{index}"


class Echo(hub.DurableObject):
    """Answers ``echo`` calls; handles messages by doing nothing."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Accept the WebSocket upgrade (``roost.v1`` when the client offers it)."""
        return hub.Response.websocket(self.ctx.accept_websocket(request))

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Nothing to do: the hub's own work for a message is what is measured."""

    async def echo(self, value: str) -> str:
        """``value``, unchanged."""
        return value


@asynccontextmanager
async def _roost(data_dir: Path) -> AsyncIterator[tuple[int, Callable[[], int]]]:
    # A long idle timeout: the objects stay live during a run.
    app = hub.Hub({ECHO_BINDING: Echo}, data_dir=data_dir, idle_timeout=3600.0)
    async with app.serve(host="127.0.0.1", port=0) as server:
        yield server.port, lambda: len(server.front.table)


@asynccontextmanager
async def _baseline() -> AsyncIterator[tuple[int, Callable[[], int]]]:
    connections: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        connections.add(ws)
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:
            pass  # a client that drops its connection is no error here (nor in Roost)
        finally:
            connections.discard(ws)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol(protocol.SUBPROTOCOL)],
        compression=None,
        ping_interval=None,
        max_size=MAX_SIZE,
        backlog=BACKLOG,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield port, lambda: len(connections)


def server_main(conn: Connection, side: str, data_dir: str) -> None:
    """Child process entry: serve ``side`` until told to stop."""
    raise_fd_limit()
    run_loop(lambda: _serve(conn, side, Path(data_dir)))


async def _serve(conn: Connection, side: str, data_dir: Path) -> None:
    commands = Commands(conn)
    server = _roost(data_dir) if side == "roost" else _baseline()
    async with server as (port, count):
        commands.reply("ready", port, os.getpid())
        while True:
            command = await commands.get()
            kind = command[0]
            if kind == "stop":
                break
            if kind == "count":
                commands.reply("count", count())
            else:
                commands.reply("error", f"unknown command {kind!r}")
    commands.close()
