"""Provisioning (create, list, info, delete) and change feeds of database tables through
the SDK's ``subscribe`` (docs/databases.md)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import roost_client

import hub
from tests.conftest import within
from tests.databases.conftest import ADMIN_KEY, Served


async def test_create_list_info_delete(served: Served) -> None:
    first = await served.admin.create_database("b-org")
    await served.admin.create_database("a-org", read_only=True)
    with pytest.raises(roost_client.DatabaseExists):
        await served.admin.create_database("b-org")
    listed = await served.admin.list_databases()
    assert [(d.name, d.tokens) for d in listed] == [("a-org", 1), ("b-org", 1)]
    assert all(d.size > 0 and d.created > 0 for d in listed)
    info = await served.admin.database_info("b-org")
    assert info["tokens"][0]["token_id"] == first.token_id
    assert info["tokens"][0]["read_only"] is False

    async with served.database("b-org", first.token) as db:
        await db.query("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        socket = await db.socket()
        await served.admin.delete_database("b-org")
        await within(socket.wait_for(roost_client.State.CLOSED))
        assert socket.close_error is not None and socket.close_error.close_code == 4404
        with pytest.raises(roost_client.NoSuchDatabase):
            await db.query("SELECT 1")
    assert [d.name for d in await served.admin.list_databases()] == ["a-org"]
    files = list((served.data_dir / "objects").rglob("*.sqlite3*"))
    assert len([f for f in files if f.suffix == ".sqlite3"]) == 1
    with pytest.raises(roost_client.NoSuchDatabase):
        await served.admin.delete_database("b-org")
    again = await served.admin.create_database("b-org")  # the name is free again
    async with served.database("b-org", again.token) as db:
        assert (await db.stats())["tables"] == []


async def test_listing_wakes_no_database(served: Served) -> None:
    await served.admin.create_database("sleepy")
    await served.app.hibernate("DATABASE", "sleepy")
    assert not served.app.is_active("DATABASE", "sleepy")
    assert [d.name for d in await served.admin.list_databases()] == ["sleepy"]
    assert not served.app.is_active("DATABASE", "sleepy")


async def test_the_admin_routes_need_the_admin_key(served: Served) -> None:
    async with roost_client.admin(served.url, "wrong") as wrong:
        with pytest.raises(roost_client.Unauthorized):
            await wrong.create_database("x")
        with pytest.raises(roost_client.Unauthorized):
            await wrong.list_databases()
    async with httpx.AsyncClient(base_url=served.url) as client:
        answer = await client.get("/_roost/databases")
        assert answer.status_code == 401
        answer = await client.put(
            "/_roost/databases", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert answer.status_code == 405
        # Databases are not plain objects: the generic routes refuse the binding.
        answer = await client.post(
            "/objects/database/x/rpc/db_admin", json={"args": ["create", {}]}
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "unknown_binding")


async def test_a_hub_without_admin_key_refuses_provisioning(tmp_path: Path) -> None:
    app = hub.Hub(objects={}, data_dir=tmp_path, databases=True)
    async with app.serve(port=0) as server, roost_client.admin(server.url, "") as admin:
        with pytest.raises(roost_client.Unauthorized):
            await admin.create_database("x")


async def test_databases_off_means_no_routes(tmp_path: Path) -> None:
    app = hub.Hub(objects={}, data_dir=tmp_path)
    async with app.serve(port=0, admin_key="k") as server, httpx.AsyncClient() as client:
        answer = await client.post(f"{server.url}/db/x/query", json={"sql": "select 1"})
        assert answer.status_code == 404


def test_an_app_binding_named_database_is_refused(tmp_path: Path) -> None:
    class Mine(hub.DurableObject):
        pass

    with pytest.raises(hub.ConfigurationError, match="reserved"):
        hub.Hub(objects={"DATABASE": Mine}, data_dir=tmp_path, databases=True)
    app = hub.Hub(objects={"DATABASE": Mine}, data_dir=tmp_path)  # fine while off
    with pytest.raises(hub.ConfigurationError, match="reserved"):
        app.configure(databases=True)


async def test_subscribe_to_tables_made_later(served: Served) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        await db.migrate([("0001", "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT)")])
        users = db.table("users")
        await users.insert({"id": "u0", "email": "zed@other.org"})
        await users.insert({"id": "u1", "email": "ann@acme.com"})
        async with db.subscribe("users", where={"email": {"like": "%@acme.com"}}) as changes:
            first = await within(changes.__anext__())
            assert (first.op, first.row) == ("snapshot", {"id": "u1", "email": "ann@acme.com"})
            await users.insert({"id": "u2", "email": "bob@acme.com"})
            await users.where(id="u0").update({"email": "zed@acme.com"})  # enters the filter
            await users.where(id="u1").delete()
            seen = [await within(changes.__anext__()) for _ in range(3)]
            assert [(c.op, c.row and c.row["id"]) for c in seen] == [
                ("insert", "u2"),
                ("insert", "u0"),
                ("delete", "u1"),
            ]
        # A table created by a query becomes a feed; one without a key does not.
        await db.query("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
        await db.query("CREATE TABLE log (line TEXT)")
        async with db.subscribe("posts", snapshot=False) as posts:
            await db.table("posts").insert({"title": "hello"})
            change = await within(posts.__anext__())
            assert (change.op, change.row) == ("insert", {"id": 1, "title": "hello"})
        with pytest.raises(roost_client.NoSuchFeed):
            async with db.subscribe("log") as log:
                await within(log.__anext__())
        # A new column is followed: the triggers are re-made.
        await db.query("ALTER TABLE posts ADD COLUMN body TEXT")
        async with db.subscribe("posts", snapshot=False) as posts:
            await db.table("posts").insert({"title": "two", "body": "b"})
            change = await within(posts.__anext__())
            assert change.row == {"id": 2, "title": "two", "body": "b"}
        # Dropping a feed table ends it, and works for the client.
        await db.query("DROP TABLE posts")
        assert (await db.stats())["tables"] == [
            {"name": "log", "rows": 0},
            {"name": "users", "rows": 2},
        ]


async def test_or_in_a_subscription_is_alternatives_and_table_where_agrees(
    served: Served,
) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        await db.migrate([("0001", "CREATE TABLE users (id TEXT PRIMARY KEY, role TEXT)")])
        users = db.table("users")
        await users.insert([{"id": "u1", "role": "admin"}, {"id": "u2", "role": "dev"}])
        await users.insert({"id": "u3", "role": "dev"})
        where = {"or": [{"role": "admin"}, {"id": "u3"}]}
        assert await users.where(**where).select("id").order_by("id").all() == [
            {"id": "u1"},
            {"id": "u3"},
        ]
        async with db.subscribe("users", where=where) as changes:
            snapshot = [await within(changes.__anext__()) for _ in range(2)]
            assert sorted(c.row["id"] for c in snapshot if c.row) == ["u1", "u3"]
            await users.insert({"id": "u4", "role": "dev"})  # matches neither
            await users.insert({"id": "u5", "role": "admin"})
            change = await within(changes.__anext__())
            assert (change.op, change.row) == ("insert", {"id": "u5", "role": "admin"})


async def test_calls_over_roost_v1(served: Served) -> None:
    created = await served.admin.create_database("acme")
    reader = await served.admin.create_token("acme", read_only=True)
    url = "ws" + served.url[4:] + "/db/acme"
    async with roost_client.connect(url, token=created.token) as conn:
        await conn.call("query", sql="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        result = await conn.call("insert", table="t", rows=[{"v": "a"}, {"v": "b"}])
        assert result == {"rows_written": 2, "last_insert_rowid": 2}
        rows = await conn.call("select", table="t", where=[["v", "eq", "b"]])
        assert rows == {"rows": [{"id": 2, "v": "b"}]}
        with pytest.raises(roost_client.InvalidArguments):
            await conn.call("query", "SELECT 1")  # positional: refused
        with pytest.raises(roost_client.QueryError):
            await conn.call("query", sql="SELECT * FROM nowhere")
    async with roost_client.connect(url, token=reader.token) as conn:
        assert (await conn.call("count", table="t")) == {"count": 2}
        with pytest.raises(roost_client.ReadOnly):
            await conn.call("query", sql="DELETE FROM t")
        await served.admin.revoke_token("acme", reader.token_id)
        # The socket is closed (4401): the call is lost, or refused if it came first.
        with pytest.raises((roost_client.Unauthorized, roost_client.ConnectionLost)):
            await within(conn.call("count", table="t"))


async def test_admin_bodies_are_checked(served: Served) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers) as client:
        answer = await client.post("/_roost/databases", json={"name": "x", "readonly": True})
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_arguments")
        answer = await client.post("/_roost/databases", json={"name": ""})
        assert answer.status_code == 400
        answer = await client.post("/_roost/databases", content=b"{not json")
        assert answer.status_code == 400
        answer = await client.post("/_roost/databases", json={"name": "x", "read_only": "yes"})
        assert answer.status_code == 400
    # Refused before the database object woke: no file was made for "x".
    assert not list((served.data_dir / "objects").rglob("*.sqlite3*"))
    assert await served.admin.list_databases() == []
    assert await served.admin.list_databases() == []


async def test_a_schema_change_is_a_write(served: Served) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        assert (await db.stats())["last_write"] is None
        await db.query("CREATE TABLE t (a)")
        assert (await db.stats())["last_write"] is not None


class Signup(hub.DurableObject):
    """An app's own object next to the databases, provisioning one through its stub."""

    async def provision(self, org: str) -> str:
        created = await self.env.DATABASE.get_by_name(org).db_admin("create", {})
        return str(created["token"])


