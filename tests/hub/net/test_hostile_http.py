"""HTTP from a hostile peer: smuggled hosts, endless heads, slowloris, unread answers.

Each test talks raw bytes over a real socket to a hub on 127.0.0.1 and checks the
status and stable code it gets, and that the hub still serves everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httptools
import httpx
import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosedError

import hub
from hub.net.connection import Connection
from tests.conftest import eventually, within
from tests.hub.net.conftest import Serve, Served


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str:
        return str(orjson.loads(self.body)["error"]["code"])


@dataclass
class _Parser:
    """Collects the responses httptools reads off the wire (interim 1xx included)."""

    answers: list[Answer] = field(default_factory=list)
    _headers: dict[str, str] = field(default_factory=dict)
    _body: bytearray = field(default_factory=bytearray)
    parser: httptools.HttpResponseParser | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        assert self.parser is not None
        status = self.parser.get_status_code()
        self.answers.append(Answer(status, self._headers, bytes(self._body)))
        self._headers, self._body = {}, bytearray()


class RawClient:
    """One TCP connection that speaks bytes and reads parsed answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._parsed = _Parser()
        self._parsed.parser = httptools.HttpResponseParser(self._parsed)
        self.eof = False

    @classmethod
    async def open(cls, served: Served) -> RawClient:
        reader, writer = await within(asyncio.open_connection("127.0.0.1", served.server.port))
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def answers(self, count: int) -> list[Answer]:
        """Wait for ``count`` answers in all (interim ones count)."""

        async def until() -> list[Answer]:
            while len(self._parsed.answers) < count and not self.eof:
                await self._read()
            return self._parsed.answers[:count]

        answers = await within(until())
        assert len(answers) == count, f"got {len(answers)} answers, then EOF"
        return answers

    async def closed(self) -> None:
        """Wait until the hub closes the connection."""

        async def until() -> None:
            while not self.eof:
                await self._read()

        await within(until())

    async def _read(self) -> None:
        try:
            data = await self.reader.read(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return
        self._parsed.parser.feed_data(data)  # type: ignore[union-attr]

    def close(self) -> None:
        self.writer.close()


async def still_serving(served: Served) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(served.url("/objects/room/r"))).status_code == 200


# -- 1. routing never follows Host -------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("POST /objects/room/public/rpc/add", "x/objects/room/victim#"),
        ("GET /objects/room/public", "x/_roost/objects?"),
        ("GET /objects/room/public", "[x"),
        ("GET /objects/room/public", "x]"),
    ],
)
async def test_a_host_header_cannot_reroute_a_request(serve: Serve, target: str, host: str) -> None:
    served = await serve()
    raw = await RawClient.open(served)
    raw.send(f"{target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n".encode())
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.code) == (400, "bad_request")
    assert not served.app.is_active("ROOM", "victim")
    assert not served.app.is_active("ROOM", "public")
    await still_serving(served)


async def test_the_object_sees_the_target_under_the_host(serve: Serve) -> None:
    served = await serve()
    raw = await RawClient.open(served)
    raw.send(b"GET /objects/room/public/x?q=1 HTTP/1.1\r\nHost: [::1]:8787\r\n\r\n")
    (answer,) = await raw.answers(1)
    seen = orjson.loads(answer.body)
    assert (answer.status, seen["name"], seen["path"], seen["query"]) == (
        200,
        "public",
        "/objects/room/public/x",
        {"q": "1"},
    )


async def test_the_admin_api_is_reached_by_its_path_only(serve: Serve) -> None:
    served = await serve(serve_options={"admin_key": "k"})
    raw = await RawClient.open(served)
    raw.send(b"GET /_roost/objects HTTP/1.1\r\nHost: x\r\n\r\n")
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.code) == (401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


# -- 3. bounded heads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "status", "code"),
    [
        (
            b"GET /objects/room/r?" + b"q" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414,
            "uri_too_long",
        ),
        (
            b"GET /objects/room/r HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 70_000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (
            b"GET /objects/room/r HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(101))
            + b"\r\n",
            431,
            "headers_too_large",
        ),
    ],
)
async def test_an_oversize_head_is_refused_and_the_connection_closed(
    serve: Serve, head: bytes, status: int, code: str
) -> None:
    served = await serve()
    raw = await RawClient.open(served)
    raw.send(head)
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.code, answer.headers["connection"]) == (status, code, "close")
    await raw.closed()
    await still_serving(served)


