"""The todo-list page in headless Chromium: two people on one list, one of them cut off.

The pages speak ``roost.v1`` through roost-client, served by the hub at
``/_roost/client.js`` (examples/feed.html). Besides what each page
shows, the tests read what went over each page's WebSockets (as Chromium reports it) to
check how a page resumed: with ``since`` and exactly the changes it missed, or, when
those are no longer kept, with ``reset`` and a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import hub
from tests.conftest import within
from tests.examples.conftest import Pages, Served, feed, needs_chromium, serving
from tests.examples.gate import Gate
from tests.examples.test_feed import BINDING, HOME, committed

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page, WebSocket

Frame = dict[str, Any]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The todo-list example on 127.0.0.1:0."""
    async with serving({BINDING: feed.TodoList}, feed.route, tmp_path) as served:
        yield served


class Wire:
    """The ``roost.v1`` frames of a page's WebSockets, one list per socket, as Chromium
    sent and received them."""

    def __init__(self, page: Page) -> None:
        #: Per socket, in order: ("sent" | "received", frame).
        self.sockets: list[list[tuple[str, Frame]]] = []
        self._changed = asyncio.Event()
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        frames: list[tuple[str, Frame]] = []
        self.sockets.append(frames)
        ws.on("framesent", lambda payload: self._add(frames, "sent", payload))
        ws.on("framereceived", lambda payload: self._add(frames, "received", payload))

    def _add(self, frames: list[tuple[str, Frame]], way: str, payload: str | bytes) -> None:
        frames.append((way, json.loads(payload)))
        self._changed.set()

    async def until(self, holds: Callable[[], bool]) -> None:
        """Wait until ``holds()`` is true of the frames seen."""

        async def wait() -> None:
            while not holds():
                self._changed.clear()
                await self._changed.wait()

        await within(wait())

    def frames(self, socket: int, way: str, kind: str) -> list[Frame]:
        return [frame for w, frame in self.sockets[socket] if w == way and frame["t"] == kind]

    def changes(self, socket: int) -> list[Frame]:
        return [c for frame in self.frames(socket, "received", "changes") for c in frame["changes"]]


async def add(page: Page, title: str) -> None:
    await page.fill("#title", title)
    await page.click("#add-button")


def todo(page: Page, title: str) -> Locator:
    """The row of ``page`` whose title is exactly ``title``."""
    exactly = re.compile(f"^{re.escape(title)}$")
    return page.locator("#todos li").filter(has=page.locator(".title", has_text=exactly))


async def rename(page: Page, title: str, to: str) -> None:
    """Rename the todo ``title`` the way a user does: double-click, type, Enter."""
    todo_id = await todo(page, title).get_attribute("data-id")
    field = page.locator(f'#todos li[data-id="{todo_id}"] .title')
    await field.dblclick()
    await field.fill(to)
    await field.press("Enter")


async def same_list(pages: list[Page], titles: list[str], done: list[str]) -> None:
    from playwright.async_api import expect

    for page in pages:
        await expect(page.locator("#todos li .title")).to_have_text(titles)
        rows = page.locator("#todos li")
        await expect(rows).to_have_count(len(titles))
        for n, flag in enumerate(done):
            await expect(rows.nth(n)).to_have_attribute("data-done", flag)
        left = done.count("0")
        await expect(page.locator("#left")).to_have_text(
            f"{left} item left" if left == 1 else f"{left} items left"
        )


