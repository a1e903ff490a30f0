"""The hub side of roost.v1 (protocol/SPEC.md): sessions, exactly-once messages, RPC,
errors with stable codes, and plain sockets left as they are."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served


async def v1(
    served: Served, path: str = "/objects/room/r", session: str | None = "s1"
) -> ClientConnection:
    """A roost.v1 socket, with its session started when ``session`` is given."""
    ws = await served.connect(path, subprotocols=["roost.v1"])
    assert ws.subprotocol == "roost.v1"
    if session is not None:
        await send(ws, {"t": "hello", "session": session})
        welcome = await frame(ws)
        assert (welcome["t"], welcome["session"]) == ("welcome", session)
        assert isinstance(welcome["socket"], int)
    return ws


async def send(ws: ClientConnection, value: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(value).decode())


async def frame(ws: ClientConnection) -> Any:
    return orjson.loads(await within(ws.recv()))


async def rows(ws: ClientConnection) -> list[str]:
    await send(ws, {"t": "msg", "data": "rows"})
    answer = await frame(ws)
    assert answer["t"] == "msg"
    return [value for value in answer["data"].split(",") if value]


async def test_the_subprotocol_is_chosen_only_when_offered(serve: Serve) -> None:
    served = await serve()
    plain = await served.connect()
    assert plain.subprotocol is None
    await plain.send("echo:raw")
    assert await within(plain.recv()) == "raw"
    ws = await v1(served)
    await send(ws, {"t": "msg", "data": "echo:wrapped"})
    assert await frame(ws) == {"t": "msg", "data": "wrapped"}


async def test_messages_reach_the_handler_as_text(serve: Serve) -> None:
    served = await serve()
    ws = await v1(served)
    await send(ws, {"t": "msg", "data": "write:a"})
    assert await frame(ws) == {"t": "msg", "data": "wrote a"}
    await send(ws, {"t": "msg", "data": {"not": "a verb"}})
    assert (await served.next_event("message"))[2] == "write:a"
    assert (await served.next_event("message"))[2] == '{"not":"a verb"}'
    await ws.send(b"\x01\x02")
    assert await within(ws.recv()) == b"\x02\x01"  # binary stays binary


async def test_ping_is_answered_without_waking_the_object(serve: Serve) -> None:
    served = await serve()
    ws = await v1(served)
    assert await served.app.hibernate("ROOM", "r")
    await send(ws, {"t": "ping"})
    assert await frame(ws) == {"t": "pong"}
    assert not served.app.is_active("ROOM", "r")


async def test_exactly_once_across_duplicates_reconnects_hibernation_and_restarts(
    serve: Serve,
) -> None:
    served = await serve()
    ws = await v1(served, session="flappy")
    for n in (1, 2, 3):
        await send(ws, {"t": "msg", "id": n, "data": f"write:{n}"})
        assert await frame(ws) == {"t": "ack", "id": n}  # the ack first (SPEC §4.5)
        assert await frame(ws) == {"t": "msg", "data": f"wrote {n}"}
    await send(ws, {"t": "msg", "id": 2, "data": "write:2"})  # a resend
    assert await frame(ws) == {"t": "ack", "id": 2}
    await ws.close()
    assert await served.app.hibernate("ROOM", "r")
    again = await v1(served, session="flappy")
    await send(again, {"t": "msg", "id": 3, "data": "write:3"})
    assert await frame(again) == {"t": "ack", "id": 3}
    await send(again, {"t": "msg", "id": 4, "data": "write:4"})
    assert await frame(again) == {"t": "ack", "id": 4}
    assert await frame(again) == {"t": "msg", "data": "wrote 4"}
    assert await rows(again) == ["1", "2", "3", "4"]
    other = await v1(served, session="another")  # sessions are counted apart
    await send(other, {"t": "msg", "id": 1, "data": "write:other"})
    assert await frame(other) == {"t": "ack", "id": 1}
    assert await frame(other) == {"t": "msg", "data": "wrote other"}
    await served.server.stop()
    restarted = await serve(data_dir=served.app.data_dir)
    after = await v1(restarted, session="flappy")
    await send(after, {"t": "msg", "id": 4, "data": "write:4"})
    assert await frame(after) == {"t": "ack", "id": 4}
    assert await rows(after) == ["1", "2", "3", "4", "other"]


async def test_a_failing_handler_answers_an_error_once_and_is_not_run_again(
    serve: Serve,
) -> None:
    served = await serve()
    ws = await v1(served)
    await send(ws, {"t": "msg", "id": 1, "data": "fail:x"})
    error = await frame(ws)
    assert error == {
        "t": "error",
        "id": 1,
        "code": "object_error",
        "message": "RuntimeError: handler failed after sending",
        "retryable": False,
    }
    await send(ws, {"t": "msg", "id": 1, "data": "fail:x"})
    assert await frame(ws) == {"t": "ack", "id": 1}
    assert await rows(ws) == []  # the failed handler's write rolled back


async def test_a_failing_handler_is_logged_once(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve()
    ws = await v1(served)
    with caplog.at_level(logging.WARNING, logger="roost.runtime"):
        await send(ws, {"t": "msg", "id": 1, "data": "fail:x"})
        assert (await frame(ws))["code"] == "object_error"
    raised = [r for r in caplog.records if "raised" in r.getMessage()]
    assert len(raised) == 1, [r.getMessage() for r in raised]
    assert raised[0].exc_info is not None  # with its traceback


async def test_session_rules(serve: Serve) -> None:
    served = await serve()
    ws = await v1(served, session=None)
    await send(ws, {"t": "msg", "id": 1, "data": "write:x"})
    assert (await frame(ws))["code"] == "session_required"
    await send(ws, {"t": "hello", "session": "s"})
    assert (await frame(ws))["t"] == "welcome"
    await send(ws, {"t": "hello", "session": "s"})
    second = await frame(ws)
    assert (second["id"], second["code"], second["retryable"]) == (None, "session_required", False)
    assert await rows(ws) == []


async def test_calls_return_results_and_typed_errors(serve: Serve) -> None:
    served = await serve()
    ws = await v1(served)
    await send(ws, {"t": "call", "id": 1, "method": "add", "args": [2], "kwargs": {"b": 5}})
    assert await frame(ws) == {"t": "result", "id": 1, "result": 7}
    cases = [
        ({"method": "add", "args": ["x"]}, "invalid_arguments"),
        ({"method": "missing"}, "method_not_found"),
        ({"method": "_hidden"}, "method_not_found"),
        ({"method": "websocket_message"}, "method_not_found"),
        ({"method": "boom"}, "object_error"),
    ]
    for call_id, (call, code) in enumerate(cases, start=2):
        await send(ws, {"t": "call", "id": call_id, **call})
        answer = await frame(ws)
        assert (answer["t"], answer["id"], answer["code"]) == ("error", call_id, code)
        assert answer["retryable"] is False
    assert await served.app.hibernate("ROOM", "r")
    await send(ws, {"t": "call", "id": 99, "method": "add", "args": [1]})
    assert await frame(ws) == {"t": "result", "id": 99, "result": 1}


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"t":"nope"}', '{"t":"call","id":-1,"method":"add"}', '{"t":"msg"}'],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(serve: Serve, text: str) -> None:
    served = await serve()
    ws = await v1(served)
    await ws.send(text)
    error = await frame(ws)
    assert (error["t"], error["id"], error["code"], error["retryable"]) == (
        "error",
        None,
        "bad_frame",
        False,
    )
    await send(ws, {"t": "ping"})
    assert await frame(ws) == {"t": "pong"}


async def test_oversize_frames_close_with_1009(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(message_bytes=1024))
    ws = await v1(served)
    await send(ws, {"t": "msg", "data": "x" * 2000})
    with pytest.raises(ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == 1009


async def test_broadcast_reaches_plain_and_v1_sockets_each_in_its_form(serve: Serve) -> None:
    served = await serve()
    plain = await served.connect()
    wrapped = await v1(served)
    await plain.send("broadcast:to all")
    assert await within(plain.recv()) == "to all"
    assert await frame(wrapped) == {"t": "msg", "data": "to all"}


async def test_auto_responses_answer_v1_messages_too(serve: Serve) -> None:
    served = await serve()
    ws = await v1(served)
    await send(ws, {"t": "msg", "data": "autoresponse:hi=there"})
    await served.next_event("message")  # the object has it; hibernate waits for its end
    assert await served.app.hibernate("ROOM", "r")
    await send(ws, {"t": "msg", "data": "hi"})
    assert await frame(ws) == {"t": "msg", "data": "there"}
    assert not served.app.is_active("ROOM", "r")
