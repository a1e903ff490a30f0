"""``hub.Headers``, ``hub.Request`` and ``hub.Response`` take every form of headers and
client they document, the same way (lists and tuples of pairs are taken without the
``Mapping`` check, every other form through it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from hub.http import Client, Headers, Request, Response

PAIRS = [("Host", "h"), ("X-Tag", "a"), ("x-tag", "b")]


class Plain(Mapping[str, str]):
    """A mapping that is not a dict."""

    def __getitem__(self, name: str) -> str:
        return {"Host": "h"}[name]

    def __iter__(self) -> Iterator[str]:
        return iter(["Host"])

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize(
    "given",
    [PAIRS, tuple(PAIRS), [list(pair) for pair in PAIRS], iter(PAIRS), Headers(PAIRS)],
    ids=["list", "tuple", "lists", "iterator", "headers"],
)
def test_pairs_in_any_iterable_keep_order_and_duplicates(given: object) -> None:
    headers = Headers(given)  # type: ignore[arg-type]
    if isinstance(given, Headers):  # a mapping: one value per name
        assert headers.raw_items() == [("Host", "h"), ("X-Tag", "a")]
    else:
        assert headers.raw_items() == PAIRS
        assert headers.get_all("x-tag") == ["a", "b"]
    assert all(type(pair) is tuple for pair in headers.raw_items())


def test_mappings_give_one_pair_a_name() -> None:
    assert Headers({"Host": "h", "n": "1"}).raw_items() == [("Host", "h"), ("n", "1")]
    assert Headers(Plain()).raw_items() == [("Host", "h")]


def test_a_request_keeps_given_headers_and_client() -> None:
    headers, client = Headers(PAIRS), Client("10.0.0.1", 5)
    request = Request("get", "http://h/x", headers, client=client)
    assert request.headers is headers and request.client is client
    assert request.method == "GET"
    rebuilt = Request("GET", "http://h/x", PAIRS, client=["10.0.0.1", 5])  # type: ignore[arg-type]
    assert rebuilt.headers.raw_items() == PAIRS
    assert rebuilt.client == client and type(rebuilt.client) is Client


def test_a_response_takes_headers_in_every_form() -> None:
    assert Response(b"", 101).headers.raw_items() == []
    assert Response(b"x", 200, PAIRS).headers.raw_items() == PAIRS
    assert Response(b"x", 200, {"a": "b"}).headers.raw_items() == [("a", "b")]
    texted = Response("t", 200, (("x", "y"),))
    assert texted.headers.raw_items() == [("x", "y"), ("content-type", "text/plain; charset=utf-8")]
