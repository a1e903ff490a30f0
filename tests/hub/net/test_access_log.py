"""The access log: one line per HTTP answer, upgrades included, never a token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from hub.logs import ACCESS_LOGGER
from hub.net.access import redact
from tests.conftest import within
from tests.hub.net.conftest import Serve

Access = Callable[[], list[logging.LogRecord]]


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> Access:
    """The access records so far."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return lambda: [r for r in caplog.records if r.name == ACCESS_LOGGER]


def _facts(records: list[logging.LogRecord]) -> list[dict[str, object]]:
    return [dict(r.roost) for r in records]  # type: ignore[attr-defined]


def test_redact_replaces_token_values_only() -> None:
    assert (
        redact("/objects/room/r?token=abc&user=ann") == "/objects/room/r?token=[redacted]&user=ann"
    )
    assert redact("/x?user=ann&access_token=abc") == "/x?user=ann&access_token=[redacted]"
    assert redact("/x?to%6Ben=abc") == "/x?to%6Ben=[redacted]"  # encoded name
    assert redact("/x?tokens=1&mytoken=2") == "/x?tokens=1&mytoken=2"
    assert redact("/objects/room/token=abc") == "/objects/room/token=abc"  # a path
    assert redact("/x") == "/x"


async def test_a_404_and_a_200_are_one_line_each(serve: Serve, access: Access) -> None:
    served = await serve()
    async with httpx.AsyncClient() as client:
        missing = await client.get(served.url("/nowhere?token=s3cret"))
        found = await client.get(served.url("/objects/room/r/hello?x=1"))
    assert missing.status_code == 404 and found.status_code == 200
    facts = _facts(access())
    assert len(facts) == 2
    assert facts[0]["event"] == "access"
    assert (facts[0]["method"], facts[0]["path"], facts[0]["status"]) == (
        "GET",
        "/nowhere?token=[redacted]",
        404,
    )
    assert facts[0]["bytes"] == len(missing.content)
    assert (facts[1]["path"], facts[1]["status"], facts[1]["bytes"]) == (
        "/objects/room/r/hello?x=1",
        200,
        len(found.content),
    )
    assert str(facts[1]["peer"]).startswith("127.0.0.1:")
    assert isinstance(facts[1]["duration_ms"], float)
    text = "\n".join(r.getMessage() for r in access())
    assert "s3cret" not in text
    assert '"GET /nowhere?token=[redacted]" 404' in text


async def test_upgrades_are_logged_with_101_or_their_refusal(serve: Serve, access: Access) -> None:
    served = await serve()
    ws = await served.connect("/objects/room/r?token=s3cret")
    await ws.send("echo:hi")
    assert await within(ws.recv()) == "hi"
    with pytest.raises(InvalidStatus):
        await within(websockets.connect(served.server.ws_url + "/objects/room/r?deny=1"))
    with pytest.raises(InvalidStatus):
        await within(websockets.connect(served.server.ws_url + "/objects/nobody/r"))
    facts = _facts(access())
    assert [(f["path"], f["status"]) for f in facts] == [
        ("/objects/room/r?token=[redacted]", 101),
        ("/objects/room/r?deny=1", 403),
        ("/objects/nobody/r", 404),
    ]
    assert facts[0]["bytes"] == 0
    assert facts[1]["bytes"] == len(b"no entry")


async def test_an_admin_request_logs_no_header(serve: Serve, access: Access) -> None:
    served = await serve(serve_options={"admin_key": "k3y"})
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            served.url("/_roost/objects"), headers={"authorization": "Bearer k3y"}
        )
    assert answer.status_code == 200
    (record,) = access()
    assert "k3y" not in record.getMessage() and "k3y" not in str(record.roost)  # type: ignore[attr-defined]


async def test_input_refused_before_a_request_is_read_is_logged(
    serve: Serve, access: Access
) -> None:
    served = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.server.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    answer = await within(reader.read(65536))
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    (record,) = access()
    facts = record.roost  # type: ignore[attr-defined]
    assert (facts["method"], facts["path"], facts["status"]) == ("-", "-", 400)


async def test_switched_off_it_logs_nothing(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    served = await serve()
    logger = logging.getLogger(ACCESS_LOGGER)
    caplog.set_level(logging.INFO)
    logger.setLevel(logging.CRITICAL)  # what --no-access-log does
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(served.url("/nowhere"))).status_code == 404
    finally:
        logger.setLevel(logging.NOTSET)
    assert not [r for r in caplog.records if r.name == ACCESS_LOGGER]
