"""The HTTP/1.1 request reader's bounds, without a server (fed whole and byte by byte)."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest

from hub.errors import (
    BadRequestError,
    HeadersTooLargeError,
    HttpError,
    UriTooLongError,
)
from hub.net.http1 import BodyTooLargeError, RequestReader


def reader(**limits: int) -> RequestReader:
    options = {"max_body": 1024, "max_target": 100, "max_head": 1000, "max_headers": 10}
    options.update(limits)
    return RequestReader(**options)


def whole(r: RequestReader, data: bytes) -> None:
    r.feed(data)


def bytewise(r: RequestReader, data: bytes) -> None:
    for i in range(len(data)):
        r.feed(data[i : i + 1])


FEEDS = [whole, bytewise]


@pytest.mark.parametrize("feed", FEEDS)
def test_a_valid_request_is_read_the_same_however_it_is_split(
    feed: Callable[[RequestReader, bytes], None],
) -> None:
    r = reader()
    feed(r, b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    feed(r, b"GET / HTTP/1.0\r\n\r\n")
    first, second = r.requests
    assert (first.method, first.target, first.body, first.version) == (
        "POST",
        "/a?b=1",
        b"abc",
        (1, 1),
    )
    assert first.headers == [("Host", "x"), ("Content-Length", "3")]
    assert (second.method, second.target, second.version, second.keep_alive) == (
        "GET",
        "/",
        (1, 0),
        False,
    )
    assert not r.reading


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n\r\n", UriTooLongError, "uri_too_long"),
        (b"GET / HTTP/1.1\r\nX: " + b"v" * 2000 + b"\r\n\r\n", HeadersTooLargeError, None),
        (
            b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: v\r\n" % i for i in range(11)) + b"\r\n",
            HeadersTooLargeError,
            "headers_too_large",
        ),
        (b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", BodyTooLargeError, "message_too_big"),
        (b"NOT HTTP AT ALL\r\n\r\n", BadRequestError, "bad_request"),
    ],
)
def test_what_is_over_a_bound_or_malformed_is_a_stable_http_error(
    feed: Callable[[RequestReader, bytes], None],
    data: bytes,
    error: type[HttpError],
    code: str | None,
) -> None:
    with pytest.raises(error) as refused:
        feed(reader(), data)
    assert refused.value.code == (code or error.code)


def test_statuses_come_from_the_error_table() -> None:
    assert UriTooLongError("m").http_status == 414
    assert HeadersTooLargeError("m").http_status == 431
    assert BodyTooLargeError("m").http_status == 413


def test_an_endless_header_is_refused_after_about_the_head_limit() -> None:
    r = reader(max_head=4096)
    r.feed(b"GET / HTTP/1.1\r\nX-Endless: ")
    fed = 0
    with pytest.raises(HeadersTooLargeError):
        while fed < 1_000_000:
            r.feed(b"v" * 1024)
            fed += 1024
    assert fed <= 4096 + 1024


def test_an_endless_target_is_refused_at_the_target_limit() -> None:
    r = reader(max_target=4096, max_head=1_000_000)
    r.feed(b"GET /")
    fed = 0
    with pytest.raises(UriTooLongError):
        while fed < 1_000_000:
            r.feed(b"a" * 1024)
            fed += 1024
    assert fed <= 4096 + 1024


def test_a_body_over_the_limit_is_refused_from_content_length_before_it_is_sent() -> None:
    r = reader(max_body=1024)
    with pytest.raises(BodyTooLargeError, match="5000 bytes, expected at most 1024"):
        r.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives() -> None:
    r = reader(max_body=1024)
    r.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(BodyTooLargeError):
        for _ in range(10):
            r.feed(b"200\r\n" + b"x" * 512 + b"\r\n")


def test_expect_100_continue_is_noted_for_an_acceptable_body() -> None:
    r = reader()
    r.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert r.continue_wanted and r.reading and not r.requests
    r.feed(b"abc")
    assert r.requests[0].body == b"abc"
    assert not r.reading


def test_reading_is_true_from_a_requests_first_byte_until_it_is_complete() -> None:
    r = reader()
    assert not r.reading
    r.feed(b"G")
    assert r.reading
    r.feed(b"ET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not r.reading and len(r.requests) == 1


def test_a_closed_reader_is_freed_without_the_garbage_collector() -> None:
    upgrade = (
        b"GET /objects/room/r HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n"
    )

    def cyclic_garbage(close: bool) -> int:
        gc.collect()
        gc.disable()
        try:
            r = reader()
            r.feed(upgrade)
            assert r.requests[0].upgrade
            if close:
                r.close()
            del r
            return gc.collect()  # what only the collector could free
        finally:
            gc.enable()

    assert cyclic_garbage(close=False) > 0  # the parser holds the reader's callbacks
    assert cyclic_garbage(close=True) == 0


def test_a_closed_reader_reads_nothing_more() -> None:
    r = reader()
    r.close()
    assert r.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n") is None
    assert not r.requests
