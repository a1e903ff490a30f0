"""The hub's own public files: the JavaScript client at ``/_roost/client.js``.

``GET /_roost/client.js`` is roost-client as one minified ES module (for
``<script type="module">import { connect } from "/_roost/client.js"``) and
``/_roost/client.cjs`` the CommonJS build. They ship inside the package
(``hub/static/``, built from ``clients/js/src`` by ``npm run bundle:hub``).

Rules:

1. Public: no admin key (it is the code every browser page loads).
2. Each file is read, hashed and gzip-compressed once, at its first request, never per
   request; the answer is the same bytes for every client.
3. ``ETag`` is strong and names the representation (``"<sha256>"`` plain,
   ``"<sha256>-gzip"`` compressed, RFC 9110 §8.8.3); ``If-None-Match`` with either (or
   ``*``) is answered ``304``. ``Cache-Control: public, no-cache``: browsers keep the
   file and revalidate it on each use, so a hub upgrade is seen at once.
4. ``Content-Encoding: gzip`` when the request's ``Accept-Encoding`` accepts gzip (a
   ``q=0`` refuses it, RFC 9110 §12.5.3); ``Vary: Accept-Encoding`` always.
5. ``GET`` and ``HEAD`` (the same headers, no body); anything else is 405 with
   ``Allow: GET, HEAD``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from hub.errors import MethodNotAllowedError, NotFoundError
from hub.net.answers import error_response

__all__ = ["FILES", "Answer", "StaticFile", "accepts_gzip", "answer", "load"]

#: Public path under ``/_roost/`` -> file in ``hub/static/``.
FILES: dict[str, str] = {
    "client.js": "roost-client.js",
    "client.cjs": "roost-client.cjs",
}

_TYPE = "text/javascript; charset=utf-8"

#: Status, headers, body, and whether the body is left out (HEAD, 304; its length stays
#: in ``Content-Length``, RFC 9110 §8.6).
Answer = tuple[int, list[tuple[str, str]], bytes, bool]


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file, loaded once: its bytes plain and gzipped, and their ETags."""

    plain: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str


@functools.cache
def load(name: str) -> StaticFile:
    """The file ``hub/static/{name}``, read and compressed once (rule 2)."""
    try:
        data = (resources.files("hub") / "static" / name).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"hub/static/{name} is missing from this installation") from None
    digest = hashlib.sha256(data).hexdigest()[:32]
    # mtime=0: the compressed bytes depend on the file alone.
    gzipped = gzip.compress(data, compresslevel=9, mtime=0)
    return StaticFile(data, gzipped, f'"{digest}"', f'"{digest}-gzip"')


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (rule 4)."""
    star: bool | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            return quality > 0
        if coding == "*":
            star = quality > 0
    return bool(star)


def _matches(if_none_match: str, tags: tuple[str, str]) -> bool:
    """Weak comparison of ``If-None-Match`` with either ETag (RFC 9110 §13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    given = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return any(tag in given for tag in tags)


def answer(method: str, path: str, headers: list[tuple[str, str]]) -> Answer:
    """The answer to ``method /_roost/{path}`` with the request's ``headers``."""
    if method not in ("GET", "HEAD"):
        status, error_headers, body = error_response(
            MethodNotAllowedError(f"/_roost/{path} takes GET or HEAD, got {method!r}")
        )
        return status, [*error_headers, ("Allow", "GET, HEAD")], body, False
    found = load(FILES[path])
    lowered = {name.lower(): value for name, value in headers}
    compressed = accepts_gzip(lowered.get("accept-encoding", ""))
    etag = found.gzip_etag if compressed else found.etag
    common = [
        ("Content-Type", _TYPE),
        ("Cache-Control", "public, no-cache"),
        ("ETag", etag),
        ("Vary", "Accept-Encoding"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if compressed:
        common.append(("Content-Encoding", "gzip"))
    body = found.gzipped if compressed else found.plain
    if_none_match = lowered.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, (found.etag, found.gzip_etag)):
        return 304, common, body, True
    return 200, common, body, method == "HEAD"
