"""The examples served on 127.0.0.1:0 from a temporary data directory, and the Chromium
harness their page tests share.

``examples/`` is not a package: each example is loaded from its file, the way
``roost serve examples/chat.py`` loads it. Each test gets a fresh ``hub.Hub`` built from
the example's classes and router, never the module-level ``app`` (whose data directory
is ``./.roost``). Clients read frames strictly in order, so a frame that should not
have come shows up as the wrong next frame. Nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

import hub
from hub.net.server import Server
from tests.conftest import TIMEOUT, split_response, within

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/{name}.py`` from its file (once per test session)."""
    module_name = f"roost_examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


chat = load_example("chat")
presence = load_example("presence")
feed = load_example("feed")


class Client:
    """A chat user on a real WebSocket; every frame is read in order."""

    def __init__(self, user: str, conn: ClientConnection) -> None:
        self.user = user
        self.conn = conn
        #: The welcome frame, and the users listed by the presence frame after it.
        self.welcome: dict[str, Any] = {}
        self.users: list[str] = []

    async def send(self, frame: object) -> None:
        """Send ``frame`` as JSON text."""
        await self.conn.send(json.dumps(frame))

    async def say(self, text: str) -> None:
        """Post a chat message."""
        await self.send({"type": "message", "text": text})

    async def next(self) -> dict[str, Any]:
        """The next frame, parsed."""
        raw = await within(self.conn.recv())
        assert isinstance(raw, str), f"expected a text frame, got {raw!r}"
        frame = json.loads(raw)
        assert isinstance(frame, dict), frame
        return frame

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next frame, which must be of type ``kind``."""
        frame = await self.next()
        assert frame["type"] == kind, f"{self.user} expected a {kind!r} frame, got {frame!r}"
        return frame


class ChatServer:
    """A served chat hub and the clients a test opened on it."""

    def __init__(self, app: hub.Hub, server: Server) -> None:
        self.app = app
        self.server = server
        self.clients: list[Client] = []

    def room_path(self, room: str, user: str | None = None) -> str:
        path = f"/objects/chat-room/{quote(room, safe='')}"
        return path if user is None else f"{path}?user={quote(user, safe='')}"

    async def connect(self, user: str, room: str = "lobby") -> ClientConnection:
        """A raw WebSocket to ``room`` as ``user`` (the upgrade may be refused)."""
        url = self.server.ws_url + self.room_path(room, user)
        return await within(websockets.connect(url, compression=None))

    async def join(self, user: str, room: str = "lobby") -> Client:
        """Join ``room``: read the welcome, and the presence frame every member gets."""
        client = Client(user, await self.connect(user, room))
        client.welcome = await client.expect("welcome")
        assert (client.welcome["room"], client.welcome["user"]) == (room, user)
        presence = await client.expect("presence")
        client.users = presence["users"]
        assert user in client.users
        for other in self.members(room):
            assert await other.expect("presence") == presence
        self.clients.append(client)
        return client

    async def leave(self, client: Client) -> list[str]:
        """Close ``client``; every member left gets the same presence: returns its users."""
        await within(client.conn.close())
        self.clients.remove(client)
        frames = [await other.expect("presence") for other in self.members(client.welcome["room"])]
        assert all(frame == frames[0] for frame in frames), frames
        return list(frames[0]["users"]) if frames else []

    def members(self, room: str) -> list[Client]:
        """The clients of ``room`` still in it."""
        return [client for client in self.clients if client.welcome["room"] == room]


@pytest.fixture
async def chat_server(tmp_path: Path) -> AsyncIterator[ChatServer]:
    """The chat example on 127.0.0.1:0 with its data in ``tmp_path``."""
    app = hub.Hub(objects={"CHAT_ROOM": chat.ChatRoom}, data_dir=tmp_path, router=chat.route)
    async with app.serve(host="127.0.0.1", port=0) as server:
        served = ChatServer(app, server)
        try:
            yield served
        finally:
            for client in served.clients:
                client.conn.transport.abort()


async def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` over a fresh connection; no redirect is followed."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    reader, writer = await within(asyncio.open_connection(parts.hostname, parts.port))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode()
    )
    try:
        raw = await within(reader.read())
    finally:
        writer.close()
    answer, _ = split_response(raw)
    return answer


# -- roost.v1 examples (presence, feed) ------------------------------------------------


class V1:
    """A ``roost.v1`` client on a real WebSocket (protocol/SPEC.md); frames read in order."""

    def __init__(self, conn: ClientConnection, socket: int) -> None:
        self.conn = conn
        #: The hub's id of this socket, from ``welcome`` (SPEC §3.2).
        self.socket = socket

    async def send(self, frame: object) -> None:
        """Send ``frame`` as JSON text."""
        await self.conn.send(json.dumps(frame))

    async def next(self) -> dict[str, Any]:
        """The next frame, parsed."""
        raw = await within(self.conn.recv())
        assert isinstance(raw, str), f"expected a text frame, got {raw!r}"
        frame = json.loads(raw)
        assert isinstance(frame, dict), frame
        return frame

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next frame, which must be of type ``kind``."""
        frame = await self.next()
        assert frame["t"] == kind, f"socket {self.socket} expected {kind!r}, got {frame!r}"
        return frame

    async def nothing_pending(self) -> None:
        """Ping, and the next frame must be the pong: nothing else was on its way."""
        await self.send({"t": "ping"})
        assert await self.next() == {"t": "pong"}


