"""The WebSocket URL of an object: ``ws(s)://host/objects/{binding}/{name}?query``.

Pure: no I/O.

Rules:

1. A binding is written in kebab-case in the URL (``CHAT_ROOM`` becomes ``chat-room``);
   a name is percent-encoded as one path segment, so any string can be a name.
2. ``http`` and ``https`` URLs become ``ws`` and ``wss``; a host without a scheme gets
   ``ws``. Anything else is a ``ValueError``.
3. ``query`` items and the ``token`` are appended to the query the URL already has;
   the token travels as ``token=`` because browsers cannot set headers, and both SDKs
   reach the hub the same way. ``with_token`` replaces it for each new socket when a
   function gives the token (``token.py``).
4. The token never appears in messages or logs: they show ``redacted(url)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

__all__ = ["kebab", "object_url", "redacted", "with_token"]

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
_BINDING_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*([_-][A-Za-z0-9]+)*")


def kebab(binding: str) -> str:
    """``CHAT_ROOM`` (or ``chat-room``) -> ``chat-room``."""
    if not _BINDING_RE.fullmatch(binding):
        raise ValueError(f"binding must be UPPER_SNAKE or kebab-case, got {binding!r}")
    return binding.lower().replace("_", "-")


def object_url(
    url: str | None = None,
    *,
    host: str | None = None,
    binding: str | None = None,
    name: str | None = None,
    query: Mapping[str, str] | None = None,
    token: str | None = None,
) -> str:
    """The ``ws://`` URL to open: ``url`` as given, or built from host, binding, name."""
    if url is not None:
        if host is not None or binding is not None or name is not None:
            raise ValueError("give either url or host, binding and name, not both")
        base = url
    else:
        if host is None or binding is None or name is None:
            raise ValueError("give url, or all of host, binding and name")
        if name == "":
            raise ValueError("object name must not be empty")
        root = host if "://" in host else f"ws://{host}"
        base = f"{root.rstrip('/')}/objects/{kebab(binding)}/{quote(name, safe='')}"
    parts = urlsplit(base)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"expected a ws://, wss://, http:// or https:// URL, got {base!r}")
    extra = urlencode(dict(query or {}))
    full_query = "&".join(q for q in (parts.query, extra) if q)
    return with_token(urlunsplit((scheme, parts.netloc, parts.path or "/", full_query, "")), token)


def with_token(url: str, token: str | None) -> str:
    """``url`` with its ``token`` query item set to ``token`` (unchanged for None).

    The rest of the query is kept as it is written; a ``token`` item it had is replaced.
    """
    if token is None:
        return url
    parts = urlsplit(url)
    kept = [
        item
        for item in parts.query.split("&")
        if item and unquote_plus(item.partition("=")[0]) != "token"
    ]
    kept.append(urlencode({"token": token}))
    return urlunsplit(parts._replace(query="&".join(kept)))


def redacted(url: str) -> str:
    """``url`` with the value of its ``token`` query item replaced by ``***`` (rule 4)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    items = [
        (key, "***" if key == "token" else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(items, safe="*,")))