@needs_chromium
async def test_two_pages_stay_in_sync_across_hibernation_and_a_cut(
    served: Served, browser: Browser
) -> None:
    from playwright.async_api import expect

    app = served.app
    pages = Pages(browser, served.server.url)
    gate = Gate(served.server.port)  # bob's network, which the test cuts
    await gate.start()
    try:
        ada, bob = await pages.new(), await pages.new()
        ada_wire, bob_wire = Wire(ada), Wire(bob)
        await ada.goto(pages.base + "/")  # / -> the home list
        await expect(ada).to_have_url(pages.base + HOME)
        await bob.goto(gate.url + HOME)
        for page in (ada, bob):
            await expect(page.locator("#status")).to_have_attribute("data-state", "open")
            await expect(page.locator("#list")).to_have_text("home")

        for title in ("milk", "bread", "eggs <b>not bold</b>"):
            await add(ada, title)
        await same_list([ada, bob], ["milk", "bread", "eggs <b>not bold</b>"], ["0", "0", "0"])
        await expect(bob.locator("#todos b")).to_have_count(0)  # text, never HTML
        await todo(bob, "bread").locator(".done").click()
        await same_list([ada, bob], ["milk", "bread", "eggs <b>not bold</b>"], ["0", "1", "0"])

        assert await app.hibernate(BINDING, "home")
        assert not app.is_active(BINDING, "home")
        await todo(ada, "milk").locator(".remove").click()
        await rename(bob, "eggs <b>not bold</b>", "free-range eggs")
        await same_list([ada, bob], ["bread", "free-range eggs"], ["1", "0"])
        assert app.is_active(BINDING, "home")

        # Cut bob off; the list changes behind his back (and the list sleeps once more).
        await bob_wire.until(lambda: len(bob_wire.changes(0)) == 6)
        seen = bob_wire.changes(0)[-1]["seq"]
        gate.close()
        await expect(bob.locator("#status")).not_to_have_attribute("data-state", "open")
        await gate.knocked()  # bob's page tries again by itself, and waits
        await add(ada, "butter")
        await add(ada, "jam")
        await todo(ada, "jam").locator(".done").click()
        await same_list([ada], ["bread", "free-range eggs", "butter", "jam"], ["1", "0", "0", "1"])
        assert await app.hibernate(BINDING, "home")
        await rename(ada, "butter", "salted butter")
        await ada.click("#clear-done")
        await todo(ada, "free-range eggs").locator(".done").click()
        expected = (["free-range eggs", "salted butter"], ["1", "0"])
        await same_list([ada], *expected)
        await same_list([bob], ["bread", "free-range eggs"], ["1", "0"])  # still offline

        gate.open()
        await same_list([ada, bob], *expected)
        await expect(bob.locator("#status")).to_have_attribute("data-state", "open")

        # On the wire: bob resumed with since and got exactly what he missed.
        await bob_wire.until(lambda: len(bob_wire.frames(-1, "received", "subscribed")) == 1)
        (resume,) = bob_wire.frames(-1, "sent", "sub")
        (first,) = bob_wire.frames(0, "sent", "sub")
        # roost-client gives every sub frame a fresh id from its call ids (SPEC §9.3).
        assert resume == {"t": "sub", "id": resume["id"], "table": "todos", "since": seen}
        assert first == {"t": "sub", "id": first["id"], "table": "todos", "snapshot": True}
        assert resume["id"] != first["id"]
        assert bob_wire.frames(-1, "received", "snapshot") == []
        await ada_wire.until(lambda: len(ada_wire.changes(0)) == 6 + 7)
        missed = [c for c in ada_wire.changes(0) if c["seq"] > seen]
        assert bob_wire.changes(-1) == missed
        assert [c["op"] for c in missed] == [
            "insert",
            "insert",
            "update",
            "update",
            "delete",
            "delete",
            "update",
        ]

        await add(bob, "tea")  # and live again, both ways
        expected = (["free-range eggs", "salted butter", "tea"], ["1", "0", "0"])
        await same_list([ada, bob], *expected)
        committed_rows = await committed(served)
        assert [row["title"] for row in committed_rows.values()] == expected[0]
        assert (len(ada_wire.sockets), len(bob_wire.sockets)) == (1, 2)  # one reconnect
        assert pages.errors == []
    finally:
        await gate.stop()


class ShortMemory(feed.TodoList):
    """The example's list keeping only its two newest changes: a page away for longer
    cannot resume, it is told to ``reset``."""

    feed_retention = hub.FeedRetention(max_changes=2, max_age=None)


@needs_chromium
async def test_a_page_away_too_long_starts_again_from_a_snapshot(
    tmp_path: Path, browser: Browser
) -> None:
    from playwright.async_api import expect

    async with serving({BINDING: ShortMemory}, feed.route, tmp_path) as served:
        pages = Pages(browser, served.server.url)
        gate = Gate(served.server.port)
        await gate.start()
        try:
            ada, bob = await pages.open(HOME), await pages.new()
            bob_wire = Wire(bob)
            await bob.goto(gate.url + HOME)
            await add(ada, "first")
            await same_list([ada, bob], ["first"], ["0"])

            gate.close()
            await expect(bob.locator("#status")).not_to_have_attribute("data-state", "open")
            for title in ("second", "third", "fourth"):
                await add(ada, title)
            await todo(ada, "first").locator(".remove").click()
            await same_list([ada], ["second", "third", "fourth"], ["0", "0", "0"])

            gate.open()
            await same_list([ada, bob], ["second", "third", "fourth"], ["0", "0", "0"])
            await bob_wire.until(lambda: len(bob_wire.frames(-1, "received", "subscribed")) == 1)
            assert len(bob_wire.sockets) == 2
            sent = [frame for way, frame in bob_wire.sockets[-1] if way == "sent"]
            assert [frame["t"] for frame in sent[:3]] == ["hello", "sub", "sub"]
            resumed, fresh = sent[1]["id"], sent[2]["id"]  # one fresh id per request
            assert resumed != fresh
            assert sent[1] == {"t": "sub", "id": resumed, "table": "todos", "since": 1}
            assert sent[2] == {"t": "sub", "id": fresh, "table": "todos", "snapshot": True}
            assert bob_wire.frames(-1, "received", "reset") == [{"t": "reset", "id": resumed}]
            assert pages.errors == []
        finally:
            await gate.stop()
