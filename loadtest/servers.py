"""The servers every scenario compares, each run in a child process of its own.

* ``roost``: one ``hub.Hub`` with the object classes of every scenario:

  - ``Room`` (``/objects/room/{name}``): ``fetch`` accepts the upgrade with the tag
    ``member`` (and with ``?attachment=N`` in the URL serializes an attachment of N
    JSON bytes, ``attachment_value``, on the socket); ``websocket_message`` calls
    ``ctx.broadcast(message)`` (one frame built once, the same bytes to every open
    socket of the room, the sender included);
  - ``Echo`` (``/objects/echo/{name}``): the constructor makes sure its table exists
    (what a typical object does on every activation, wake included);
    ``websocket_message`` sends the message back with ``ws.send``; the public method
    ``echo(value)`` returns its argument (``roost.v1`` ``call`` -> ``result``);
  - ``Sink`` (``/objects/sink/{name}``): ``Echo`` whose ``websocket_message`` does
    nothing (``loadtest.bench_sdk``);
  - ``FeedRoom`` and ``FeedBroadcast``: see ``loadtest.feeds``.

* ``roost-compare``: a second ``roost`` server in the same run, with a data directory of
  its own (``fanout-scale`` compares two room sizes, each on its own server).

* ``cluster``: the same objects served by ``roost serve --workers N --gateways M`` in a
  subprocess (``loadtest.cluster``); its own data directory.

* ``baseline``: a bare ``websockets.asyncio.server.serve`` doing the same jobs by path: a
  path under ``/objects/echo/`` sends each message back (``await ws.send(message)``);
  any other path is a room, and every message goes to every connection of that path
  with ``websockets.broadcast`` (one big room is ``fanout``'s baseline, many are
  ``chat``'s). Idle connections just await their next message (with ``?attachment=N``
  holding the same N JSON bytes as Roost's attachment).

Both listen on ``127.0.0.1`` on a free port with the same listen backlog, no compression
(``compression=None`` / Roost's default) and no keepalive pings (Roost sends none), select
the subprotocol ``roost.v1`` when offered, and run on the same event loop
(``process.run_loop``). Both broadcast in accept order.

Commands (see ``loadtest.process``): ``("count",)`` answers how many sockets the server
holds open; ``("gc",)`` collects garbage and answers the process's RSS in KiB;
``("hibernate", binding, names)`` evicts Roost objects (their sockets stay open, parked)
and answers how many were evicted; ``("stop",)`` stops the server and ends the process.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path

from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

import hub
import protocol
from hub.logs import configure as configure_logging
from loadtest.process import Commands, RssReader, raise_fd_limit, run_loop

__all__ = [
    "BACKLOG",
    "CLUSTER",
    "ECHO_PREFIX",
    "MAX_SIZE",
    "ROOM_PREFIX",
    "ROOST_COMPARE",
    "SIDES",
    "Echo",
    "Room",
    "Sink",
    "app_objects",
    "attachment_size",
    "attachment_value",
    "object_path",
    "server_main",
]

#: The servers compared: Roost and the bare websockets server.
SIDES = ("roost", "baseline")
#: The side name of Roost served as a cluster (``loadtest.cluster``).
CLUSTER = "cluster"
#: A second Roost server of the same run (``fanout-scale``: the smaller room's).
ROOST_COMPARE = "roost-compare"
#: URL path prefixes of the rooms and the echo objects (kebab-case bindings).
ROOM_PREFIX = "/objects/room/"
ECHO_PREFIX = "/objects/echo/"
#: Roost's own listen backlog (``hub.net.server``), given to the baseline too.
BACKLOG = 2048
#: Roost's default largest message, given to the baseline too.
MAX_SIZE = 1024 * 1024


def object_path(kind: str, index: int) -> str:
    """The URL path of object ``index`` of ``kind`` (``room`` or ``echo``)."""
    return f"/objects/{kind}/bench-{index}"


#: The query parameter that asks a Room socket for an attachment of that many bytes.
ATTACHMENT_PARAMETER = "attachment"


def attachment_size(target: str) -> int:
    """N from ``?attachment=N`` in a request target or URL (0 when absent)."""
    _, _, query = target.partition("?")
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == ATTACHMENT_PARAMETER and value.isdigit():
            return int(value)
    return 0


def attachment_value(size: int, socket_id: int) -> dict[str, str]:
    """A JSON object whose compact encoding is exactly ``size`` bytes (at least 16):
    ``{"user":"u-<socket id>","pad":"xxx..."}``, the padding fills it up."""
    user = f"u-{socket_id}"
    value = {"user": user, "pad": ""}
    fixed = len('{"user":"","pad":""}') + len(user)
    if size < fixed:
        return {"u": "x" * max(0, size - len('{"u":""}'))}
    value["pad"] = "x" * (size - fixed)
    return value


class Room(hub.DurableObject):
    """One room: every socket is a member; every message goes to every member."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Accept the WebSocket upgrade as a hibernatable member socket (with an
        attachment when the URL asks for one)."""
        ws = self.ctx.accept_websocket(request, tags=["member"])
        size = attachment_size(request.url) if "?" in request.url else 0
        if size:
            ws.serialize_attachment(attachment_value(size, ws.socket_id))
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Broadcast the message to every open socket of the room, the sender included."""
        self.ctx.broadcast(message)


