"""URL routing rules, without a server."""

from __future__ import annotations

import pytest

from hub.errors import HubError
from hub.net.routes import (
    AdminRoute,
    ObjectRoute,
    RpcRoute,
    binding_from_kebab,
    kebab,
    match,
)


def test_objects_and_parties_reach_fetch_with_a_decoded_name() -> None:
    assert match("GET", "/objects/chat-room/lobby") == ObjectRoute("CHAT_ROOM", "lobby")
    assert match("GET", "/parties/chat-room/lobby") == ObjectRoute("CHAT_ROOM", "lobby")
    assert match("PUT", "/objects/room/a%2Fb%20c/deeper/path") == ObjectRoute("ROOM", "a/b c")
    assert match("GET", "/objects/room/%F0%9F%98%80") == ObjectRoute("ROOM", "\U0001f600")


def test_post_to_rpc_is_a_call_and_anything_else_under_it_a_fetch() -> None:
    assert match("POST", "/objects/room/r/rpc/add") == RpcRoute("ROOM", "r", "add")
    assert match("GET", "/objects/room/r/rpc/add") == ObjectRoute("ROOM", "r")
    assert match("POST", "/parties/room/r/rpc/add") == ObjectRoute("ROOM", "r")


def test_kebab_case_maps_to_upper_snake_case_and_back() -> None:
    assert binding_from_kebab("chat-room") == "CHAT_ROOM"
    assert kebab("CHAT_ROOM") == "chat-room"
    for bad in ["Chat-Room", "chat_room", "-room", "room-", "chat--room", ""]:
        with pytest.raises(HubError) as refused:
            binding_from_kebab(bad)
        assert (refused.value.http_status, refused.value.code) == (404, "unknown_binding")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/", 404, "not_found"),
        ("GET", "/objects/room", 404, "not_found"),
        ("GET", "/objects/room/", 400, "invalid_id"),
        ("GET", "/objects/room/%FF", 400, "invalid_id"),
        ("POST", "/objects/room/r/rpc/_private", 404, "method_not_found"),
        ("POST", "/objects/room/r/rpc/a-b", 404, "method_not_found"),
        ("GET", "/_roost/nothing", 404, "not_found"),
        ("GET", "/_roost/objects/room/r/hibernate", 405, "method_not_allowed"),
    ],
)
def test_refusals_carry_a_status_and_a_stable_code(
    method: str, path: str, status: int, code: str
) -> None:
    with pytest.raises(HubError) as refused:
        match(method, path)
    assert (refused.value.http_status, refused.value.code) == (status, code)


def test_admin_routes() -> None:
    assert match("GET", "/_roost/health") == AdminRoute("health")
    assert match("GET", "/_roost/metrics") == AdminRoute("metrics")
    assert match("GET", "/_roost/objects") == AdminRoute("objects")
    assert match("POST", "/_roost/objects/chat-room/a%2Fb/hibernate") == AdminRoute(
        "hibernate", "CHAT_ROOM", "a/b"
    )
