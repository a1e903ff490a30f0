"""Restoring a database object to a point in time (issue 13): the data API, the admin
API, the Python SDK; read-only tokens refused; subscribers told to reset."""

from __future__ import annotations

import asyncio
import time

import pytest
import roost_client

from tests.conftest import within
from tests.databases.conftest import Served


async def test_restore_to_a_bookmark_then_undo_it(served: Served) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        await db.migrate([("0001", "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT)")])
        users = db.table("users")
        await users.insert({"id": "u1", "email": "ann@acme.com"})
        point = (await db.stats())["bookmark"]
        await users.insert({"id": "u2", "email": "bob@acme.com"})
        await users.where(id="u1").delete()
        async with db.subscribe("users") as changes:
            first = await within(changes.__anext__())
            assert (first.op, first.row) == ("snapshot", {"id": "u2", "email": "bob@acme.com"})
            restored = await db.restore(point)
            assert restored.restored == point
            # The subscriber is told to reset, then gets the restored rows.
            reset = await within(changes.__anext__())
            assert reset.op == "reset"
            again = await within(changes.__anext__())
            assert (again.op, again.row) == ("snapshot", {"id": "u1", "email": "ann@acme.com"})
        assert [u["id"] for u in await users.all()] == ["u1"]
        await db.restore(restored.undo)
        assert [u["id"] for u in await users.all()] == ["u2"]


async def test_the_admin_restores_to_a_time(served: Served) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        await db.query("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        await db.query("INSERT INTO t VALUES (1)")
        await asyncio.sleep(0.02)
        between = time.time()
        await asyncio.sleep(0.02)
        await db.query("INSERT INTO t VALUES (2)")
        result = await served.admin.restore_database("acme", between)
        assert result.undo > result.restored  # bookmarks sort in time order
        assert (await db.query("SELECT k FROM t")).rows == [[1]]


async def test_read_only_tokens_and_bad_points_are_refused(served: Served) -> None:
    created = await served.admin.create_database("acme")
    reader = await served.admin.create_token("acme", read_only=True)
    async with served.database("acme", created.token) as db:
        await db.query("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        point = (await db.stats())["bookmark"]
        await db.query("INSERT INTO t VALUES (1)")
        async with served.database("acme", reader.token) as ro:
            with pytest.raises(roost_client.ReadOnly):
                await ro.restore(point)
        with pytest.raises(roost_client.InvalidArguments, match="not a bookmark"):
            await db.restore("nope")
        with pytest.raises(roost_client.InvalidArguments, match="oldest point"):
            await db.restore(1.0)
        with pytest.raises(roost_client.InvalidArguments):
            await db.call("restore", {"at": 1, "bookmark": point})
        assert (await db.query("SELECT k FROM t")).rows == [[1]]  # nothing happened
