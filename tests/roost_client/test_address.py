"""Object URLs: kebab-case bindings, names as one percent-encoded segment, query, token."""

from __future__ import annotations

from typing import Any

import pytest
from roost_client import object_url
from roost_client.address import redacted, with_token


def test_host_binding_and_name_make_the_object_url() -> None:
    url = object_url(host="127.0.0.1:8787", binding="CHAT_ROOM", name="lobby")
    assert url == "ws://127.0.0.1:8787/objects/chat-room/lobby"


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("two words", "two%20words"),
        ("q?x=1#frag", "q%3Fx%3D1%23frag"),
        ("élan 😀", "%C3%A9lan%20%F0%9F%98%80"),
        ("..", ".."),
        ("%41", "%2541"),
    ],
)
def test_any_name_is_one_percent_encoded_segment(name: str, segment: str) -> None:
    url = object_url(host="h", binding="room", name=name)
    assert url == f"ws://h/objects/room/{segment}"


def test_a_host_with_a_scheme_keeps_it_and_http_becomes_ws() -> None:
    assert object_url(host="wss://example.com/", binding="ROOM", name="r").startswith(
        "wss://example.com/objects/room/r"
    )
    assert object_url(host="https://example.com", binding="ROOM", name="r").startswith("wss://")
    assert object_url("http://h:1/objects/room/r") == "ws://h:1/objects/room/r"


def test_query_and_token_are_added_to_the_query_the_url_has() -> None:
    url = object_url(
        "ws://h/objects/room/r?tags=a,b", query={"who": "ada lovelace"}, token="t0k=n&x"
    )
    assert url == "ws://h/objects/room/r?tags=a,b&who=ada+lovelace&token=t0k%3Dn%26x"


def test_the_token_travels_in_the_query() -> None:
    url = object_url(host="h", binding="ROOM", name="r", token="secret")
    assert url == "ws://h/objects/room/r?token=secret"


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ((), {}, "give url, or all of host, binding and name"),
        (("ws://h/x",), {"host": "h"}, "give either url or host, binding and name"),
        ((), {"host": "h", "binding": "ROOM", "name": ""}, "object name must not be empty"),
        ((), {"host": "h", "binding": "chat room", "name": "r"}, "binding must be"),
        (("ftp://h/objects/room/r",), {}, "expected a ws://"),
        (("objects/room/r",), {}, "expected a ws://"),
    ],
)
def test_incomplete_or_invalid_addresses_are_refused(
    args: tuple[str, ...], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        object_url(*args, **options)


def test_the_token_is_redacted_where_urls_are_shown() -> None:
    url = object_url(host="h", binding="ROOM", name="r", query={"a": "1,2"}, token="s3cret")
    assert redacted(url) == "ws://h/objects/room/r?a=1,2&token=***"
    assert redacted("ws://h/objects/room/r") == "ws://h/objects/room/r"


def test_with_token_replaces_the_token_and_keeps_the_rest_as_written() -> None:
    url = "ws://h/objects/room/r?tags=a,b&token=old&who=ada+lovelace"
    assert (
        with_token(url, "n3w&=")
        == "ws://h/objects/room/r?tags=a,b&who=ada+lovelace&token=n3w%26%3D"
    )
    assert with_token("ws://h/objects/room/r", "t") == "ws://h/objects/room/r?token=t"
    assert with_token(url, None) == url
