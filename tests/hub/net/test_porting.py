"""Porting from Cloudflare on a served hub: ``stub.fetch``, ``request.client`` (and trusted
proxies), ``ctx.abort`` with open sockets, ``ctx.storage.sync`` and the output gate."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

import hub
from hub.errors import CallCycleError, FetchNotImplementedError, LimitExceededError
from tests.conftest import within
from tests.hub.net.conftest import Serve


class Front(hub.DurableObject):
    """Passes requests on to ``Back`` through its stub."""

    async def fetch(self, request: hub.Request) -> hub.Response:
        back = self.env.BACK.get_by_name("b")
        if request.path.endswith("/pass"):
            return await back.fetch(request)  # the request as it came
        if request.path.endswith("/self"):
            return await self.env.FRONT.get(self.ctx.id).fetch("/x")
        if request.path.endswith("/plain"):
            return await self.env.PLAIN.get_by_name("p").fetch("/x")
        if request.path.endswith("/fails"):
            return await back.fetch("/fail")
        body = await request.body()
        return await back.fetch(
            "/made?q=1", method="PUT", headers={"x-test": "made"}, body=body or "text"
        )

    async def via_rpc(self, path: str) -> dict[str, Any]:
        response = await self.env.BACK.get_by_name("b").fetch(path, method="POST", body=b"rpc")
        return {
            "status": response.status,
            "body": orjson.loads(response.body),
            "header": response.headers.get("x-back"),
        }


class Back(hub.DurableObject):
    async def fetch(self, request: hub.Request) -> hub.Response:
        if request.path == "/fail":
            raise KeyError("back failed")
        return hub.Response.json(
            {
                "method": request.method,
                "url": request.url,
                "header": request.headers.get("x-test"),
                "body": (await request.body()).decode(),
                "client": request.client_address,
            },
            status=202,
            headers={"x-back": "yes"},
        )


class Plain(hub.DurableObject):
    def ping(self) -> str:
        return "pong"


class Who(hub.DurableObject):
    async def fetch(self, request: hub.Request) -> hub.Response:
        if request.is_websocket:
            ws = self.ctx.accept_websocket(request)
            ws.send(orjson.dumps(list(request.client or ())).decode())
            return hub.Response.websocket(ws)
        client = request.client
        return hub.Response.json(None if client is None else list(client))


OBJECTS: dict[str, type[hub.DurableObject]] = {
    "FRONT": Front,
    "BACK": Back,
    "PLAIN": Plain,
    "WHO": Who,
}


async def _get(url: str, **options: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await within(client.request(options.pop("method", "GET"), url, **options))


# -- stub.fetch --------------------------------------------------------------------------


async def test_stub_fetch_passes_a_request_on_as_it_came(serve: Serve) -> None:
    served = await serve(OBJECTS)
    response = await _get(
        served.url("/objects/front/f/pass?a=1"),
        method="POST",
        headers={"x-test": "kept"},
        content=b"payload",
    )
    assert response.status_code == 202
    assert response.headers["x-back"] == "yes"
    got = response.json()
    assert got["method"] == "POST" and got["header"] == "kept" and got["body"] == "payload"
    assert got["url"].endswith("/objects/front/f/pass?a=1")
    assert got["client"] == "127.0.0.1"  # the request passed on keeps its client


async def test_stub_fetch_builds_a_request_from_a_url_method_headers_and_body(
    serve: Serve,
) -> None:
    served = await serve(OBJECTS)
    got = (await _get(served.url("/objects/front/f/made"))).json()
    assert got == {
        "method": "PUT",
        "url": "http://localhost/made?q=1",
        "header": "made",
        "body": "text",
        "client": None,
    }


async def test_stub_fetch_from_rpc_returns_a_hub_response(serve: Serve) -> None:
    served = await serve(OBJECTS)
    result = await served.app.env.FRONT.get_by_name("f").via_rpc("http://objects.test/p")
    assert result["status"] == 202 and result["header"] == "yes"
    assert result["body"]["method"] == "POST" and result["body"]["body"] == "rpc"


async def test_stub_fetch_errors_reach_the_caller(serve: Serve) -> None:
    served = await serve(OBJECTS)
    failing = await _get(served.url("/objects/front/f/fails"))
    assert failing.status_code == 500
    assert failing.json()["error"]["code"] == "object_error"
    plain = await _get(served.url("/objects/front/f/plain"))
    assert plain.json()["error"]["code"] == "fetch_not_implemented"
    cycle = await _get(served.url("/objects/front/f/self"))
    assert cycle.json()["error"]["code"] == "call_cycle"
    back = served.app.env.BACK.get_by_name("b")
    with pytest.raises(hub.RemoteError, match="back failed"):
        await back.fetch("/fail")
    with pytest.raises(FetchNotImplementedError):
        await served.app.env.PLAIN.get_by_name("p").fetch("/")
    assert not issubclass(FetchNotImplementedError, CallCycleError)


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("ftp://x/",), {}, ValueError),
        (("relative",), {}, ValueError),
        (("/x",), {"method": "GET /x"}, ValueError),
        ((42,), {}, TypeError),
        (("/x",), {"body": b"x" * (1 << 21)}, LimitExceededError),
    ],
)
async def test_stub_fetch_refuses_bad_requests_before_sending(
    serve: Serve, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    served = await serve(OBJECTS)
    with pytest.raises(error):
        await served.app.env.BACK.get_by_name("b").fetch(*args, **kwargs)


async def test_stub_fetch_refuses_a_websocket_upgrade(serve: Serve) -> None:
    served = await serve(OBJECTS)
    upgrade = hub.Request("GET", "http://h/x", upgrade_id=7)
    with pytest.raises(ValueError, match="WebSocket"):
        await served.app.env.BACK.get_by_name("b").fetch(upgrade)


# -- request.client ----------------------------------------------------------------------


async def test_request_client_is_the_peer_by_default(serve: Serve) -> None:
    served = await serve(OBJECTS)
    response = await _get(served.url("/objects/who/w"), headers={"x-forwarded-for": "198.51.100.7"})
    host, port = response.json()
    assert host == "127.0.0.1" and isinstance(port, int) and port > 0


async def test_behind_a_trusted_proxy_the_client_comes_from_x_forwarded_for(
    serve: Serve,
) -> None:
    served = await serve(OBJECTS, trusted_proxies="127.0.0.0/8")
    url = served.url("/objects/who/w")
    forwarded = await _get(url, headers={"x-forwarded-for": "1.1.1.1, 198.51.100.7"})
    assert forwarded.json() == ["198.51.100.7", None]
    hostile = await _get(url, headers={"x-forwarded-for": "evil, " * 500 + "1.1.1.1"})
    assert hostile.status_code == 200 and hostile.json()[0] == "127.0.0.1"
    absent = await _get(url)
    assert absent.json()[0] == "127.0.0.1"
    ws = await served.connect("/objects/who/w", additional_headers={"x-forwarded-for": "2.2.2.2"})
    assert orjson.loads(await within(ws.recv())) == ["2.2.2.2", None]


async def test_a_bad_trusted_proxy_is_a_configuration_error() -> None:
    with pytest.raises(hub.ConfigurationError, match=r"'10\.0\.0\.0/40'"):
        hub.Hub({"WHO": Who}, trusted_proxies="10.0.0.0/40")


# -- abort with open sockets, sync and the output gate ------------------------------------


class Resettable(hub.DurableObject):
    constructed = 0

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        type(self).constructed += 1
        self.generation = type(self).constructed
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (v TEXT)")

    async def websocket_message(self, ws: hub.WebSocket, message: str | bytes) -> None:
        if message == "abort":
            self.ctx.storage.sql.exec("INSERT INTO log VALUES ('lost')")
            ws.send("never sent")
            self.ctx.abort("reset by test")
        elif message == "sync":
            self.ctx.storage.sql.exec("INSERT INTO log VALUES ('kept')")
            ws.send("before sync")
            await self.ctx.storage.sync()
            self.ctx.storage.sql.exec("INSERT INTO log VALUES ('dropped')")
            ws.send("after sync")
            raise RuntimeError("fails after sync")
        else:
            rows = [r["v"] for r in self.ctx.storage.sql.exec("SELECT v FROM log")]
            sockets = len(self.ctx.get_websockets())
            ws.send(orjson.dumps([self.generation, rows, sockets]).decode())


async def test_abort_keeps_sockets_open_and_the_next_message_wakes_a_fresh_instance(
    serve: Serve,
) -> None:
    served = await serve({"RESET": Resettable})
    first = await served.connect("/objects/reset/r")
    other = await served.connect("/objects/reset/r")
    await first.send("state")
    generation, rows, sockets = orjson.loads(await within(first.recv()))
    assert rows == [] and sockets == 2
    await first.send("abort")
    await served.lifecycle.wait("evict")
    await first.send("state")
    after = orjson.loads(await within(first.recv()))
    assert after[0] > generation and after[1] == [] and after[2] == 2
    await other.send("state")
    assert orjson.loads(await within(other.recv()))[2] == 2


async def test_sync_sends_what_was_queued_before_it_and_keeps_its_writes(serve: Serve) -> None:
    served = await serve({"RESET": Resettable})
    ws = await served.connect("/objects/reset/r")
    await ws.send("sync")
    assert await within(ws.recv()) == "before sync"
    await ws.send("state")
    _generation, rows, _sockets = orjson.loads(await within(ws.recv()))
    assert rows == ["kept"]  # "after sync" was never sent: its event failed


async def test_requests_in_flight_keep_their_order_across_an_abort(serve: Serve) -> None:
    served = await serve({"RESET": Resettable})
    ws = await served.connect("/objects/reset/r")
    for message in ("abort", "state", "state"):
        await ws.send(message)
    one = orjson.loads(await within(ws.recv()))
    two = orjson.loads(await within(ws.recv()))
    assert one[0] == two[0]  # both on the one fresh instance


# -- RPC from an HTML form ---------------------------------------------------------------


class Signup(hub.DurableObject):
    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS people (name TEXT, age INT)")

    def join(
        self, name: str, age: int, news: bool = False, topics: list[str] | None = None
    ) -> dict[str, Any]:
        self.ctx.storage.sql.exec("INSERT INTO people VALUES (?, ?)", name, age)
        return {"name": name, "age": age, "news": news, "topics": topics}

    def count(self) -> int:
        return int(self.ctx.storage.sql.prepare("SELECT count(*) AS n FROM people").first("n"))


FORM = "application/x-www-form-urlencoded"


async def _post(served: Any, body: bytes | str, content_type: str) -> httpx.Response:
    return await _get(
        served.url("/objects/signup/s/rpc/join"),
        method="POST",
        content=body,
        headers={"content-type": content_type},
    )


async def test_a_form_post_calls_the_method_with_coerced_fields(serve: Serve) -> None:
    served = await serve({"SIGNUP": Signup})
    response = await _post(
        served, "name=Ada+L&age=36&news=on&topics=math&topics=code", FORM + "; charset=UTF-8"
    )
    assert response.status_code == 200
    assert response.json() == {
        "result": {"name": "Ada L", "age": 36, "news": True, "topics": ["math", "code"]}
    }


@pytest.mark.parametrize(
    "body",
    ["name=Bo&age=old", "name=Bo", "name=Bo&age=3&news=perhaps", "name=Bo&age=3&x=1", b"\xff=1"],
)
async def test_a_form_that_does_not_fit_is_400_and_the_method_does_not_run(
    serve: Serve, body: str | bytes
) -> None:
    served = await serve({"SIGNUP": Signup})
    response = await _post(served, body, FORM)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_arguments"
    assert await served.app.env.SIGNUP.get_by_name("s").count() == 0


async def test_multipart_form_data_is_415(serve: Serve) -> None:
    served = await serve({"SIGNUP": Signup})
    body = b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nBo\r\n--b--\r\n'
    response = await _post(served, body, "multipart/form-data; boundary=b")
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type" and "urlencoded" in error["message"]
    assert await served.app.env.SIGNUP.get_by_name("s").count() == 0
