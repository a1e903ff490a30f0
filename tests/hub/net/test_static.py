"""``/_roost/client.js`` and ``/_roost/client.cjs``: the JS client, public, cached by
ETag, gzipped when asked, HEAD too (hub/net/static.py). Read off the raw connection, so
what goes over the wire (compressed bytes, no body after HEAD) is what is checked."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest

from hub.net import routes, static
from tests.conftest import split_response, within
from tests.hub.net.conftest import Serve, Served

STATIC = Path(__file__).resolve().parents[3] / "hub" / "static"
ESM = (STATIC / "roost-client.js").read_bytes()
CJS = (STATIC / "roost-client.cjs").read_bytes()

Answer = tuple[int, dict[str, str], bytes]


async def _exchange(served: Served, requests: list[str]) -> bytes:
    """Write ``requests`` on one connection (the last says Connection: close); read all."""
    reader, writer = await within(asyncio.open_connection("127.0.0.1", served.server.port))
    writer.write("".join(requests).encode())
    try:
        return await within(reader.read())
    finally:
        writer.close()


def _request(method: str, path: str, *headers: str, close: bool = True) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if close:
        lines.append("Connection: close")
    return "\r\n".join(lines) + "\r\n\r\n"


async def get(served: Served, path: str, *headers: str, method: str = "GET") -> Answer:
    raw = await _exchange(served, [_request(method, path, *headers)])
    answer, rest = split_response(raw, body=method != "HEAD")
    assert rest == b"", "nothing after the answer"
    return answer


async def test_the_client_is_public_even_with_an_admin_key(serve: Serve) -> None:
    served = await serve(serve_options={"admin_key": "s3cret"})
    status, headers, body = await get(served, "/_roost/client.js")
    assert status == 200
    assert body == ESM
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["cache-control"] == "public, no-cache"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert "content-encoding" not in headers
    status, headers, body = await get(served, "/_roost/client.cjs")
    assert (status, body) == (200, CJS)
    # The rest of /_roost/ still needs the key.
    assert (await get(served, "/_roost/metrics"))[0] == 401
    assert (await get(served, "/_roost/client.mjs"))[0] in (401, 404), "no other public file"


async def test_gzip_when_accepted_with_its_own_etag(serve: Serve) -> None:
    served = await serve()
    _, plain, _ = await get(served, "/_roost/client.js")
    status, headers, body = await get(served, "/_roost/client.js", "Accept-Encoding: gzip, br")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert int(headers["content-length"]) == len(body) < len(ESM) // 2
    assert gzip.decompress(body) == ESM
    assert headers["etag"] != plain["etag"]
    _, again, body_again = await get(served, "/_roost/client.js", "Accept-Encoding: gzip")
    assert (again["etag"], body_again) == (headers["etag"], body), "compressed once"
    _, refused, _ = await get(served, "/_roost/client.js", "Accept-Encoding: gzip;q=0, *")
    assert "content-encoding" not in refused


async def test_if_none_match_answers_304_without_a_body(serve: Serve) -> None:
    served = await serve()
    _, plain, _ = await get(served, "/_roost/client.js")
    _, zipped, _ = await get(served, "/_roost/client.js", "Accept-Encoding: gzip")
    for condition in (plain["etag"], f'"other", W/{plain["etag"]}', zipped["etag"], "*"):
        raw = await _exchange(
            served, [_request("GET", "/_roost/client.js", f"If-None-Match: {condition}")]
        )
        (status, headers, _), rest = split_response(raw, body=False)
        assert (status, rest) == (304, b""), condition
        assert headers["etag"] == plain["etag"]
        assert headers["cache-control"] == "public, no-cache"
    status, _, body = await get(served, "/_roost/client.js", 'If-None-Match: "stale"')
    assert (status, body) == (200, ESM)


async def test_head_sends_the_headers_only_and_the_connection_goes_on(serve: Serve) -> None:
    served = await serve()
    raw = await _exchange(
        served,
        [
            _request("HEAD", "/_roost/client.js", "Accept-Encoding: gzip", close=False),
            _request("GET", "/_roost/client.cjs"),
        ],
    )
    (status, headers, _), rest = split_response(raw, body=False)
    assert status == 200
    assert int(headers["content-length"]) == len(static.load("roost-client.js").gzipped)
    assert headers["content-encoding"] == "gzip"
    (status, _, body), rest = split_response(rest)
    assert (status, body, rest) == (200, CJS, b"")


async def test_other_methods_are_refused_with_allow(serve: Serve) -> None:
    served = await serve()
    status, headers, body = await get(served, "/_roost/client.js", method="POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert b'"code":"method_not_allowed"' in body


def test_routes() -> None:
    for method in ("GET", "HEAD", "POST"):
        assert routes.match(method, "/_roost/client.js") == routes.StaticRoute("client.js")
    assert routes.match("GET", "/_roost/client.cjs") == routes.StaticRoute("client.cjs")
    assert routes.match("GET", "/_roost/health") == routes.AdminRoute("health")
    assert set(static.FILES) == routes.STATIC_PATHS


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *", False),
        ("*;q=0", False),
        ("identity", False),
        ("br", False),
        ("", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding(accept: str, gzipped: bool) -> None:
    assert static.accepts_gzip(accept) is gzipped
