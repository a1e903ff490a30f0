"""Token refresh over roost.v1 (protocol/SPEC.md §6.5-§6.8): ``auth`` frames run the
object's ``websocket_auth`` as a socket event, answered like a call."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from websockets.exceptions import ConnectionClosed

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served
from tests.hub.net.test_roost_v1 import frame, send, v1

PATH = "/objects/guarded/g"


class Guarded(hub.DurableObject):
    """Takes tokens ``verb:user``: ``ok`` (accept), ``refuse``, ``fail``, ``close``."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS tokens (v TEXT)")

    async def fetch(self, request: hub.Request) -> hub.Response:
        ws = self.ctx.accept_websocket(request)
        ws.serialize_attachment({"user": request.query.get("token", "nobody")})
        return hub.Response.websocket(ws)

    async def websocket_auth(self, ws: hub.WebSocket, token: str) -> Any:
        verb, _, user = token.partition(":")
        self.ctx.storage.sql.exec("INSERT INTO tokens VALUES (?)", token)
        if verb == "refuse":
            raise hub.UnauthorizedError(f"token for {user!r} expired")
        if verb == "fail":
            raise RuntimeError("the token check failed")
        if verb == "close":
            ws.close(4001, "token expired")
            return None
        ws.serialize_attachment({"user": user})
        ws.send(f"hello {user}")
        return {"user": user}

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        if message == "whoami":
            ws.send(orjson.dumps(ws.deserialize_attachment()).decode())
        elif message == "tokens":
            rows = self.ctx.storage.sql.exec("SELECT v FROM tokens").raw()
            ws.send(",".join(str(row[0]) for row in rows))
        else:
            ws.send(f"got {message!r}")


async def guarded(serve: Serve) -> Served:
    return await serve({"GUARDED": Guarded})


async def ask(ws: Any, message: str) -> Any:
    await send(ws, {"t": "msg", "data": message})
    answer = await frame(ws)
    assert answer["t"] == "msg", answer
    return answer["data"]


async def test_a_token_is_taken_and_a_later_handler_sees_the_new_identity(serve: Serve) -> None:
    served = await guarded(serve)
    ws = await v1(served, PATH + "?token=old")
    assert await ask(ws, "whoami") == '{"user":"old"}'
    await send(ws, {"t": "auth", "id": 2**53 - 1, "token": "ok:ada"})
    # The answer first, then what the event sent (as for ack, SPEC §4.5).
    assert await frame(ws) == {"t": "result", "id": 2**53 - 1, "result": {"user": "ada"}}
    assert await frame(ws) == {"t": "msg", "data": "hello ada"}
    assert await ask(ws, "whoami") == '{"user":"ada"}'
    assert await ask(ws, "tokens") == "ok:ada"  # the event's write committed
    assert await served.app.hibernate("GUARDED", "g")
    assert await ask(ws, "whoami") == '{"user":"ada"}'  # kept across hibernation


async def test_a_refused_token_is_unauthorized_and_the_socket_goes_on(serve: Serve) -> None:
    served = await guarded(serve)
    ws = await v1(served, PATH + "?token=old")
    await send(ws, {"t": "auth", "id": 7, "token": "refuse:eve"})
    assert await frame(ws) == {
        "t": "error",
        "id": 7,
        "code": "unauthorized",
        "message": "token for 'eve' expired",
        "retryable": False,
    }
    assert await ask(ws, "whoami") == '{"user":"old"}'
    assert await ask(ws, "tokens") == ""  # rolled back
    await send(ws, {"t": "auth", "id": 8, "token": "ok:eve"})
    assert (await frame(ws))["result"] == {"user": "eve"}


async def test_a_failing_handler_is_an_object_error_rolled_back_and_logged_once(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await guarded(serve)
    ws = await v1(served, PATH)
    with caplog.at_level(logging.WARNING, logger="roost.runtime"):
        await send(ws, {"t": "auth", "id": 3, "token": "fail:x"})
        assert await frame(ws) == {
            "t": "error",
            "id": 3,
            "code": "object_error",
            "message": "RuntimeError: the token check failed",
            "retryable": False,
        }
    raised = [r for r in caplog.records if "websocket_auth" in r.getMessage()]
    assert len(raised) == 1, [r.getMessage() for r in caplog.records]
    assert await ask(ws, "tokens") == ""


async def test_the_handler_may_close_the_socket_after_answering(serve: Serve) -> None:
    served = await guarded(serve)
    ws = await v1(served, PATH)
    await send(ws, {"t": "auth", "id": 4, "token": "close:x"})
    assert await frame(ws) == {"t": "result", "id": 4, "result": None}
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert (ws.close_code, ws.close_reason) == (4001, "token expired")


async def test_an_object_without_websocket_auth_answers_method_not_found_asleep(
    serve: Serve,
) -> None:
    served = await serve()
    ws = await v1(served)
    assert await served.app.hibernate("ROOM", "r")
    await send(ws, {"t": "auth", "id": 5, "token": "t"})
    error = await frame(ws)
    assert (error["t"], error["id"], error["code"], error["retryable"]) == (
        "error",
        5,
        "method_not_found",
        False,
    )
    assert "websocket_auth" in error["message"]
    assert not served.app.is_active("ROOM", "r")  # not woken for nothing


async def test_websocket_auth_is_never_rpc(serve: Serve) -> None:
    served = await guarded(serve)
    ws = await v1(served, PATH)
    await send(ws, {"t": "call", "id": 6, "method": "websocket_auth", "args": [None, "ok:x"]})
    error = await frame(ws)
    assert (error["id"], error["code"]) == (6, "method_not_found")
    assert "lifecycle" in error["message"]
    assert await ask(ws, "tokens") == ""


async def test_auth_may_come_before_hello(serve: Serve) -> None:
    served = await guarded(serve)
    ws = await v1(served, PATH, session=None)
    await send(ws, {"t": "auth", "id": 1, "token": "ok:early"})
    assert await frame(ws) == {"t": "result", "id": 1, "result": {"user": "early"}}
    assert await frame(ws) == {"t": "msg", "data": "hello early"}
    await send(ws, {"t": "hello", "session": "s"})
    assert (await frame(ws))["t"] == "welcome"


@pytest.mark.parametrize(
    "text",
    [
        '{"t":"auth","id":1}',
        '{"t":"auth","id":1,"token":""}',
        '{"t":"auth","id":1,"token":7}',
        '{"t":"auth","token":"ok:x"}',
        '{"t":"auth","id":-1,"token":"ok:x"}',
    ],
)
async def test_a_bad_auth_frame_is_bad_frame_and_runs_nothing(serve: Serve, text: str) -> None:
    served = await guarded(serve)
    ws = await v1(served, PATH)
    await ws.send(text)
    error = await frame(ws)
    assert (error["t"], error["id"], error["code"]) == ("error", None, "bad_frame")
    assert await ask(ws, "tokens") == ""


async def test_plain_sockets_get_auth_text_as_a_message(serve: Serve) -> None:
    served = await guarded(serve)
    plain = await served.connect(PATH)
    text = '{"t":"auth","id":1,"token":"ok:x"}'
    await plain.send(text)
    assert await within(plain.recv()) == f"got {text!r}"
