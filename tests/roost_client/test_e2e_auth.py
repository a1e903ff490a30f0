"""Tokens against a real hub: a token function called before every socket, and
``set_auth`` refreshing the token of an open session (protocol/SPEC.md §6.5-§6.8)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
import pytest
import roost_client
from roost_client import State

import hub
from tests.conftest import within
from tests.roost_client.conftest import FakeSleep, RunHub, Running


class Badge(hub.DurableObject):
    """Lets in tokens not starting with ``bad``; ``wait`` holds ``websocket_auth`` until
    the test opens ``GATE``."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        token = request.query.get("token", "")
        if not token or token.startswith("bad"):
            return hub.Response("bad token", status=403)
        ws = self.ctx.accept_websocket(request)
        ws.serialize_attachment({"token": token, "via": "url"})
        return hub.Response.websocket(ws)

    async def websocket_auth(self, ws: hub.WebSocket, token: str) -> dict[str, str]:
        if token.startswith("bad"):
            raise hub.UnauthorizedError(f"token {token!r} refused")
        if token == "wait":
            self.env.STARTED.set()
            await self.env.GATE.wait()
        ws.serialize_attachment({"token": token, "via": "auth"})
        return {"token": token}

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        ws.send(orjson.dumps(ws.deserialize_attachment()).decode())


async def badge_hub(run_hub: RunHub) -> Running:
    return await run_hub(objects={"BADGE": Badge})


def url(running: Running) -> str:
    return running.url("b", binding="BADGE")


async def whoami(conn: roost_client.Connection) -> object:
    """What the object holds for this socket (its attachment)."""
    conn.send("whoami", exactly_once=False)
    return orjson.loads(await within(conn.recv()))


async def drop(conn: roost_client.Connection) -> None:
    """Cut the socket without a Close frame (1006) and wait for the next one to open."""
    changes = conn.state_changes()
    link = conn._link
    assert link is not None
    link.ws.transport.abort()
    try:
        async for change in changes:
            if change.state is State.OPEN:
                return
    finally:
        changes.close()


def counting(values: list[str]) -> tuple[Callable[[], str], list[str]]:
    """A sync token function giving ``values`` in turn, and the list of those given."""
    given: list[str] = []

    def token() -> str:
        given.append(values[len(given)])
        return given[-1]

    return token, given


async def test_a_token_function_is_called_again_for_every_socket(run_hub: RunHub) -> None:
    running = await badge_hub(run_hub)
    token, given = counting(["first", "second"])
    async with roost_client.connect(url(running), token=token, sleep=FakeSleep()) as conn:
        assert await whoami(conn) == {"token": "first", "via": "url"}
        await within(drop(conn))
        assert await whoami(conn) == {"token": "second", "via": "url"}
        assert given == ["first", "second"]
        assert conn.url.endswith("token=second")
        assert "second" not in repr(conn)


async def test_an_async_token_function_is_awaited_for_every_socket(run_hub: RunHub) -> None:
    running = await badge_hub(run_hub)
    given: list[str] = []

    async def token() -> str:
        await asyncio.sleep(0)
        given.append(f"async-{len(given)}")
        return given[-1]

    async with roost_client.connect(url(running), token=token, sleep=FakeSleep()) as conn:
        assert await whoami(conn) == {"token": "async-0", "via": "url"}
        await within(drop(conn))
        assert await whoami(conn) == {"token": "async-1", "via": "url"}
        # Without a token, set_auth asks the function for a fresh one.
        assert await within(conn.set_auth()) == {"token": "async-2"}
        assert await whoami(conn) == {"token": "async-2", "via": "auth"}


async def test_set_auth_hands_a_new_token_to_the_open_socket_and_to_later_ones(
    run_hub: RunHub,
) -> None:
    running = await badge_hub(run_hub)
    token, given = counting(["from-function", "never"])
    async with roost_client.connect(url(running), token=token, sleep=FakeSleep()) as conn:
        socket_id = conn.socket_id
        assert await within(conn.set_auth("given")) == {"token": "given"}
        assert conn.socket_id == socket_id  # no reconnect
        assert await whoami(conn) == {"token": "given", "via": "auth"}
        await within(drop(conn))
        # The given token is the connection's token now: the function is not called.
        assert await whoami(conn) == {"token": "given", "via": "url"}
        assert given == ["from-function"]


async def test_a_refused_token_raises_unauthorized_and_the_session_goes_on(
    run_hub: RunHub,
) -> None:
    running = await badge_hub(run_hub)
    async with roost_client.connect(url(running), token="good", sleep=FakeSleep()) as conn:
        with pytest.raises(roost_client.Unauthorized) as info:
            await within(conn.set_auth("bad-one"))
        error = info.value
        assert (error.code, error.retryable, error.message) == (
            "unauthorized",
            False,
            "token 'bad-one' refused",
        )
        assert conn.state is State.OPEN
        assert await whoami(conn) == {"token": "good", "via": "url"}
        # A refused token does not become the token of later sockets.
        await within(drop(conn))
        assert await whoami(conn) == {"token": "good", "via": "url"}


async def test_set_auth_fails_with_connection_lost_when_the_socket_drops_first(
    run_hub: RunHub,
) -> None:
    running = await badge_hub(run_hub)
    async with roost_client.connect(url(running), token="good", sleep=FakeSleep()) as conn:
        pending = asyncio.ensure_future(conn.set_auth("wait"))
        await within(running.started.wait())  # websocket_auth runs
        link = conn._link
        assert link is not None
        link.ws.transport.abort()
        with pytest.raises(roost_client.ConnectionLost) as info:
            await within(pending)
        assert info.value.retryable
        running.gate.set()
        await within(conn.wait_for(State.OPEN))
        assert await whoami(conn) == {"token": "good", "via": "url"}


async def test_set_auth_on_an_object_without_websocket_auth_is_method_not_found(
    run_hub: RunHub,
) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        with pytest.raises(roost_client.MethodNotFound, match="websocket_auth"):
            await within(conn.set_auth("t"))
        assert await within(conn.call("add", 1)) == 1


async def test_set_auth_needs_a_token(run_hub: RunHub) -> None:
    running = await run_hub()
    async with roost_client.connect(running.url()) as conn:
        with pytest.raises(ValueError, match="no token to send"):
            await conn.set_auth()
        with pytest.raises(TypeError, match="token must not be empty"):
            await conn.set_auth("")
        with pytest.raises(TypeError, match="token must be a str, got int"):
            await conn.set_auth(7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "retryable", "message"),
    [
        (lambda: 42, False, "the token function failed: the token function's value must be"),
        (lambda: "", False, "the token function failed: the token function's value must not"),
        (lambda: {}["missing"], True, "the token function raised KeyError"),
    ],
)
async def test_a_failing_token_function_fails_the_connect(
    run_hub: RunHub,
    token: Callable[[], str | Awaitable[str]],
    retryable: bool,
    message: str,
) -> None:
    running = await badge_hub(run_hub)
    sleep = FakeSleep()
    with pytest.raises(roost_client.ConnectFailed) as info:
        await within(roost_client.connect(url(running), token=token, reconnect=False, sleep=sleep))
    assert info.value.retryable is retryable
    assert info.value.message.startswith(message)
    assert info.value.__cause__ is not None


async def test_a_token_that_is_not_a_string_or_function_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="token must be a str or a function"):
        roost_client.connect("ws://127.0.0.1:1/objects/badge/b", token=42)  # type: ignore[arg-type]
