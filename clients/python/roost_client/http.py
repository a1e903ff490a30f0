"""A small HTTP/1.1 client over asyncio streams, for the database and admin clients.

Why not a library: the SDK's only network dependency is ``websockets``, and httpx or
aiohttp would add a large one for a few JSON POSTs. Responses are parsed by httptools,
which the ``roost`` distribution already depends on (the hub's own parser): chunked
bodies, keep-alive and ``Connection: close`` are handled by it, not by hand here.

Rules:

1. Idle connections are kept (at most ``max_idle``) and reused; a connection is
   dropped after a response that does not allow keep-alive, or any error.
2. A request on a reused connection that fails before any byte of the answer arrived
   (the hub closed the idle connection) is sent once more on a new connection.
3. Lower-layer errors (``OSError``, a bad response, a timeout) become ``ConnectFailed``
   (retryable), chained with ``from``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

from roost_client.errors import ConnectFailed

__all__ = ["HttpClient", "HttpResponse"]


@dataclass(slots=True)
class HttpResponse:
    """A complete response: its status, headers (lower-case names) and body."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False
    keep_alive: bool = False


class _Collector:
    """httptools callbacks filling one ``HttpResponse``."""

    def __init__(self) -> None:
        self.response = HttpResponse()
        self._chunks: list[bytes] = []
        self.parser: httptools.HttpResponseParser | None = None

    def on_headers_complete(self) -> None:
        # Read here: llhttp forgets it once the message is complete.
        assert self.parser is not None
        self.response.status = self.parser.get_status_code()
        self.response.keep_alive = self.parser.should_keep_alive()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        self.response.body = b"".join(self._chunks)
        self.response.complete = True


_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HttpClient:
    """Requests to one origin (``http://host:port`` or ``https://...``)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, max_idle: int = 8) -> None:
        parts = urlsplit(base_url)
        scheme = {"http": "http", "ws": "http", "https": "https", "wss": "https"}.get(parts.scheme)
        if scheme is None or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {base_url!r}")
        self.scheme = scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if scheme == "https" else 80)
        self.authority = parts.netloc
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._max_idle = max_idle
        self._idle: list[_Stream] = []

    async def _open(self) -> _Stream:
        context = ssl.create_default_context() if self.scheme == "https" else None
        return await asyncio.open_connection(self.host, self.port, ssl=context)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request and read its whole response (``ConnectFailed`` on failure)."""
        head = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.authority}"]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        payload = body or b""
        if body is not None:
            head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(payload)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
        try:
            async with asyncio.timeout(self.timeout):
                while self._idle:
                    stream = self._idle.pop()
                    response = await self._exchange(stream, data, reused=True)
                    if response is not None:
                        return response
                response = await self._exchange(await self._open(), data, reused=False)
        except (OSError, TimeoutError, httptools.HttpParserError) as exc:
            raise ConnectFailed(f"{method} {path[:80]} failed: {exc!r}") from exc
        assert response is not None
        return response

    async def _exchange(self, stream: _Stream, data: bytes, *, reused: bool) -> HttpResponse | None:
        reader, writer = stream
        collector = _Collector()
        parser = httptools.HttpResponseParser(collector)
        collector.parser = parser
        received = False
        try:
            writer.write(data)
            await writer.drain()
            while not collector.response.complete:
                chunk = await reader.read(65536)
                if not chunk:
                    if reused and not received:
                        writer.close()
                        return None  # the hub closed the idle connection: send again
                    raise ConnectionResetError("connection closed before the whole answer")
                received = True
                parser.feed_data(chunk)
        except OSError:
            writer.close()
            if reused and not received:
                return None  # a stale idle connection (rule 2)
            raise
        except BaseException:
            writer.close()
            raise
        response = collector.response
        if response.keep_alive and len(self._idle) < self._max_idle:
            self._idle.append(stream)
        else:
            writer.close()
        return response

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
