"""PartyKit's own client, ``partysocket`` from npm (over ``ws``), against a real hub.

The hub serves ``/parties/{party}/{room}`` so that unmodified PartyKit clients connect:
the party is the binding in kebab-case (``chat-room`` for ``CHAT_ROOM``). Each test
starts a hub on ``127.0.0.1:0`` and runs ``tests/node/partysocket_client.mjs`` in Node,
which creates ``PartySocket`` objects on command (JSON lines on its stdin) and reports
what they see (JSON lines on its stdout); the test waits for specific lines, never for
time to pass.

Node and the packages of ``tests/node/package-lock.json`` are needed: run
``npm ci --prefix tests/node`` once; without them these tests are skipped.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import hub
from tests.conftest import TIMEOUT, MakeHub, within

NODE_DIR = Path(__file__).resolve().parents[2] / "node"
CLIENT = NODE_DIR / "partysocket_client.mjs"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(
        NODE is None, reason="node is not installed (the partysocket tests need it)"
    ),
    pytest.mark.skipif(
        not all((NODE_DIR / "node_modules" / name).is_dir() for name in ("partysocket", "ws")),
        reason="tests/node/node_modules is missing: run `npm ci --prefix tests/node`",
    ),
]

BINDING = "CHAT_ROOM"
PARTY = "chat-room"  # BINDING in kebab-case, as partysocket's `party` option
ROOM = "room-1"

#: One line of the Node script's stdout, parsed (the codec boundary of these tests).
Event = dict[str, Any]


class ChatRoom(hub.DurableObject):
    """A PartyKit-style room: greets a connection with its ``_pk``, broadcasts messages.

    The connection id partysocket sends as ``?_pk=`` becomes the socket's tag and the
    ``nick`` query parameter its attachment, so both must outlive hibernation for the
    broadcasts after a wake to name the sender.
    """

    async def fetch(self, request: hub.Request) -> hub.Response:
        if not request.is_websocket:
            return hub.Response("expected a WebSocket upgrade", status=426)
        pk = request.query["_pk"]
        ws = self.ctx.accept_websocket(request, tags=[pk])
        ws.serialize_attachment({"nick": request.query.get("nick", "")})
        ws.send(json.dumps({"type": "welcome", "pk": pk}))
        return hub.Response.websocket(ws)

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        (pk,) = self.ctx.get_tags(ws)
        nick = ws.deserialize_attachment()["nick"]
        text = message if isinstance(message, str) else message.hex()
        self.ctx.broadcast(json.dumps({"type": "chat", "from": pk, "nick": nick, "text": text}))


class PartySocketDriver:
    """The Node script: commands go in on its stdin, its events come out on stdout.

    Every event read is kept in ``events``; ``expect`` looks there first, so the order
    in which two clients' events interleave does not matter.
    """

    def __init__(self, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        self.events: list[Event] = []

    async def command(self, op: str, **fields: object) -> None:
        """Send one command line."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        await self.process.stdin.drain()

    async def expect(self, **wanted: object) -> Event:
        """The first event with all of ``wanted``'s fields, waiting for it if need be."""
        return await self._wait(lambda event: wanted.items() <= event.items(), repr(wanted))

    async def expect_message(self, client: str, message: dict[str, str]) -> Event:
        """The first message to ``client`` whose JSON data equals ``message``."""

        def matches(event: Event) -> bool:
            return (
                event.get("event") == "message"
                and event.get("client") == client
                and json.loads(event["data"]) == message
            )

        return await self._wait(matches, f"message {message!r} to {client!r}")

    def messages(self, client: str) -> list[object]:
        """Every message ``client`` received so far, parsed, in order."""
        return [
            json.loads(event["data"])
            for event in self.events
            if event["event"] == "message" and event["client"] == client
        ]

    def kinds(self, client: str) -> list[str]:
        """The kinds of event ``client`` saw so far, in order."""
        return [event["event"] for event in self.events if event.get("client") == client]

    async def finish(self) -> None:
        """Ask the script to close its sockets and exit; it must exit 0 having failed nothing."""
        assert self.process.stdout is not None
        await self.command("exit")
        try:
            rest = await within(self.process.stdout.read())
            code = await within(self.process.wait())
        except TimeoutError:
            pytest.fail(f"node did not exit within {TIMEOUT} s\n{self._diagnostics()}")
        self.events.extend(self._parse(line) for line in rest.splitlines())
        assert code == 0, f"node exited with {code}\n{self._diagnostics()}"
        failed = [event for event in self.events if event["event"] == "failed"]
        assert failed == [], self._diagnostics()

    async def _wait(self, matches: Callable[[Event], bool], description: str) -> Event:
        for event in self.events:
            if matches(event):
                return event
        try:
            return await within(self._read_until(matches))
        except TimeoutError:
            pytest.fail(f"no event {description} within {TIMEOUT} s\n{self._diagnostics()}")

    async def _read_until(self, matches: Callable[[Event], bool]) -> Event:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                pytest.fail(f"node's stdout ended\n{self._diagnostics()}")
            event = self._parse(line)
            self.events.append(event)
            if event["event"] == "failed":
                pytest.fail(f"the node script failed a command: {event!r}\n{self._diagnostics()}")
            if matches(event):
                return event

    def _parse(self, line: bytes) -> Event:
        try:
            event: Event = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"node printed a line that is not JSON: {line!r}\n{self._diagnostics()}")
        return event

    def _diagnostics(self) -> str:
        seen = "\n".join(f"  {event!r}" for event in self.events)
        stderr = self.stderr.read_text(errors="replace") if self.stderr.exists() else ""
        return f"events seen:\n{seen}\nnode stderr:\n{stderr}"


