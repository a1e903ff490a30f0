"""HTTP/1.1 requests read off one connection, with httptools, within bounds.

Rules:

1. A ``RequestReader`` owns the httptools parser and the request being read; complete
   requests wait in ``requests`` in arrival order.
2. ``feed`` raises only ``HttpError`` (its code and status say what to answer):
   malformed input (400), a request target over ``max_target`` (414), a head over
   ``max_head`` bytes or ``max_headers`` lines (431), a body over ``max_body`` (413,
   at once when ``Content-Length`` says so, before the body is sent). httptools wraps
   what a callback raises, so the reader records the cause itself.
3. Nothing grows without bound: the target and the headers are counted as they arrive
   and a head still incomplete is counted by the bytes fed into it, so a peer that
   sends an endless head is refused after about ``max_head`` bytes plus one read.
4. After an upgrade the reader is dropped whole, so a parked WebSocket keeps none of
   this state (it is a good part of an idle socket's memory). ``close`` drops the
   parser first: it holds the reader's callbacks, a reference cycle that only the
   garbage collector would free (ten objects a connection, the main cause of the
   front's young collections per upgrade, issue 15).

Pure: no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NoReturn

import httptools

from hub.errors import (
    BadRequestError,
    HeadersTooLargeError,
    HttpError,
    UriTooLongError,
)

__all__ = ["BodyTooLargeError", "ParsedRequest", "RequestReader"]


@dataclass(slots=True)
class ParsedRequest:
    """One HTTP/1.1 request as httptools parsed it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool
    upgrade: bool
    #: ``(major, minor)`` of the request line.
    version: tuple[int, int] = (1, 1)


class BodyTooLargeError(HttpError):
    """A request body over the message limit (``message_too_big``, 413)."""

    code = "message_too_big"


class _Stop(Exception):
    """Raised in a callback to stop httptools; the cause is in ``RequestReader._error``."""


class RequestReader:
    """Parses requests from the bytes of one connection."""

    __slots__ = (
        "_body",
        "_error",
        "_head_bytes",
        "_headers",
        "_in_head",
        "_max_body",
        "_max_head",
        "_max_headers",
        "_max_target",
        "_parser",
        "_target",
        "continue_wanted",
        "reading",
        "requests",
    )

    def __init__(
        self,
        *,
        max_body: int,
        max_target: int = 8192,
        max_head: int = 65536,
        max_headers: int = 100,
    ) -> None:
        self._max_body = max_body
        self._max_target = max_target
        self._max_head = max_head
        self._max_headers = max_headers
        #: None once closed: the parser holds this reader's bound methods (rule 4).
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._target = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._body = bytearray()
        self._error: HttpError | None = None
        #: True from a request's first byte until its head is complete.
        self._in_head = False
        #: Bytes of the head so far (request line and header lines, approximately).
        self._head_bytes = 0
        #: True from a request's first byte until it is complete (the request timeout).
        self.reading = False
        #: Set when a request asked ``Expect: 100-continue`` for an acceptable body; the
        #: connection answers ``100 Continue`` and clears it.
        self.continue_wanted = False
        self.requests: deque[ParsedRequest] = deque()

    def feed(self, data: bytes) -> bytes | None:
        """Parse ``data``; after an upgrade request, the bytes that follow its head."""
        parser = self._parser
        if parser is None:
            return None  # closed: nothing more is read (``close``)
        head_was_open = self._in_head
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            return data[upgrade.args[0] :]
        except httptools.HttpParserError:
            if self._error is not None:
                raise self._error from None
            raise BadRequestError("malformed HTTP request") from None
        if self._in_head and head_was_open:
            # The whole of ``data`` went into a head still incomplete (httptools keeps
            # partial header lines itself): count it, so that memory stays bounded.
            self._head_bytes += len(data)
            self._check_head()
        return None

    def close(self) -> None:
        """Read no more: drop the parser, so the reader is freed by reference counting
        (rule 4)."""
        self._parser = None

    def _check_head(self) -> None:
        # The target is counted exactly as it arrives (``on_url``): what grows here is
        # a header line that httptools holds until it ends.
        if self._head_bytes > self._max_head:
            raise HeadersTooLargeError(
                f"request head too large: {self._head_bytes} bytes,"
                f" expected at most {self._max_head}"
            )

    def _fail(self, error: HttpError) -> NoReturn:
        self._error = error
        raise _Stop

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._target.clear()
        self._headers = []
        self._body.clear()
        self._in_head = True
        self._head_bytes = 0
        self.reading = True

    def on_url(self, url: bytes) -> None:
        self._target += url
        if len(self._target) > self._max_target:
            self._fail(
                UriTooLongError(
                    f"request target too long: {len(self._target)}+ bytes,"
                    f" expected at most {self._max_target}"
                )
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        # Runs once per header line of every request: the limits are checked in one
        # test, and ``_header_limits`` says which one was passed.
        headers = self._headers
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
        self._head_bytes = size = self._head_bytes + len(name) + len(value) + 4
        if len(headers) > self._max_headers or size + len(self._target) > self._max_head:
            self._header_limits()

    def _header_limits(self) -> None:
        if len(self._headers) > self._max_headers:
            self._fail(
                HeadersTooLargeError(
                    f"too many header lines: {len(self._headers)},"
                    f" expected at most {self._max_headers}"
                )
            )
        self._fail(
            HeadersTooLargeError(
                f"request head too large: {self._head_bytes + len(self._target)}+ bytes,"
                f" expected at most {self._max_head}"
            )
        )

    def on_headers_complete(self) -> None:
        self._in_head = False
        length: str | None = None
        expect: str | None = None
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == "content-length":
                length = value
            elif lowered == "expect":
                expect = value.strip().lower()
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                self._fail(BadRequestError(f"invalid Content-Length: {length[:40]!r}"))
            if size > self._max_body:
                self._fail(
                    BodyTooLargeError(
                        f"request body too large: {size} bytes, expected at most {self._max_body}"
                    )
                )
        if expect == "100-continue" and length is not None and length.strip() != "0":
            self.continue_wanted = True

    def on_body(self, body: bytes) -> None:
        self._body += body
        if len(self._body) > self._max_body:
            self._fail(
                BodyTooLargeError(
                    f"request body too large: over {self._max_body} bytes,"
                    f" expected at most {self._max_body}"
                )
            )

    def on_message_complete(self) -> None:
        parser = self._parser
        assert parser is not None  # called by it
        self.reading = False
        self.requests.append(
            ParsedRequest(
                method=parser.get_method().decode("ascii", "replace"),
                target=self._target.decode("latin-1"),
                headers=self._headers,
                body=bytes(self._body),
                keep_alive=parser.should_keep_alive(),
                upgrade=parser.should_upgrade(),
                version=_version(parser.get_http_version()),
            )
        )


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return 1, 1
