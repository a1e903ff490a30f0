"""examples/tenants.py end to end: a database per organisation, provisioned by the app
server with the admin client, used through the table client; browsers read with a
read-only token, on the example's page (tenants.html) in headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import roost_client

import hub
from tests.conftest import within
from tests.examples.conftest import Pages, http_get, load_example, needs_chromium

if TYPE_CHECKING:
    from playwright.async_api import Browser

tenants = load_example("tenants")
KEY = "tenants-test-key"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Any]:
    app = hub.Hub(objects={}, data_dir=tmp_path / "data", databases=True, router=tenants.route)
    async with app.serve(port=0, admin_key=KEY) as server:
        yield tenants.Tenants(server.url, KEY)


async def test_each_organisation_has_its_own_database(service: Any) -> None:
    svc = service
    await svc.signup("Acme Corp", "ann@acme.com", "Ann")
    await svc.signup("Globex/EU", "hank@globex.com", "Hank")  # any string is a name
    await svc.invite("Acme Corp", "bob@acme.com", "Bob")
    await svc.invite("Acme Corp", "eve@example.org", "Eve")
    acme = await svc.members("Acme Corp")
    assert [(m.name, m.role) for m in acme] == [
        ("Ann", "owner"),
        ("Bob", "member"),
        ("Eve", "member"),
    ]
    assert all(isinstance(m, tenants.Member) for m in acme)
    assert [m.name for m in await svc.members("Acme Corp", domain="acme.com")] == ["Ann", "Bob"]
    assert [m.name for m in await svc.members("Globex/EU")] == ["Hank"]
    assert await svc.promote("Acme Corp", "bob@acme.com")
    assert not await svc.promote("Acme Corp", "nobody@acme.com")
    with pytest.raises(roost_client.DatabaseExists):
        await svc.signup("Acme Corp", "x@acme.com", "X")
    # One organisation's token never opens another's database.
    async with roost_client.database(svc.url, "Globex/EU", token=svc.tokens["Acme Corp"]) as wrong:
        with pytest.raises(roost_client.Unauthorized):
            await wrong.table("members").count()


async def test_a_browser_token_reads_and_follows_but_cannot_write(service: Any) -> None:
    svc = service
    await svc.signup("Acme Corp", "ann@acme.com", "Ann")
    token = await svc.browser_token("Acme Corp")
    async with roost_client.database(svc.url, "Acme Corp", token=token) as page:
        members = page.table("members")
        assert await members.count() == 1
        with pytest.raises(roost_client.ReadOnly):
            await members.insert({"email": "mallory@x", "name": "M"})
        with pytest.raises(roost_client.ReadOnly):
            await page.query("DELETE FROM members")
        async with page.subscribe("members") as changes:
            first = await within(changes.__anext__())
            assert first.op == "snapshot" and first.row is not None
            assert first.row["email"] == "ann@acme.com"
            await svc.invite("Acme Corp", "bob@acme.com", "Bob")
            change = await within(changes.__anext__())
            assert change.op == "insert" and change.row is not None
            assert change.row["name"] == "Bob"
    await svc.close("Acme Corp")
    async with roost_client.database(svc.url, "Acme Corp", token=token) as page:
        with pytest.raises(roost_client.NoSuchDatabase):
            await page.health()


async def test_the_router_serves_the_page_at_the_root_only(service: Any) -> None:
    status, headers, body = await http_get(service.url + "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    for hook in (b'id="members"', b'id="add"', b'id="error"', b'from "/_roost/client.js"'):
        assert hook in body
    # Nothing loaded from another origin: no URL with a scheme in the page.
    assert b"://" not in body
    status, _, _ = await http_get(service.url + "/elsewhere")
    assert status == 404
    status, headers, _ = await http_get(service.url + "/_roost/client.js")
    assert (status, headers["content-type"]) == (200, "text/javascript; charset=utf-8")


def test_the_page_address_keeps_the_token_in_the_fragment() -> None:
    url = tenants.page_url("http://127.0.0.1:1", "Acme Corp/EU", "rdb_x_y")
    parts = urlsplit(url)
    assert (parts.path, parts.query) == ("/", "")
    assert parts.fragment == "org=Acme+Corp%2FEU&token=rdb_x_y"


@needs_chromium
async def test_a_page_with_a_read_only_token_lists_follows_and_is_refused_a_write(
    service: Any, browser: Browser
) -> None:
    from playwright.async_api import expect

    svc = service
    await svc.signup("Acme Corp", "ann@acme.com", "Ann")
    await svc.invite("Acme Corp", "bob@acme.com", "Bob")
    await svc.signup("Globex", "hank@globex.com", "Hank")
    token = await svc.browser_token("Acme Corp")

    pages = Pages(browser, svc.url)
    page = await pages.new()
    requests: list[str] = []  # every HTTP request of the page (not its WebSocket)
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(tenants.page_url(svc.url, "Acme Corp", token))
    await expect(page.locator("#org")).to_have_text("Acme Corp")
    names = page.locator("#members li .name")
    await expect(names).to_have_text(["Ann", "Bob"])  # Globex's Hank is not listed
    await expect(page.locator("#members li .role")).to_have_text(["owner", "member"])
    await expect(page.locator("#status")).to_have_attribute("data-state", "open")

    # The app server writes with its read-write token; the page sees it through the feed.
    await svc.invite("Acme Corp", "cy@acme.com", "Cy")
    await expect(names).to_have_text(["Ann", "Bob", "Cy"])
    assert await svc.promote("Acme Corp", "cy@acme.com")
    await expect(names).to_have_text(["Ann", "Cy", "Bob"])  # owners first

    # A write from the page: refused by the hub (SQLite, with the read-only token).
    await page.fill("#email", "mallory@evil.test")
    await page.fill("#name", "Mallory")
    await page.click("#add-button")
    await expect(page.locator("#error")).to_have_attribute("data-code", "read_only")
    assert [m.email for m in await svc.members("Acme Corp")] == [
        "ann@acme.com",
        "cy@acme.com",
        "bob@acme.com",
    ]
    await expect(names).to_have_text(["Ann", "Cy", "Bob"])

    # The token went in the Authorization header, never in an HTTP request's URL.
    assert any("/db/" in url for url in requests), requests
    for url in requests:
        parts = urlsplit(url)
        assert token not in parts.path + "?" + parts.query, url
    assert pages.errors == []