@asynccontextmanager
async def partysocket(server_port: int, tmp_path: Path) -> AsyncIterator[PartySocketDriver]:
    """Run the Node script against ``127.0.0.1:server_port``; killed if still running."""
    assert NODE is not None
    stderr_path = tmp_path / "node.stderr"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            NODE,
            str(CLIENT),
            f"127.0.0.1:{server_port}",
            cwd=NODE_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    driver = PartySocketDriver(process, stderr_path)
    try:
        await driver.expect(event="ready")
        yield driver
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def connect(driver: PartySocketDriver, client: str, pk: str, party: str = PARTY) -> None:
    """Open a PartySocket named ``client`` with connection id ``pk`` and nick ``client``."""
    await driver.command(
        "connect", client=client, party=party, room=ROOM, id=pk, query={"nick": client}
    )


@pytest.mark.parametrize(
    "compression",
    [
        pytest.param(False, id="plain"),
        # ws offers permessage-deflate, so broadcasts take the per-recipient path.
        pytest.param(True, id="permessage-deflate"),
    ],
)
async def test_partysocket_clients_share_a_room_across_hibernation(
    make_hub: MakeHub, tmp_path: Path, compression: bool
) -> None:
    # make_hub's fake clock never reaches the idle timeout: only the test evicts.
    app, recorder = await make_hub({BINDING: ChatRoom})
    async with (
        app.serve(host="127.0.0.1", port=0, compression=compression) as server,
        partysocket(server.port, tmp_path) as driver,
    ):
        # partysocket's URL: /parties/{party}/{room}, its id as _pk, then the query.
        await connect(driver, "alice", "alice-pk")
        opened = await driver.expect(event="open", client="alice")
        assert opened["id"] == "alice-pk"
        host = f"127.0.0.1:{server.port}"
        assert opened["url"] == f"ws://{host}/parties/{PARTY}/{ROOM}?_pk=alice-pk&nick=alice"
        assert opened["extensions"] == ("permessage-deflate" if compression else "")
        await driver.expect_message("alice", {"type": "welcome", "pk": "alice-pk"})
        await connect(driver, "bob", "bob-pk")
        await driver.expect(event="open", client="bob")
        await driver.expect_message("bob", {"type": "welcome", "pk": "bob-pk"})

        await driver.command("send", client="alice", data="hello")
        hello = {"type": "chat", "from": "alice-pk", "nick": "alice", "text": "hello"}
        await driver.expect_message("alice", hello)
        await driver.expect_message("bob", hello)
        assert len(recorder.kinds("activate")) == 1

        # Evicted with both sockets parked: neither client may see its socket close.
        assert await app.hibernate(BINDING, ROOM)
        assert not app.is_active(BINDING, ROOM)
        (evicted,) = await recorder.wait("evict")
        assert evicted.detail["reason"] == "forced"

        # A message on a parked socket wakes the object: tags and attachments survived.
        await driver.command("send", client="bob", data="still here?")
        woken = {"type": "chat", "from": "bob-pk", "nick": "bob", "text": "still here?"}
        await driver.expect_message("alice", woken)
        await driver.expect_message("bob", woken)
        await recorder.wait("activate", count=2)
        assert app.is_active(BINDING, ROOM)

        for client, pk in (("alice", "alice-pk"), ("bob", "bob-pk")):
            assert driver.kinds(client) == ["open", "message", "message", "message"]
            assert driver.messages(client) == [{"type": "welcome", "pk": pk}, hello, woken]
        await driver.finish()


@pytest.mark.parametrize(
    "party",
    [
        pytest.param("no-such-party", id="no-binding"),
        pytest.param(BINDING, id="binding-not-kebab-case"),
    ],
)
async def test_partysocket_to_a_party_with_no_binding_is_refused_with_404(
    make_hub: MakeHub, tmp_path: Path, party: str
) -> None:
    app, recorder = await make_hub({BINDING: ChatRoom})
    async with (
        app.serve(host="127.0.0.1", port=0) as server,
        partysocket(server.port, tmp_path) as driver,
    ):
        await connect(driver, "stray", "stray-pk", party=party)
        error = await driver.expect(event="error", client="stray")
        assert error["message"] == "Unexpected server response: 404"
        await driver.expect(event="close", client="stray")
        assert "open" not in driver.kinds("stray")

        await driver.command("fetch", client="http", party=party, room=ROOM)
        response = await driver.expect(event="response", client="http")
        assert response["status"] == 404
        body = json.loads(response["body"])
        assert body["error"]["code"] == "unknown_binding"
        assert body["error"]["retryable"] is False

        # The refusal created no object and the hub still serves the real party.
        assert recorder.kinds("activate") == []
        await connect(driver, "alice", "alice-pk")
        await driver.expect_message("alice", {"type": "welcome", "pk": "alice-pk"})
        await driver.finish()