async def test_an_endless_header_is_cut_off_near_the_head_limit(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(http_head_bytes=16_384))
    raw = await RawClient.open(served)
    answer = asyncio.ensure_future(raw.answers(1))
    raw.send(b"GET /objects/room/r HTTP/1.1\r\nHost: x\r\nX-Endless: ")
    sent, cap = 0, 64 * 1024 * 1024  # the hub answers long before the cap
    while not answer.done() and sent < cap:
        raw.send(b"v" * 65536)
        sent += 65536
        await within(raw.writer.drain())
        await asyncio.sleep(0)  # a turn for the hub and the reader: no wait on time
    ((refused,),) = await within(asyncio.gather(answer))
    assert (refused.status, refused.code) == (431, "headers_too_large")
    assert sent < cap
    await raw.closed()  # after the answer, whatever the client still sends


# -- 4. slowloris -------------------------------------------------------------------------


async def test_a_head_trickled_too_slowly_gets_408_and_is_closed(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(http_request_timeout=0.2))
    raw = await RawClient.open(served)
    raw.send(b"GET /objects/room/r HTTP/1.1\r\nHo")  # ... and never the rest
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.code) == (408, "request_timeout")
    await raw.closed()
    await still_serving(served)


async def test_a_slow_body_gets_408_too(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(http_request_timeout=0.2))
    raw = await RawClient.open(served)
    raw.send(b"POST /objects/room/r HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.code) == (408, "request_timeout")


async def test_idle_keep_alive_connections_are_closed(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(http_keepalive_timeout=0.2))
    silent = await RawClient.open(served)
    await silent.closed()  # never sent a byte
    used = await RawClient.open(served)
    used.send(b"GET /objects/room/r HTTP/1.1\r\nHost: x\r\n\r\n")
    (answer,) = await used.answers(1)
    assert (answer.status, answer.headers["connection"]) == (200, "keep-alive")
    await used.closed()  # idle after its answer


class Slow(hub.DurableObject):
    async def fetch(self, request: hub.Request) -> hub.Response:
        await asyncio.sleep(0.3)  # a slow handler, well past the request timeout below
        return hub.Response(b"done")


async def test_a_request_the_hub_is_slow_to_answer_is_not_timed_out(serve: Serve) -> None:
    served = await serve({"SLOW": Slow}, limits=hub.Limits(http_request_timeout=0.05))
    raw = await RawClient.open(served)
    raw.send(b"GET /objects/slow/s HTTP/1.1\r\nHost: x\r\n\r\n")
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.body) == (200, b"done")


# -- 5. backpressure and pipelining ---------------------------------------------------------


class Big(hub.DurableObject):
    async def fetch(self, request: hub.Request) -> hub.Response:
        return hub.Response(b"x" * 200_000)


async def test_the_hub_stops_reading_requests_whose_answers_are_not_read(serve: Serve) -> None:
    limits = hub.Limits()
    served = await serve({"BIG": Big}, limits=limits)
    raw = await RawClient.open(served)
    count = 300
    raw.send(b"GET /objects/big/b HTTP/1.1\r\nHost: x\r\n\r\n" * count)
    (conn,) = served.server.front.connections
    assert isinstance(conn, Connection) and conn.transport is not None
    transport = conn.transport
    await eventually(lambda: not transport.is_reading(), "the hub pausing its reads")
    answered = served.server.front.counters.http_requests
    assert answered <= limits.http_pipelined + 2
    assert transport.get_write_buffer_size() <= limits.http_unsent_bytes + 200_000 + 1024
    answers = await raw.answers(count)  # reading lets it go on: every one is answered
    assert [a.status for a in answers] == [200] * count
    assert {len(a.body) for a in answers} == {200_000}


async def test_a_valid_request_before_a_malformed_one_is_still_answered(serve: Serve) -> None:
    served = await serve()
    raw = await RawClient.open(served)
    raw.send(
        b"POST /objects/room/r HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        b"GARBAGE GARBAGE\r\n\r\n"
    )
    first, second = await raw.answers(2)
    assert (first.status, orjson.loads(first.body)["body"]) == (201, "hi")
    assert (second.status, second.code) == (400, "bad_request")
    await raw.closed()