class Echo(hub.DurableObject):
    """Sends every message back to its sender; answers ``echo`` calls."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS seen (k INTEGER PRIMARY KEY)")

    async def fetch(self, request: hub.Request) -> hub.Response:
        """Accept the WebSocket upgrade (``roost.v1`` when the client offers it)."""
        return hub.Response.websocket(self.ctx.accept_websocket(request))

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Send ``message`` back on the socket it came from."""
        ws.send(message)

    async def echo(self, value: str) -> str:
        """``value``, unchanged."""
        return value


class Sink(Echo):
    """Answers ``echo`` calls; handles messages by doing nothing (``bench_sdk``: an
    exactly-once ``msg`` then costs only what the hub itself does for it)."""

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        """Nothing to do."""


def app_objects() -> dict[str, type[hub.DurableObject]]:
    """Every object class of the load generator by binding (for ``hub.Hub``)."""
    # The feed objects live with their scenario.
    from loadtest.feeds import BROADCAST_BINDING, FEED_BINDING, FeedBroadcast, FeedRoom

    return {
        "ROOM": Room,
        "ECHO": Echo,
        "SINK": Sink,
        FEED_BINDING: FeedRoom,
        BROADCAST_BINDING: FeedBroadcast,
    }


Served = tuple[int, Callable[[], int], Callable[[str, Sequence[str]], Awaitable[int]]]
"""The port, how many sockets are open, and how to evict objects by binding and names."""


#: Set (to a level: ``info``), the Roost server logs as ``roost serve`` does (text, the
#: access log on) to its stderr: what logging costs, against a run without it.
LOG_VARIABLE = "LOADTEST_ROOST_LOG"


@asynccontextmanager
async def _roost(data_dir: Path) -> AsyncIterator[Served]:
    level = os.environ.get(LOG_VARIABLE)
    if level:
        configure_logging(level)
    # A long idle timeout: objects stay live during a run unless evicted on purpose.
    app = hub.Hub(app_objects(), data_dir=data_dir, idle_timeout=3600.0)

    async def evict(binding: str, names: Sequence[str]) -> int:
        return sum([await app.hibernate(binding, name) for name in names])

    async with app.serve(host="127.0.0.1", port=0) as server:
        yield server.port, lambda: len(server.front.table), evict


@asynccontextmanager
async def _baseline() -> AsyncIterator[Served]:
    rooms: dict[str, dict[ServerConnection, None]] = {}
    attachments: dict[ServerConnection, bytes] = {}
    open_count = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal open_count
        path = ws.request.path if ws.request is not None else "/"
        open_count += 1
        size = attachment_size(path)
        if size:  # the same JSON bytes as Roost's attachment, held while the socket is
            value = attachment_value(size, open_count)
            attachments[ws] = json.dumps(value, separators=(",", ":")).encode()
        try:
            if path.startswith(ECHO_PREFIX):
                async for message in ws:
                    await ws.send(message)
                return
            members = rooms.setdefault(path, {})
            members[ws] = None
            try:
                async for message in ws:
                    broadcast(members, message)
            finally:
                del members[ws]
        except ConnectionClosed:
            pass  # a client that drops its connection is no error here (nor in Roost)
        finally:
            open_count -= 1
            attachments.pop(ws, None)

    async def evict(binding: str, names: Sequence[str]) -> int:
        return 0  # nothing to evict in a bare server

    async with serve(
        handler,
        "127.0.0.1",
        0,
        select_subprotocol=_select_subprotocol,
        compression=None,
        ping_interval=None,
        max_size=MAX_SIZE,
        backlog=BACKLOG,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield port, lambda: open_count, evict


def _select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """``roost.v1`` when offered; no subprotocol (a plain socket) otherwise, as Roost."""
    return Subprotocol(protocol.SUBPROTOCOL) if protocol.SUBPROTOCOL in offered else None


def server_main(conn: Connection, side: str, data_dir: str) -> None:
    """Child process entry: serve ``side`` until told to stop."""
    raise_fd_limit()
    run_loop(lambda: _serve(conn, side, Path(data_dir)))


async def _serve(conn: Connection, side: str, data_dir: Path) -> None:
    commands = Commands(conn)
    rss = RssReader()  # opened before the sockets can use up the open-file limit
    roost = side in ("roost", ROOST_COMPARE)
    server = _roost(data_dir / side) if roost else _baseline()
    async with server as (port, count, evict):
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
                commands.reply("gc", rss.kib())
            elif kind == "hibernate":
                commands.reply("hibernate", await evict(command[1], command[2]))
            else:
                commands.reply("error", f"unknown command {kind!r}")
    commands.close()