class Served:
    """A served example hub and the sockets a test opened on it."""

    def __init__(self, app: hub.Hub, server: Server) -> None:
        self.app = app
        self.server = server
        self.sockets: list[ClientConnection] = []

    async def connect(self, path: str, *, v1: bool = True) -> ClientConnection:
        """A raw WebSocket to ``path``, offering ``roost.v1`` (the upgrade may be refused)."""
        conn = await within(
            websockets.connect(
                self.server.ws_url + path,
                subprotocols=[websockets.Subprotocol("roost.v1")] if v1 else None,
                compression=None,
            )
        )
        self.sockets.append(conn)
        return conn

    async def open(self, path: str, session: str | None = None) -> V1:
        """A ``roost.v1`` socket to ``path`` whose session is started (hello, welcome)."""
        conn = await self.connect(path)
        assert conn.subprotocol == "roost.v1"
        session = session or secrets.token_hex(16)  # random, as SPEC §3.1 asks
        await conn.send(json.dumps({"t": "hello", "session": session}))
        welcome = json.loads(await within(conn.recv()))
        assert (welcome["t"], welcome["session"]) == ("welcome", session), welcome
        return V1(conn, welcome["socket"])


@asynccontextmanager
async def serving(
    objects: dict[str, type[hub.DurableObject]], router: Any, data_dir: Path
) -> AsyncIterator[Served]:
    """An example's objects and router on 127.0.0.1:0; its sockets are dropped at the end."""
    app = hub.Hub(objects=objects, data_dir=data_dir, router=router)
    async with app.serve(host="127.0.0.1", port=0) as server:
        served = Served(app, server)
        try:
            yield served
        finally:
            for conn in served.sockets:
                conn.transport.abort()


async def http_json(url: str) -> tuple[int, Any]:
    """GET ``url``: the status and the body parsed as JSON."""
    status, _, body = await http_get(url)
    return status, json.loads(body)


# -- pages, in headless Chromium ---------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, driven by Playwright (no downloaded browser build)."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT * 1000)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT * 3000
        )
        try:
            yield launched
        finally:
            await launched.close()


class Pages:
    """Pages opened by a test, each in its own browser context (its own user)."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        #: Uncaught JavaScript errors of every page: a test ends with none.
        self.errors: list[str] = []

    async def new(self) -> Page:
        """A new user's blank page (to listen to it before it loads anything)."""
        page = await (await self.browser.new_context()).new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    async def open(self, path: str, base: str | None = None) -> Page:
        """A new user's page at ``path`` (on ``base``, the hub's URL by default)."""
        page = await self.new()
        await page.goto((base or self.base) + path)
        return page
