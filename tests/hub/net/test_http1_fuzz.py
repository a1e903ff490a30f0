"""Fuzzing ``RequestReader`` (h11's style): whole, byte by byte, and in random chunks.

Written against the reader's documented contract only: ``feed`` raises nothing but
``HttpError``; complete requests wait in ``requests``; after an upgrade request it
returns the bytes that follow the head, and the reader is dropped. Bounded and
derandomized, so CI time stays small and every run sees the same examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import HttpError
from hub.net.http1 import ParsedRequest, RequestReader

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
MAX_BODY = 4096


@dataclass
class Outcome:
    """Everything the reader told its caller, whichever way the bytes arrived."""

    requests: list[ParsedRequest]
    status: int | None  # the HttpError status, if it raised
    after_upgrade: bytes | None  # the bytes after an upgrade head, later chunks included


def read(chunks: list[bytes]) -> Outcome:
    """Feed ``chunks`` as a connection would: stop at the first error or upgrade."""
    reader = RequestReader(max_body=MAX_BODY)
    for index, chunk in enumerate(chunks):
        try:
            rest = reader.feed(chunk)
        except HttpError as exc:
            assert 400 <= exc.http_status < 500
            return Outcome(list(reader.requests), exc.http_status, None)
        if rest is not None:
            return Outcome(list(reader.requests), None, rest + b"".join(chunks[index + 1 :]))
    return Outcome(list(reader.requests), None, None)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


token = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12
)
path = st.lists(st.text("abcxyz019-._~%", min_size=1, max_size=8), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
header_value = st.text("abcxyz 019-_.,;=/:\t", max_size=20).map(str.strip)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One valid HTTP/1.1 request: a body by length or chunked, or an upgrade."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]))
    target = draw(path) + draw(st.sampled_from(["", "?a=1", "?x=%20y&z"]))
    headers = [("Host", "example.test")]
    headers += draw(st.lists(st.tuples(token.map(lambda t: "X-" + t), header_value), max_size=5))
    body = draw(st.binary(max_size=64))
    kind = draw(st.sampled_from(["length", "chunked", "none", "upgrade"]))
    encoded = b""
    if kind == "length":
        headers.append(("Content-Length", str(len(body))))
        encoded = body
    elif kind == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
        encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    elif kind == "upgrade":
        method = "GET"
        headers += [
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return head.encode("latin-1") + b"\r\n" + encoded


garbage = st.binary(max_size=64) | st.sampled_from(
    [b"\r\n", b"\x00", b"GET", b"GET / HTTP/1.1\r\n", b" / HTTP/9.9\r\n\r\n", b"\xff\xfe"]
)
cuts = st.lists(st.integers(min_value=0), max_size=12)


@FUZZ
@given(st.binary(max_size=512), cuts)
def test_any_bytes_raise_only_bad_request_and_splitting_changes_nothing(
    data: bytes, cut: list[int]
) -> None:
    whole = read([data])
    assert read(split(data, cut)) == whole
    assert read([data[i : i + 1] for i in range(len(data))]) == whole


@FUZZ
@given(st.lists(requests(), min_size=1, max_size=3), garbage, cuts)
def test_valid_requests_parse_the_same_however_split_garbage_after_them_included(
    pipelined: list[bytes], tail: bytes, cut: list[int]
) -> None:
    data = b"".join(pipelined)
    alone = read([data])
    assert alone.status is None
    assert len(alone.requests) + (alone.after_upgrade is not None) >= 1

    for chunks in ([data], split(data, cut), [data[i : i + 1] for i in range(len(data))]):
        assert read(chunks) == alone

    with_garbage = read([data + tail])
    assert with_garbage.requests[: len(alone.requests)] == alone.requests
    assert read(split(data + tail, cut)) == with_garbage
    assert read([b[i : i + 1] for b in (data + tail,) for i in range(len(b))]) == with_garbage


@FUZZ
@given(requests(), st.binary(min_size=1, max_size=64), cuts)
def test_an_upgrade_hands_back_exactly_the_bytes_after_its_head(
    request: bytes, after: bytes, cut: list[int]
) -> None:
    outcome = read([request + after])
    if b"Upgrade: websocket" not in request:
        assert outcome.after_upgrade is None
        return
    assert outcome.after_upgrade == after
    assert read(split(request + after, cut)) == outcome


@FUZZ
@given(st.integers(MAX_BODY + 1, MAX_BODY * 4), cuts, st.booleans())
def test_a_body_over_the_limit_is_413_however_split(
    size: int, cut: list[int], chunked: bool
) -> None:
    if chunked:
        head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        data = head + b"%x\r\n" % size + b"x" * size + b"\r\n0\r\n\r\n"
    else:
        data = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    assert read([data]) == Outcome([], 413, None)
    assert read(split(data, cut)) == Outcome([], 413, None)
