"""The inspector page in headless Chromium: the key, an object's sockets and tags, an
eviction from the page, and the live event tail; a screenshot is kept.

The screenshot is written to ``tests/.artifacts/inspector.png`` (git-ignored), and its
path is reported as a warning and a test property, so it shows in the test output.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.examples.conftest import Pages, browser, needs_chromium
from tests.hub.net.conftest import Serve
from tests.hub.net.test_inspector import Board, say

if TYPE_CHECKING:
    from playwright.async_api import Browser

__all__ = ["browser"]  # the fixture, shared with the example pages' tests

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


class ScreenshotSaved(UserWarning):
    """Where a test left a screenshot."""


@needs_chromium
@pytest.mark.asyncio(loop_factories=["asyncio"])  # one loop: Chromium takes seconds
async def test_the_page_shows_sockets_an_eviction_and_live_events(
    serve: Serve,
    browser: Browser,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
) -> None:
    from playwright.async_api import expect

    caplog.set_level(logging.INFO, logger="roost")  # the tail shows what is logged
    served = await serve({"BOARD": Board}, serve_options={"admin_key": "s3cret"})
    pages = Pages(browser, served.server.url)
    page = await pages.open("/_roost/")
    await expect(page.locator("#status")).to_have_attribute("data-state", "locked")
    await page.fill("#key", "s3cret")
    await page.click("#key-button")
    await expect(page.locator("#status")).to_have_attribute("data-state", "live")

    ws = await served.connect("/objects/board/lobby?user=ada&tags=team:red,admin")
    await say(ws, "hello")
    row = page.locator('#active tr[data-object="BOARD/lobby"]')
    await row.click()
    socket = page.locator('#sockets tr[data-socket="1"]')
    await expect(socket.locator(".tag")).to_have_text(["team:red", "admin"])
    await expect(socket.locator(".attachment")).to_have_text('{"user":"ada","bio":""}')
    await expect(page.locator("#feeds tr")).to_have_text(["notes1"])
    await expect(page.locator("#detail-state")).to_have_attribute("data-state", "active")

    await page.click("#hibernate")  # POST /_roost/objects/board/lobby/hibernate
    await expect(page.locator('#evicted tr[data-object="BOARD/lobby"]')).to_be_visible()
    await expect(page.locator("#detail-state")).to_have_attribute("data-state", "evicted")
    await expect(socket.locator(".tag")).to_have_text(["team:red", "admin"])  # parked
    assert not served.app.is_active("BOARD", "lobby")

    activations = page.locator('#events li[data-kind="activate"]')
    await expect(activations).to_have_count(1)
    await say(ws, "wake up")  # a message wakes the object: the tail shows it
    await expect(activations).to_have_count(2)
    await expect(page.locator('#events li[data-kind="evict"]')).to_have_count(1)
    await expect(page.locator('#active tr[data-object="BOARD/lobby"]')).to_be_visible()
    await expect(page.locator("#feeds tr")).to_have_text(["notes2"])

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "inspector.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    record_property("screenshot", str(shot))
    warnings.warn(f"inspector screenshot: {shot}", ScreenshotSaved, stacklevel=1)
    assert pages.errors == []
