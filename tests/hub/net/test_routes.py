"""URL routing rules, without a server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from hub.errors import BadRequestError, HubError
from hub.net.routes import (
    AdminRoute,
    ObjectRoute,
    RpcRoute,
    binding_from_kebab,
    kebab,
    match,
    request_url,
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


@pytest.mark.parametrize(
    ("target", "hosts", "url"),
    [
        ("/objects/room/r?x=1", ["example.com:8080"], "http://example.com:8080/objects/room/r?x=1"),
        ("/a", ["[::1]:8787"], "http://[::1]:8787/a"),
        ("/a", ["127.0.0.1"], "http://127.0.0.1/a"),
        ("//double/slash", ["h"], "http://h//double/slash"),
        ("http://other:1/p?q=2", ["h"], "http://other:1/p?q=2"),  # absolute-form wins
    ],
)
def test_the_url_is_the_target_under_a_validated_host(
    target: str, hosts: list[str], url: str
) -> None:
    assert request_url(target, hosts) == url
    if target.startswith("/"):  # the object's request.path is the target's path
        assert urlsplit(url).path == target.partition("?")[0]


@pytest.mark.parametrize(
    "host",
    [
        "x/objects/room/victim#",
        "x/_roost/objects?",
        "[x",
        "x]",
        "[::1",
        "[not:an:ip:literal:zz]",
        "a@b",
        "a b",
        "h:port",
        "x" * 300,
    ],
)
def test_a_host_that_could_change_the_route_or_is_malformed_is_a_400(host: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        request_url("/objects/room/public/rpc/add", [host])
    assert (refused.value.http_status, refused.value.code) == (400, "bad_request")


@pytest.mark.parametrize(
    ("target", "hosts", "version"),
    [
        ("/a", [], (1, 1)),  # HTTP/1.1 needs a Host (RFC 9112 §3.2)
        ("/a", ["h", "h"], (1, 1)),
        ("/a#fragment", ["h"], (1, 1)),
        ("*", ["h"], (1, 1)),
        ("h:443", ["h"], (1, 1)),
        ("/a b", ["h"], (1, 1)),
        ("http://[x/p", ["h"], (1, 1)),
    ],
)
def test_bad_targets_and_host_counts_are_a_400(
    target: str, hosts: list[str], version: tuple[int, int]
) -> None:
    with pytest.raises(BadRequestError):
        request_url(target, hosts, version)


def test_http_1_0_may_omit_host() -> None:
    assert request_url("/a", [], (1, 0)) == "http://localhost/a"
