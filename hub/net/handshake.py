"""The WebSocket opening handshake's common case, answered without a second HTTP parse.

An upgrade request has already been parsed by httptools (``hub.net.http1``). Handing
it to websockets' ``ServerProtocol`` means serializing it again, parsing it again and
building its answer through websockets' ``Headers``: about half of the server's CPU per
upgrade. ``accept`` checks the request's handshake headers itself (RFC 6455 §4.2.1)
and builds the 101 answer (§4.2.2), for the requests it can be sure of.

Rules:

1. Only a plainly valid request is accepted here: exactly one ``Upgrade: websocket``,
   ``Connection`` naming ``upgrade``, exactly one ``Sec-WebSocket-Key`` of 16 base64
   bytes, exactly one ``Sec-WebSocket-Version: 13``, at most one ``Origin``, every
   list header made of tokens, every value of the characters HTTP allows. Anything
   else returns None and goes to websockets (``hub.net.upgrade``), whose answers
   (400, 426, ...) stay the only refusals of a bad handshake.
2. The answer is byte for byte what websockets' ``ServerProtocol.accept`` sends for the
   same request: ``Date``, ``Upgrade``, ``Connection``, ``Sec-WebSocket-Accept``, then
   ``Sec-WebSocket-Protocol: roost.v1`` when the client offered it (protocol/SPEC.md
   §1.2). ``tests/hub/test_handshake.py`` compares the two.
3. Not with permessage-deflate: negotiating an extension is websockets' job, so a hub
   with compression on never calls ``accept``.

Pure: no I/O. The ``Date`` value is cached for the second it names.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import time
from collections.abc import Sequence

from protocol import SUBPROTOCOL

__all__ = ["HEADERS", "Accepted", "accept", "accept_key"]

#: RFC 6455 §1.3: appended to the client's key before hashing.
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: RFC 9110 §5.6.2: a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Base64 of 16 bytes (RFC 6455 §4.1, item 7): what websockets' strict decode accepts.
_KEY = re.compile(r"[A-Za-z0-9+/]{22}==")
#: What websockets allows in a header value (after stripping spaces and tabs).
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
#: websockets refuses request lines and header lines past this many bytes.
_MAX_LINE = 8000
#: The request headers the handshake reads (RFC 6455 §4.2.1, RFC 7692), ``Host`` aside.
HEADERS = frozenset(
    {
        "upgrade",
        "connection",
        "origin",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    }
)

_date: tuple[int, bytes] = (-1, b"")


class Accepted:
    """A handshake accepted here: the 101 answer's bytes, and whether ``roost.v1`` was
    selected."""

    __slots__ = ("response", "v1")

    def __init__(self, response: bytes, v1: bool) -> None:
        self.response = response
        self.v1 = v1


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for ``Sec-WebSocket-Key`` ``key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + _GUID, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def accept(target: str, headers: Sequence[tuple[str, str]]) -> Accepted | None:
    """The 101 answer to an upgrade request for ``target`` with ``headers``, or None
    when websockets should judge it (rule 1)."""
    if len(target) > _MAX_LINE:
        return None
    upgrade = key = version = None
    origins = 0
    connection: list[str] = []
    offered: list[str] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered not in HEADERS:
            continue
        value = value.strip(" \t")
        if lowered == "sec-websocket-key":
            if key is not None:
                return None
            key = value
        elif lowered == "upgrade":
            if upgrade is not None:
                return None
            upgrade = value
        elif lowered == "sec-websocket-version":
            if version is not None:
                return None
            version = value
        elif lowered == "connection":
            connection.append(value)
        elif lowered == "sec-websocket-protocol":
            offered.append(value)
        else:  # Origin and Sec-WebSocket-Extensions: only read, as websockets would
            if len(value) > _MAX_LINE or not _VALUE.fullmatch(value):
                return None
            origins += lowered == "origin"
    if (
        upgrade is None
        or upgrade.lower() != "websocket"
        or version != "13"
        or key is None
        or not _KEY.fullmatch(key)
        or origins > 1
    ):
        return None
    options = _tokens(connection)
    if options is None or not any(option.lower() == "upgrade" for option in options):
        return None
    protocols = _tokens(offered)
    if protocols is None:
        return None
    v1 = SUBPROTOCOL in protocols
    return Accepted(_response(accept_key(key), v1), v1)


def _tokens(values: list[str]) -> list[str] | None:
    """The tokens of comma-separated list headers (empty items skipped, RFC 9110
    §5.6.1), or None when an item is not a token."""
    tokens: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip(" \t")
            if not item:
                continue
            if not _TOKEN.fullmatch(item):
                return None
            tokens.append(item)
    return tokens


def _response(accept_value: str, v1: bool) -> bytes:
    """The 101 answer, headers in websockets' order (rule 2)."""
    protocol = b"Sec-WebSocket-Protocol: %s\r\n" % SUBPROTOCOL.encode() if v1 else b""
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nDate: %s\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n"
        % (_http_date(), accept_value.encode("ascii"), protocol)
    )


def _http_date() -> bytes:
    """The ``Date`` header's value now (RFC 9110 §5.6.7), computed once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True).encode("ascii"))
    return _date[1]
