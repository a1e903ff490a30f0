"""``Request`` and ``Response``: what ``fetch(request)`` receives and returns.

Plain data; the network front builds requests from parsed HTTP and writes responses
back. A WebSocket upgrade is a request with ``is_websocket`` true; the object accepts it
with ``ctx.accept_websocket(request)`` and returns ``Response.websocket(ws)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from urllib.parse import parse_qsl, urlsplit

import orjson

if TYPE_CHECKING:
    from hub.runtime.websocket import WebSocket

__all__ = ["Client", "Headers", "Request", "Response"]


class Client(NamedTuple):
    """Where a request came from: ``request.client.host`` (an IP address) and ``port``
    (None when the address came from ``X-Forwarded-For``, which carries no port)."""

    host: str
    port: int | None


class Headers(Mapping[str, str]):
    """Case-insensitive HTTP headers; ``h["x"]`` is the first value, ``get_all`` all."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        # Pairs in a list or tuple first: ``isinstance`` against the ``Mapping`` ABC is a
        # Python-level check, and every request and response passes here.
        pairs: Iterable[tuple[str, str]]
        if type(items) is list or type(items) is tuple:
            pairs = cast("Iterable[tuple[str, str]]", items)
        elif isinstance(items, Mapping):
            pairs = items.items()
        else:
            pairs = items
        self._items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in pairs]

    def __getitem__(self, name: str) -> str:
        wanted = name.lower()
        for key, value in self._items:
            if key.lower() == wanted:
                return value
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._items:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key

    def __len__(self) -> int:
        return len({key.lower() for key, _ in self._items})

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        wanted = name.lower()
        return [value for key, value in self._items if key.lower() == wanted]

    def raw_items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair as received or set, duplicates included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def _headers(headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
    """``headers`` as ``Headers`` (itself when it is one already, a subclass too)."""
    return headers if isinstance(headers, Headers) else Headers(headers)


class Request:
    """An HTTP request (or WebSocket upgrade) addressed to an object."""

    __slots__ = ("_body", "client", "headers", "method", "upgrade_id", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        upgrade_id: int | None = None,
        client: Client | tuple[str, int | None] | None = None,
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = headers if type(headers) is Headers else _headers(headers)
        self._body = body
        #: The front's id of the pending WebSocket connection (set on upgrades only).
        self.upgrade_id = upgrade_id
        #: The client's address: the TCP peer, or behind a trusted proxy the
        #: ``X-Forwarded-For`` hop that proxy saw (``--trusted-proxies``); None for a
        #: request made in code (``stub.fetch``) unless the caller sets one.
        self.client: Client | None = (
            client if client is None or type(client) is Client else Client(*client)
        )

    @property
    def path(self) -> str:
        """The URL path, still percent-encoded."""
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        """Query parameters (the last value wins for repeated names)."""
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    @property
    def client_address(self) -> str | None:
        """The client's IP address (``client.host``), or None when unknown."""
        return None if self.client is None else self.client.host

    @property
    def is_websocket(self) -> bool:
        """True for a WebSocket upgrade request."""
        return self.upgrade_id is not None

    async def body(self) -> bytes:
        """The request body."""
        return self._body

    @property
    def raw_body(self) -> bytes:
        """The request body, without awaiting (the hub buffers it before routing)."""
        return self._body

    async def text(self) -> str:
        """The request body decoded as UTF-8."""
        return self._body.decode("utf-8")

    async def json(self) -> Any:
        """The request body parsed as JSON (``orjson.JSONDecodeError`` when invalid)."""
        return orjson.loads(self._body)

    def __repr__(self) -> str:
        kind = " websocket" if self.is_websocket else ""
        return f"<Request {self.method} {self.url}{kind}>"


class Response:
    """An HTTP response from ``fetch``: ``Response("text")``, ``Response.json({...})``."""

    __slots__ = ("accepted_websocket", "body", "headers", "status")

    def __init__(
        self,
        body: str | bytes | None = None,
        status: int = 200,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if not 100 <= status <= 599:
            raise ValueError(f"status must be 100-599, got {status!r}")
        self.status = status
        self.headers = headers if type(headers) is Headers else _headers(headers or ())
        if isinstance(body, str):
            if "content-type" not in self.headers:
                self.headers = Headers(
                    [*self.headers.raw_items(), ("content-type", "text/plain; charset=utf-8")]
                )
            body = body.encode("utf-8")
        self.body = body or b""
        #: The accepted socket this 101 response completes (``Response.websocket(ws)``).
        self.accepted_websocket: WebSocket | None = None

    @classmethod
    def json(
        cls,
        value: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A JSON response (encoded with orjson)."""
        merged = {"content-type": "application/json", **(headers or {})}
        return cls(orjson.dumps(value), status, merged)

    @classmethod
    def websocket(cls, ws: WebSocket) -> Response:
        """Complete the upgrade of an accepted WebSocket (status 101)."""
        response = cls(None, 101)
        response.accepted_websocket = ws
        return response

    def __repr__(self) -> str:
        return f"<Response {self.status}>"
