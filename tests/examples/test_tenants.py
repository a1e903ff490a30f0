"""examples/tenants.py end to end: a database per organisation, provisioned by the app
server with the admin client, used through the table client; browsers read with a
read-only token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import roost_client

import hub
from tests.conftest import within
from tests.examples.conftest import load_example

tenants = load_example("tenants")
KEY = "tenants-test-key"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Any]:
    app = hub.Hub(objects={}, data_dir=tmp_path / "data", databases=True)
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
