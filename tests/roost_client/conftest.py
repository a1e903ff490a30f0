"""Fakes at the seams of ``roost_client``: time (``FakeSleep``) and the hub (``FakeHub``).

``FakeHub`` is a scripted ``roost.v1`` peer over real sockets (a ``websockets``
server), for client behaviour the real hub cannot be made to show on demand: invalid
frames, chosen close codes, refused upgrades, silence. Tests against the real hub are in
``test_e2e_*.py``. Nothing here sleeps to wait: every wait is on an event, within the
suite's timeout unit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import roost_client
import uvloop
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

import hub
from hub.net.server import Server as HubServer
from tests.conftest import TIMEOUT, within
from tests.roost_client.apps.ledger import Ledger


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The SDK runs on both loops: users pick either."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@dataclass
class PendingSleep:
    """A ``sleep(delay)`` the test holds; ``release()`` lets it return."""

    delay: float
    _done: asyncio.Future[None]

    def release(self) -> None:
        if not self._done.done():
            self._done.set_result(None)


class FakeSleep:
    """The injected ``sleep``: records every delay; returns at once unless ``hold``.

    Held, each call waits until the test takes it with ``next()`` and releases it.
    """

    def __init__(self, *, hold: bool = False) -> None:
        self.hold = hold
        self.delays: list[float] = []
        self._pending: asyncio.Queue[PendingSleep] = asyncio.Queue()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if not self.hold:
            await asyncio.sleep(0)  # yield, as a real sleep would
            return
        pending = PendingSleep(delay, asyncio.get_running_loop().create_future())
        self._pending.put_nowait(pending)
        await pending._done

    async def next(self) -> PendingSleep:
        """The next held sleep (waits for it)."""
        return await within(self._pending.get())


Frame = dict[str, Any]


class FakeHub:
    """A scripted ``roost.v1`` hub: welcomes, acknowledges and pongs unless told not to.

    Every frame a client sends lands in ``frames`` as ``(socket index, frame)`` (JSON
    frames as dicts, binary frames as bytes); ``sockets[i]`` is the server side of the
    i-th socket, for the test to send to, close or abort.
    """

    def __init__(self) -> None:
        self.welcome = True
        self.ack = True
        self.pong = True
        self.subprotocol = True
        #: HTTP statuses to refuse the next upgrades with, in order.
        self.refusals: list[int] = []
        self.upgrades = 0
        self.sockets: list[ServerConnection] = []
        self.frames: asyncio.Queue[tuple[int, Frame | bytes]] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/objects/room/r"

    async def start(self, port: int = 0) -> None:
        subprotocols = [Subprotocol("roost.v1")] if self.subprotocol else None
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            port,
            subprotocols=subprotocols,
            process_request=self._process,
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _process(self, connection: ServerConnection, request: Request) -> Response | None:
        self.upgrades += 1
        if self.refusals:
            status = self.refusals.pop(0)
            body = orjson.dumps({"error": {"code": "refused", "message": "no"}})
            return connection.respond(status, body.decode())
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.sockets)
        self.sockets.append(ws)
        self._changed.set()
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    self.frames.put_nowait((index, raw))
                    continue
                frame: Frame = orjson.loads(raw)
                self.frames.put_nowait((index, frame))
                kind = frame.get("t")
                if kind == "hello" and self.welcome:
                    await ws.send(self.encode(t="welcome", session=frame["session"], socket=index))
                elif kind == "msg" and "id" in frame and self.ack:
                    await ws.send(self.encode(t="ack", id=frame["id"]))
                elif kind == "ping" and self.pong:
                    await ws.send(self.encode(t="pong"))
        except ConnectionClosed:
            pass

    @staticmethod
    def encode(**members: Any) -> str:
        return orjson.dumps(members).decode()

    async def socket(self, index: int) -> ServerConnection:
        """The ``index``-th socket (waits until it was opened)."""

        async def wait() -> ServerConnection:
            while len(self.sockets) <= index:
                self._changed.clear()
                await self._changed.wait()
            return self.sockets[index]

        return await within(wait())

    async def next(self, kind: str | None = None) -> tuple[int, Frame | bytes]:
        """The next frame a client sent (of type ``kind``, skipping others)."""

        async def wait() -> tuple[int, Frame | bytes]:
            while True:
                index, frame = await self.frames.get()
                if kind is None or (isinstance(frame, dict) and frame.get("t") == kind):
                    return index, frame

        return await within(wait())

    async def next_json(self, kind: str | None = None) -> tuple[int, Frame]:
        """Like ``next``, for a JSON frame."""
        index, frame = await self.next(kind)
        assert isinstance(frame, dict), frame
        return index, frame


@pytest.fixture
async def fake() -> AsyncIterator[FakeHub]:
    hub = FakeHub()
    await hub.start()
    yield hub
    await hub.stop()


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


OpenClient = Callable[..., Coroutine[Any, Any, roost_client.Connection]]


@pytest.fixture
async def open_client(fake: FakeHub, sleep: FakeSleep) -> AsyncIterator[OpenClient]:
    """Connect to the fake hub with the fake sleep and jitter-free backoff; all closed at
    the end."""
    opened: list[roost_client.Connection] = []

    async def start(**options: Any) -> roost_client.Connection:
        options.setdefault("sleep", sleep)
        options.setdefault("backoff", roost_client.Backoff(jitter=0.0))
        url = options.pop("url", fake.url)
        connect = roost_client.connect(url, **options)
        opened.append(connect.connection)
        return await within(connect)

    yield start
    for connection in opened:
        await within(connection.close())


# -- a real hub serving the Ledger test object --------------------------------------------


@dataclass
class Running:
    """A real hub on 127.0.0.1 serving ``Ledger`` as ``LEDGER``."""

    app: hub.Hub
    server: HubServer
    started: asyncio.Event
    gate: asyncio.Event
    _context: AbstractAsyncContextManager[HubServer]

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, name: str = "ledger-1", binding: str = "LEDGER") -> str:
        return roost_client.object_url(host=self.server.ws_url, binding=binding, name=name)

    stopped: bool = False

    async def stop(self, code: int = 1001) -> None:
        """Stop serving: every socket is closed with ``code``, then the hub stops."""
        if not self.stopped:
            self.stopped = True
            await self.server.stop(code)
            await self._context.__aexit__(None, None, None)


RunHub = Callable[..., Awaitable[Running]]


@pytest.fixture
async def run_hub(tmp_path: Path) -> AsyncIterator[RunHub]:
    """Start a hub with ``Ledger`` (or the ``objects`` given) on ``tmp_path/data`` (again
    on the same data and port after a stop, to restart it); every hub is stopped at the
    end."""
    running: list[Running] = []

    async def start(*, port: int = 0, **options: Any) -> Running:
        started, gate = asyncio.Event(), asyncio.Event()
        options.setdefault("data_dir", tmp_path / "data")
        variables = {"STARTED": started, "GATE": gate, **options.pop("vars", {})}
        objects = options.pop("objects", {"LEDGER": Ledger})
        app = hub.Hub(objects, vars=variables, **options)
        context = app.serve(host="127.0.0.1", port=port, shutdown_timeout=TIMEOUT)
        server = await context.__aenter__()
        handle = Running(app, server, started, gate, context)
        running.append(handle)
        return handle

    yield start
    for handle in reversed(running):
        handle.gate.set()
        await handle.stop()
