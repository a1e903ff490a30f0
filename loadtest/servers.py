"""The two servers the socket benchmarks compare, each run in a child process.

* ``roost``: a ``hub.Hub`` with one object class, ``Room``: ``fetch`` accepts the upgrade
  with the tag ``member`` and ``websocket_message`` calls ``ctx.broadcast(message)`` (one
  frame built once, the same bytes to every open socket of the room).
* ``baseline``: a bare ``websockets.asyncio.server.serve`` whose handler keeps every
  connection in an insertion-ordered dict and calls ``websockets.broadcast(connections,
  message)`` for each message it receives.

Both listen on ``127.0.0.1`` on a free port, with the same listen backlog, no
compression (``compression=None`` / Roost's default) and no keepalive pings (Roost sends
none; the baseline's ``ping_interval=None``), on the same event loop (``process.run_loop``).
Both broadcast in accept order, so the socket connected last (the publisher) gets each
message last on both.

Commands (see ``loadtest.process``): ``("count",)`` answers how many sockets the server
holds open; ``("gc",)`` collects garbage and answers the process's RSS in KiB;
``("stop",)`` stops the server and ends the process.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path

from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

import hub
from loadtest.process import Commands, raise_fd_limit, rss_kib, run_loop

__all__ = ["BACKLOG", "ROOM_BINDING", "ROOM_PATH", "SIDES", "Room", "server_main"]

#: The servers compared: Roost and the bare websockets server.
SIDES = ("roost", "baseline")
ROOM_BINDING = "ROOM"
#: The path every socket opens: one room (the baseline ignores the path).
ROOM_PATH = "/objects/room/bench"
ROOM_NAME = "bench"
#: Roost's own listen backlog (``hub.net.server``), given to the baseline too.
BACKLOG = 2048
#: Roost's default largest message, given to the baseline too.
MAX_SIZE = 1024 * 1024


class Room(hub.DurableObject):
    """One room: every socket is a member; every message goes to every member."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Accept the WebSocket upgrade as a hibernatable member socket."""
        return hub.Response.websocket(self.ctx.accept_websocket(request, tags=["member"]))

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Broadcast the message to every open socket of the room, the sender included."""
        self.ctx.broadcast(message)


@asynccontextmanager
async def _roost(data_dir: Path) -> AsyncIterator[tuple[int, Callable[[], int]]]:
    # A long idle timeout: the room stays live during a run unless evicted on purpose.
    app = hub.Hub({ROOM_BINDING: Room}, data_dir=data_dir, idle_timeout=3600.0)
    async with app.serve(host="127.0.0.1", port=0) as server:
        yield server.port, lambda: len(server.front.table)


@asynccontextmanager
async def _baseline() -> AsyncIterator[tuple[int, Callable[[], int]]]:
    connections: dict[ServerConnection, None] = {}

    async def handler(ws: ServerConnection) -> None:
        connections[ws] = None
        try:
            async for message in ws:
                broadcast(connections, message)
        except ConnectionClosed:
            pass  # a client that drops its connection is no error here (nor in Roost)
        finally:
            del connections[ws]

    async with serve(
        handler,
        "127.0.0.1",
        0,
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
            elif kind == "gc":
                gc.collect()
                await asyncio.sleep(0)
                commands.reply("gc", rss_kib())
            else:
                commands.reply("error", f"unknown command {kind!r}")
    commands.close()
