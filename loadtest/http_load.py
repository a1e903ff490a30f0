"""The keep-alive HTTP/1.1 client that drives every side of the ``db`` scenario: the same
code for Roost, the bare server and Datasette (``loadtest.db``).

``connections`` connections, each with one request in flight, for ``seconds``: each
request is built for a random key, its answer read whole (``content-length`` or chunked),
parsed as JSON and its rows counted; a non-200 answer or an answer without rows is an
error. The garbage collector is paused during a window.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from loadtest.storage import gc_paused

__all__ = ["Count", "Request", "Window", "http_request", "run_window"]

Request = Callable[[int], bytes]
"""The whole HTTP request for key ``i``."""
Count = Callable[[Any], int]
"""The rows an answer carries (read) or wrote (insert)."""


def http_request(method: str, path: str, port: int, body: bytes = b"", token: str = "") -> bytes:
    """The bytes of one request (``token``: an ``authorization: Bearer`` header)."""
    auth = f"authorization: Bearer {token}\r\n" if token else ""
    return (
        f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{auth}"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass
class Window:
    """What one side did in one window."""

    seconds: float = 0.0
    #: CPU seconds of this (the client) process during the window.
    cpu: float = 0.0
    requests: int = 0
    rows: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.lower().split(":", 1) for line in lines[1:] if ":" in line)
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    chunks = []  # chunked transfer encoding
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")
    return status, b"".join(chunks)


async def _connection(
    port: int, request: Request, count: Count, keys: int, until: float, window: Window
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            writer.write(request(random.randint(1, keys)))
            status, body = await _read_answer(reader)
            window.latencies.append(time.perf_counter() - began)
            rows = count(orjson.loads(body)) if status == 200 else 0
            window.requests += 1
            window.rows += rows
            window.errors += rows == 0
    finally:
        writer.close()


async def run_window(
    port: int, request: Request, count: Count, *, connections: int, keys: int, seconds: float
) -> Window:
    """What ``connections`` connections did with ``request`` in ``seconds``."""
    window = Window()
    with gc_paused():
        began, cpu = time.perf_counter(), time.process_time()
        until = began + seconds
        await asyncio.gather(
            *(_connection(port, request, count, keys, until, window) for _ in range(connections))
        )
        window.seconds = time.perf_counter() - began
        window.cpu = time.process_time() - cpu
    return window
