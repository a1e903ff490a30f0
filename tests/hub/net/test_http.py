"""Plain HTTP to objects: fetch, RPC, errors with stable codes, the router hook."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

import hub
from tests.conftest import within
from tests.hub.net.conftest import Serve


async def test_http_requests_reach_fetch_and_its_response_comes_back(serve: Serve) -> None:
    served = await serve()
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            served.url("/objects/room/r/items?x=1&y=two"),
            content=b"payload",
            headers={"x-test": "yes"},
        )
        assert answer.status_code == 201
        assert answer.headers["x-answer"] == "yes"
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {
            "method": "POST",
            "path": "/objects/room/r/items",
            "query": {"x": "1", "y": "two"},
            "body": "payload",
            "name": "r",
            "header": "yes",
        }
        again = await client.get(served.url("/parties/room/r"))  # same connection, kept alive
        assert again.json()["method"] == "GET"


async def test_names_are_data_in_urls_too(serve: Serve) -> None:
    served = await serve()
    async with httpx.AsyncClient() as client:
        answer = await client.get(served.url("/objects/room/..%2F..%2Fetc%2Fpasswd"))
    assert answer.json()["name"] == "../../etc/passwd"
    files = list(served.app.data_dir.rglob("*.sqlite3"))
    assert all(path.is_relative_to(served.app.data_dir) for path in files)


async def test_rpc_over_http(serve: Serve) -> None:
    served = await serve()
    async with httpx.AsyncClient() as client:
        url = served.url("/objects/room/r/rpc/add")
        ok = await client.post(url, json={"args": [2], "kwargs": {"b": 3}})
        assert (ok.status_code, ok.json()) == (200, {"result": 5})
        defaults = await client.post(url)
        assert defaults.status_code == 400  # a is required

        async def error(path: str, **body: object) -> tuple[int, dict[str, object]]:
            answer = await client.post(served.url(path), **body)  # type: ignore[arg-type]
            return answer.status_code, answer.json()["error"]

        status, body = await error("/objects/room/r/rpc/add", json={"args": ["two"]})
        assert (status, body["code"], body["retryable"]) == (400, "invalid_arguments", False)
        assert "Expected `int`, got `str`" in str(body["message"])
        status, body = await error("/objects/room/r/rpc/_hidden")
        assert (status, body["code"]) == (404, "method_not_found")
        status, body = await error("/objects/room/r/rpc/missing")
        assert (status, body["code"]) == (404, "method_not_found")
        status, body = await error("/objects/room/r/rpc/fetch")
        assert (status, body["code"]) == (404, "method_not_found")
        status, body = await error("/objects/room/r/rpc/boom")
        assert (status, body["code"]) == (500, "object_error")
        assert body["message"] == "KeyError: 'no such thing'"
        status, body = await error("/objects/room/r/rpc/add", content=b"{not json")
        assert (status, body["code"]) == (400, "invalid_arguments")
        status, body = await error("/objects/room/r/rpc/add", json={"args": 1})
        assert (status, body["code"]) == (400, "invalid_arguments")
        status, body = await error("/objects/room/r/rpc/add", json={"argz": []})
        assert (status, body["code"]) == (400, "invalid_arguments")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/objects/nope/r", 404, "unknown_binding"),
        ("/nowhere", 404, "not_found"),
        ("/objects/room/r/fail", 500, "object_error"),
        ("/objects/room/r/not-a-response", 500, "object_error"),
    ],
)
async def test_http_errors_have_a_status_and_a_stable_code(
    serve: Serve, path: str, status: int, code: str
) -> None:
    served = await serve()
    async with httpx.AsyncClient() as client:
        answer = await client.get(served.url(path))
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


async def test_an_object_without_fetch_answers_http_with_501(serve: Serve) -> None:
    class Bare(hub.DurableObject):
        pass

    served = await serve({"BARE": Bare})
    async with httpx.AsyncClient() as client:
        answer = await client.get(served.url("/objects/bare/b"))
    assert answer.status_code == 501
    assert answer.json()["error"]["code"] == "fetch_not_implemented"


async def test_the_router_can_answer_or_route_requests(serve: Serve) -> None:
    async def router(request: hub.Request) -> hub.Response | tuple[str, str] | None:
        if request.headers.get("authorization") != "Bearer letmein":
            return hub.Response("who are you?", status=401)
        if request.path.startswith("/tenant/"):
            return ("ROOM", "tenant-" + request.path.split("/")[2])
        return None

    served = await serve(router=router)
    async with httpx.AsyncClient() as client:
        denied = await client.get(served.url("/objects/room/r"))
        assert (denied.status_code, denied.text) == (401, "who are you?")
        headers = {"authorization": "Bearer letmein"}
        routed = await client.get(served.url("/tenant/acme/page"), headers=headers)
        assert routed.json()["name"] == "tenant-acme"
        default = await client.get(served.url("/objects/room/r"), headers=headers)
        assert default.json()["name"] == "r"
    with pytest.raises(InvalidStatus) as refused:  # the router answers upgrades too
        await within(websockets.connect(served.server.ws_url + "/objects/room/r"))
    assert refused.value.response.status_code == 401
    assert refused.value.response.body == b"who are you?"


async def _raw(served_port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", served_port)
    writer.write(data)
    answer = await within(reader.read())
    writer.close()
    return answer


async def test_malformed_http_gets_400_and_the_hub_keeps_serving(serve: Serve) -> None:
    served = await serve()
    answer = await _raw(served.server.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    async with httpx.AsyncClient() as client:
        assert (await client.get(served.url("/objects/room/r"))).status_code == 200


async def test_a_body_over_the_message_limit_gets_413(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(message_bytes=1024))
    body = b"x" * 2000
    answer = await _raw(
        served.server.port,
        b"POST /objects/room/r HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + body,
    )
    assert answer.startswith(b"HTTP/1.1 413")
