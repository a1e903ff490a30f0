"""Hooks the hub calls (``feed_allowed``, the lifecycle methods) are never RPC: over
HTTP, ``roost.v1`` and a stub they are ``method_not_found``, and they never run."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import pytest

import hub
from hub.runtime.rpc import HOOKS
from tests.hub.net.conftest import Serve
from tests.hub.net.test_roost_v1 import frame, send, v1


class Guarded(hub.DurableObject):
    """A feed whose ``feed_allowed`` records every time it runs."""

    feeds = ("items",)
    ran: ClassVar[list[str]] = []

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY)")

    def feed_allowed(self, ws: Any = None, table: Any = None) -> bool:
        Guarded.ran.append(f"feed_allowed({table!r})")
        return True

    def visible(self) -> str:
        return "a public method"


@pytest.fixture(autouse=True)
def _clear() -> None:
    Guarded.ran.clear()


def test_every_name_the_hub_calls_on_objects_is_a_hook() -> None:
    assert {"fetch", "alarm", "websocket_message", "websocket_close", "websocket_error"} <= HOOKS
    assert "feed_allowed" in HOOKS


async def test_feed_allowed_over_http_is_404_method_not_found(serve: Serve) -> None:
    served = await serve({"GUARDED": Guarded})
    async with httpx.AsyncClient() as client:
        ok = await client.post(served.url("/objects/guarded/g/rpc/visible"))
        assert (ok.status_code, ok.json()) == (200, {"result": "a public method"})
        answer = await client.post(
            served.url("/objects/guarded/g/rpc/feed_allowed"), json={"args": [None, "items"]}
        )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "method_not_found"
    assert Guarded.ran == []


async def test_feed_allowed_over_roost_v1_is_method_not_found(serve: Serve) -> None:
    served = await serve({"GUARDED": Guarded})
    ws = await v1(served, "/objects/guarded/g")
    await send(ws, {"t": "call", "id": 7, "method": "feed_allowed", "args": [None, "items"]})
    answer = await frame(ws)
    assert (answer["t"], answer["id"], answer["code"]) == ("error", 7, "method_not_found")
    assert Guarded.ran == []
    # The hub still calls it itself, for a subscription.
    await send(ws, {"t": "sub", "id": 8, "table": "items"})
    assert (await frame(ws))["t"] == "subscribed"
    assert Guarded.ran == ["feed_allowed('items')"]


async def test_feed_allowed_via_a_stub_is_method_not_found(serve: Serve) -> None:
    served = await serve({"GUARDED": Guarded})
    stub = served.app.env.GUARDED.get_by_name("g")
    assert await stub.visible() == "a public method"
    with pytest.raises(hub.MethodNotFoundError, match="hook") as caught:
        stub.feed_allowed  # noqa: B018
    assert caught.value.code == "method_not_found"
    assert Guarded.ran == []
