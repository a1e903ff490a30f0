"""A hub served on 127.0.0.1:0 with a test object driven by WebSocket messages.

The object reports what happens to it on ``env.EVENTS`` (an asyncio.Queue), so tests
wait for exactly the event they expect instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop
import websockets
from websockets.asyncio.client import ClientConnection

import hub
from hub.net.server import Server
from tests.conftest import Recorder, within


class Room(hub.DurableObject):
    """Does what each message says: ``verb:argument``."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        env.EVENTS.put_nowait(("construct", ctx.id.name))
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (v TEXT)")

    async def fetch(self, request: hub.Request) -> hub.Response:
        query = request.query
        if request.is_websocket:
            if "deny" in query:
                return hub.Response("no entry", status=403)
            tags = [tag for tag in query.get("tags", "").split(",") if tag]
            ws = self.ctx.accept_websocket(request, tags=tags)
            if "who" in query:
                ws.serialize_attachment({"who": query["who"]})
            if "greet" in query:
                ws.send(f"welcome {query['greet']}")
            return hub.Response.websocket(ws)
        if request.path.endswith("/fail"):
            raise ValueError("fetch failed on purpose")
        if request.path.endswith("/not-a-response"):
            return "oops"  # type: ignore[return-value]
        body = await request.body()
        return hub.Response.json(
            {
                "method": request.method,
                "path": request.path,
                "query": query,
                "body": body.decode(),
                "name": self.ctx.id.name,
                "header": request.headers.get("x-test"),
            },
            status=201 if request.method == "POST" else 200,
            headers={"x-answer": "yes"},
        )

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        ctx = self.ctx
        self.env.EVENTS.put_nowait(("message", ws.socket_id, message))
        if isinstance(message, bytes):
            ws.send(message[::-1])
            return
        verb, _, arg = message.partition(":")
        if verb == "echo":
            ws.send(arg)
        elif verb == "broadcast":
            ctx.broadcast(arg)
        elif verb == "tagged":
            tag, _, text = arg.partition(":")
            ctx.broadcast(text, tag=tag)
        elif verb == "others":
            ctx.broadcast(arg, exclude=[ws])
        elif verb == "count":
            ws.send(str(len(ctx.get_websockets(arg or None))))
        elif verb == "whoami":
            ws.send(
                orjson.dumps(
                    {"att": ws.deserialize_attachment(), "tags": ctx.get_tags(ws)}
                ).decode()
            )
        elif verb == "settags":
            ctx.set_tags(ws, [tag for tag in arg.split(",") if tag])
            ws.send(",".join(ctx.get_tags(ws)))
        elif verb == "write":
            ctx.storage.sql.exec("INSERT INTO log VALUES (?)", arg)
            ws.send(f"wrote {arg}")
        elif verb == "fail":
            ctx.storage.sql.exec("INSERT INTO log VALUES (?)", arg)
            ws.send(f"never {arg}")
            ctx.broadcast(f"never {arg}")
            raise RuntimeError("handler failed after sending")
        elif verb == "rows":
            ws.send(",".join(str(r["v"]) for r in ctx.storage.sql.exec("SELECT v FROM log")))
        elif verb == "close":
            code, _, reason = arg.partition(":")
            ws.close(int(code), reason)
        elif verb == "timeout":
            ctx.set_hibernatable_websocket_event_timeout(int(arg))
        elif verb == "hang":
            ctx.storage.sql.exec("INSERT INTO log VALUES ('hung')")
            await asyncio.Event().wait()
        elif verb == "autoresponse":
            request, _, response = arg.partition("=")
            ctx.set_websocket_auto_response(request, response)
        elif verb == "autotime":
            at = ctx.get_websocket_auto_response_timestamp(ws)
            ws.send("none" if at is None else "set")
        elif verb == "attach":
            ws.serialize_attachment(arg)
            ws.send("attached")
        elif verb == "big":
            ws.send("x" * int(arg))

    async def websocket_close(
        self, ws: hub.WebSocket, code: int, reason: str, was_clean: bool
    ) -> None:
        self.env.EVENTS.put_nowait(("close", code, reason, was_clean, ws.ready_state))

    async def websocket_error(self, ws: hub.WebSocket, error: Exception) -> None:
        assert isinstance(error, hub.WebSocketError)
        self.env.EVENTS.put_nowait(("error", type(error).__name__, error.close_code))

    async def add(self, a: int, b: int = 0) -> int:
        return a + b

    async def boom(self) -> None:
        raise KeyError("no such thing")

    def _hidden(self) -> None:
        pass


@dataclass
class Served:
    """A running hub: the app, its server, the object's event queue and lifecycle."""

    app: hub.Hub
    server: Server
    events: asyncio.Queue[tuple[Any, ...]]
    lifecycle: Recorder
    clients: list[ClientConnection] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.server.url + path

    async def connect(self, path: str = "/objects/room/r", **options: Any) -> ClientConnection:
        options.setdefault("compression", None)
        client = await within(websockets.connect(self.server.ws_url + path, **options))
        self.clients.append(client)
        return client

    async def next_event(self, kind: str) -> tuple[Any, ...]:
        """The next object event of ``kind`` (others of other kinds are skipped)."""

        async def wait() -> tuple[Any, ...]:
            while True:
                event = await self.events.get()
                if event[0] == kind:
                    return event

        return await within(wait())


Serve = Callable[..., Awaitable[Served]]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every front test runs on both loops: the CLI picks uvloop, tests pick both."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Start a hub with ``Room`` as ``ROOM`` (plus ``objects``) on 127.0.0.1:0."""
    stack: list[tuple[Served, Any]] = []

    async def start(
        objects: dict[str, type[hub.DurableObject]] | None = None,
        *,
        serve_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Served:
        events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        options.setdefault("data_dir", tmp_path / f"data{len(stack)}")
        options.setdefault("vars", {"EVENTS": events})
        app = hub.Hub({"ROOM": Room, **(objects or {})}, **options)
        recorder = Recorder()
        app.add_listener(recorder)
        context = app.serve(port=0, **(serve_options or {}))
        server = await context.__aenter__()
        served = Served(app, server, events, recorder)
        stack.append((served, context))
        return served

    yield start
    for served, context in reversed(stack):
        for client in served.clients:
            client.transport.abort()
        await context.__aexit__(None, None, None)
