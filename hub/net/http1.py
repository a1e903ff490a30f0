"""HTTP/1.1 requests read off one connection, with httptools.

Rules:

1. A ``RequestReader`` owns the httptools parser and the request being read; complete
   requests wait in ``requests`` in arrival order.
2. ``feed`` raises ``BadRequest`` (with the status to answer) for malformed input or a
   body over the limit; httptools wraps what a callback raises, so the reader records
   the cause itself.
3. After an upgrade the reader is dropped whole, so a parked WebSocket keeps none of
   this state (it is a good part of an idle socket's memory).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import httptools

__all__ = ["BadRequest", "ParsedRequest", "RequestReader"]


@dataclass(slots=True)
class ParsedRequest:
    """One HTTP/1.1 request as httptools parsed it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool
    upgrade: bool
    #: "1.1" (or "1.0"): a WebSocket upgrade needs 1.1 (RFC 6455 §4.1).
    http_version: str = "1.1"


class BadRequest(Exception):
    """Input the reader cannot take: answer ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _BodyTooLarge(Exception):
    pass


class RequestReader:
    """Parses requests from the bytes of one connection."""

    __slots__ = ("_body", "_headers", "_max_body", "_parser", "_target", "_too_large", "requests")

    def __init__(self, max_body: int) -> None:
        self._max_body = max_body
        self._parser = httptools.HttpRequestParser(self)
        self._target = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._body = bytearray()
        self._too_large = False
        self.requests: deque[ParsedRequest] = deque()

    def feed(self, data: bytes) -> bytes | None:
        """Parse ``data``; after an upgrade request, the bytes that follow its head."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            return data[upgrade.args[0] :]
        except httptools.HttpParserError:
            if self._too_large:
                raise BadRequest(413, "request body too large") from None
            raise BadRequest(400, "malformed HTTP request") from None
        return None

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._target.clear()
        self._headers = []
        self._body.clear()

    def on_url(self, url: bytes) -> None:
        self._target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self._body += body
        if len(self._body) > self._max_body:
            self._too_large = True
            raise _BodyTooLarge

    def on_message_complete(self) -> None:
        parser = self._parser
        self.requests.append(
            ParsedRequest(
                method=parser.get_method().decode("ascii", "replace"),
                target=self._target.decode("latin-1"),
                headers=self._headers,
                body=bytes(self._body),
                keep_alive=parser.should_keep_alive(),
                upgrade=parser.should_upgrade(),
                http_version=parser.get_http_version(),
            )
        )