async def test_expect_100_continue_over_the_limit_gets_413_at_once(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(message_bytes=1024))
    raw = await RawClient.open(served)
    raw.send(
        b"POST /objects/room/r HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Length: 10000000\r\n\r\n"
    )  # the body is never sent: the answer must not wait for it
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.code) == (413, "message_too_big")


async def test_an_upload_over_the_limit_sent_anyway_still_gets_its_413(serve: Serve) -> None:
    served = await serve(limits=hub.Limits(message_bytes=1024))
    raw = await RawClient.open(served)
    answer = asyncio.ensure_future(raw.answers(1))
    raw.send(b"POST /objects/room/r HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n")
    for _ in range(128):  # the body, 8 MiB, sent without waiting for an answer
        raw.send(b"x" * 65536)
        try:
            await within(raw.writer.drain())
        except ConnectionResetError:
            break
    ((refused,),) = await within(asyncio.gather(answer))  # an answer, not a reset
    assert (refused.status, refused.code) == (413, "message_too_big")


async def test_expect_100_continue_within_the_limit_gets_100_then_the_answer(
    serve: Serve,
) -> None:
    served = await serve()
    raw = await RawClient.open(served)
    raw.send(
        b"POST /objects/room/r HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Length: 5\r\n\r\n"
    )
    (interim,) = await raw.answers(1)
    assert interim.status == 100
    raw.send(b"hello")
    _, answer = await raw.answers(2)
    assert (answer.status, orjson.loads(answer.body)["body"]) == (201, "hello")


# -- 2. a fault in the hub ------------------------------------------------------------------


async def test_a_hub_fault_reading_a_socket_closes_it_with_1011_and_tells_the_object(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve()
    ws = await served.connect()
    front = served.server.front

    def broken(*args: object) -> None:
        raise RuntimeError("secret detail")

    front.socket_message = broken  # type: ignore[method-assign]  # a fault at the seam
    with caplog.at_level(logging.ERROR, logger="roost.net"):
        await ws.send("one")
        with pytest.raises(ConnectionClosedError):
            await within(ws.recv())
    assert (ws.close_code, ws.close_reason) == (1011, "")
    assert await served.next_event("error") == ("error", "WebSocketInternalError", 1011)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None


async def test_a_hub_fault_reading_http_is_a_500_without_detail(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve()
    front = served.server.front

    def broken(*args: object) -> None:
        raise RuntimeError("secret detail")

    front.handle_request = broken  # type: ignore[method-assign]  # a fault at the seam
    raw = await RawClient.open(served)
    with caplog.at_level(logging.ERROR, logger="roost.net"):
        raw.send(b"GET /objects/room/r HTTP/1.1\r\nHost: x\r\n\r\n")
        (answer,) = await raw.answers(1)
    assert (answer.status, answer.code) == (500, "internal_error")
    assert b"secret" not in answer.body
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


async def test_roost_v1_garbage_gets_an_error_frame_and_the_socket_stays_open(
    serve: Serve,
) -> None:
    served = await serve()
    ws = await served.connect(subprotocols=["roost.v1"])  # type: ignore[list-item]
    garbage = [
        '{"t":"msg","data":' + "[" * 1000 + "]" * 1000 + "}",
        "[" * 100_000,
        '{"t":"sub","id":1,"table":"t","where":[["a",["eq"],1]]}',
        '{"t":"sub","id":2,"table":"t","where":[["a",{"x":1},1]]}',
    ]
    for text in garbage:
        await ws.send(text)
        frame = orjson.loads(await within(ws.recv()))
        assert frame["t"] == "error"
        assert frame["code"] in ("bad_frame", "bad_subscription")
    await ws.send('{"t":"ping"}')
    assert orjson.loads(await within(ws.recv())) == {"t": "pong"}


# -- 9. one code for one condition ---------------------------------------------------------


async def test_a_body_over_the_limit_is_message_too_big_over_http_as_on_a_socket(
    serve: Serve,
) -> None:
    served = await serve(limits=hub.Limits(message_bytes=1024))
    raw = await RawClient.open(served)
    raw.send(b"POST /objects/room/r HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n")
    (answer,) = await raw.answers(1)
    assert (answer.status, answer.code) == (413, "message_too_big")
    ws = await served.connect()
    await ws.send("x" * 2000)
    with pytest.raises(websockets.ConnectionClosed):
        await within(ws.recv())
    assert ws.close_code == hub.errors.ERRORS["message_too_big"].close == 1009