async def test_app_objects_coexist_and_may_provision_through_env(tmp_path: Path) -> None:
    app = hub.Hub(objects={"SIGNUP": Signup}, data_dir=tmp_path, databases=True)
    async with app.serve(port=0, admin_key=ADMIN_KEY) as server:
        token = await app.env.SIGNUP.get_by_name("desk").provision("org-9")
        async with roost_client.database(server.url, "org-9", token=token) as db:
            assert (await db.health())["name"] == "org-9"
        async with httpx.AsyncClient(base_url=server.url) as client:
            answer = await client.post("/objects/signup/desk/rpc/provision", json={"args": ["x"]})
            assert answer.status_code == 200  # the app's own routes are untouched


async def test_a_column_of_a_feed_table_can_be_dropped(served: Served) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        await db.migrate([("0001", "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)")])
        await db.table("t").insert({"a": "x", "b": "y"})
        # SQLite refuses to drop a column the feed's triggers name; the hub makes room.
        await db.query("ALTER TABLE t DROP COLUMN b")
        await db.migrate(
            [("0002", "ALTER TABLE t ADD COLUMN c TEXT; ALTER TABLE t DROP COLUMN a;")]
        )
        async with db.subscribe("t") as changes:
            first = await within(changes.__anext__())
            assert first.row == {"id": 1, "c": None}
            await db.table("t").insert({"c": "z"})
            change = await within(changes.__anext__())
            assert (change.op, change.row) == ("insert", {"id": 2, "c": "z"})
        reader = await served.admin.create_token("acme", read_only=True)
        async with served.database("acme", reader.token) as ro:
            with pytest.raises(roost_client.ReadOnly):
                await ro.query("ALTER TABLE t DROP COLUMN c")
        assert [c for c in (await db.query("PRAGMA table_info(t)")).rows] == [
            [0, "id", "INTEGER", 0, None, 1],
            [1, "c", "TEXT", 0, None, 0],
        ]
