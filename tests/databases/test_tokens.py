"""Tokens: random, hashed, scoped to one database, read-only enforced by SQLite,
revocation effective at once (docs/databases.md, "Tokens")."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import roost_client

from hub.databases import tokens
from hub.databases.catalog import Catalog
from hub.errors import TokenRejectedError
from hub.storage.database import ObjectDatabase
from tests.conftest import within
from tests.databases.conftest import Served


def test_a_token_has_256_random_bits_and_its_id_inside() -> None:
    minted = tokens.mint()
    assert minted.token.startswith(f"rdb_{minted.token_id}_")
    assert tokens.token_id_of(minted.token) == minted.token_id
    secret = minted.token[len("rdb_") + 16 + 1 :]
    assert len(secret) == 43  # 32 bytes in base64url
    assert tokens.matches(minted.token, minted.hash)
    flipped = minted.token[:-1] + ("B" if minted.token.endswith("A") else "A")
    assert not tokens.matches(flipped, minted.hash)
    assert tokens.mint().token != minted.token


@pytest.mark.parametrize("bad", ["", "rdb_", "Bearer x", "rdb_0123456789abcdef_short", 42, None])
def test_malformed_tokens_have_no_id(bad: object) -> None:
    assert tokens.token_id_of(bad) is None


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    db = ObjectDatabase(tmp_path / "db.sqlite3")
    catalog = Catalog(db)
    db.begin()
    catalog.create()
    db.commit()
    try:
        yield catalog
    finally:
        db.close()


def test_a_token_minted_by_a_transaction_that_rolls_back_is_refused(catalog: Catalog) -> None:
    db = catalog.db
    db.begin()
    kept = catalog.add_token(read_only=False)
    db.commit()
    db.begin()
    lost = catalog.add_token(read_only=False)
    assert catalog.check(lost.token).token_id == lost.token_id  # inside its transaction
    db.rollback()  # e.g. the commit failed: the row is gone, so is the token
    with pytest.raises(TokenRejectedError):
        catalog.check(lost.token)
    assert catalog.check(kept.token).token_id == kept.token_id
    assert catalog.token_ids() == [kept.token_id]


def test_a_revocation_undone_by_a_savepoint_leaves_the_token_in_force(catalog: Catalog) -> None:
    db = catalog.db
    db.begin()
    minted = catalog.add_token(read_only=True)
    with pytest.raises(RuntimeError), db.savepoint():
        catalog.revoke([minted.token_id])
        assert not catalog.still_valid(minted.token_id)
        raise RuntimeError("the nested transaction fails")
    assert catalog.still_valid(minted.token_id)
    assert catalog.check(minted.token).read_only
    db.commit()


async def test_only_the_hash_is_stored(served: Served) -> None:
    created = await served.admin.create_database("acme")
    files = list((served.data_dir / "objects").rglob("*.sqlite3"))
    assert len(files) == 1
    with sqlite3.connect(files[0]) as conn:
        stored = conn.execute("SELECT token_id, hash FROM _roost_db_tokens").fetchall()
    assert stored == [(created.token_id, tokens.digest(created.token))]
    assert created.token.encode() not in files[0].read_bytes()


async def test_a_token_of_one_database_never_opens_another(served: Served) -> None:
    a = await served.admin.create_database("A")
    b = await served.admin.create_database("B")
    async with served.database("B", a.token) as wrong, served.database("A", a.token) as right:
        with pytest.raises(roost_client.Unauthorized) as caught:
            await wrong.query("SELECT 1")
        assert caught.value.code == "unauthorized"
        assert (await right.query("SELECT 1")).rows == [[1]]
    async with served.database("B", b.token) as db:
        assert (await db.health())["status"] == "ok"


async def test_absent_and_forged_tokens_are_401(served: Served) -> None:
    created = await served.admin.create_database("acme")
    forged = created.token[:-4] + ("AAAA" if not created.token.endswith("AAAA") else "BBBB")
    for token in ("", "nope", forged, f"rdb_{'0' * 16}_{'A' * 43}"):
        async with served.database("acme", token) as db:
            with pytest.raises(roost_client.Unauthorized):
                await db.query("SELECT 1")


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO notes (id, body) VALUES ('n9', 'x')",
        "WITH q AS (SELECT 'n9' AS id) INSERT INTO notes (id, body) SELECT id, 'x' FROM q",
        "UPDATE notes SET body = 'changed'",
        "DELETE FROM notes",
        "REPLACE INTO notes (id, body) VALUES ('n1', 'x')",
        "CREATE TABLE more (a)",
        "DROP TABLE notes",
        "CREATE INDEX notes_body ON notes (body)",
        "PRAGMA user_version = 7",
    ],
)
async def test_a_read_only_token_cannot_write(served: Served, sql: str) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        await db.query("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)")
        await db.query("INSERT INTO notes VALUES ('n1', 'hello')")
    reader = await served.admin.create_token("acme", read_only=True)
    async with served.database("acme", reader.token) as db:
        with pytest.raises(roost_client.ReadOnly) as caught:
            await db.query(sql)
        assert caught.value.code == "read_only"
        assert (await db.query("SELECT id, body FROM notes")).rows == [["n1", "hello"]]
        assert (await db.query("PRAGMA user_version")).rows == [[0]]
        assert await db.table("notes").count() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE 'other.db' AS other",
        "PRAGMA query_only = OFF",
        "PRAGMA journal_mode = DELETE",
    ],
)
async def test_a_read_only_token_cannot_escape_through_pragmas_or_attach(
    served: Served, sql: str
) -> None:
    await served.admin.create_database("acme")
    reader = await served.admin.create_token("acme", read_only=True)
    async with served.database("acme", reader.token) as db:
        with pytest.raises(roost_client.StatementNotAllowed):
            await db.query(sql)
        with pytest.raises(roost_client.ReadOnly):
            await db.query("CREATE TABLE t (a)")


async def test_read_only_table_verbs_and_migrate_are_refused(served: Served) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        await db.migrate([("0001", "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT)")])
    reader = await served.admin.create_token("acme", read_only=True)
    async with served.database("acme", reader.token) as db:
        users = db.table("users")
        for write in (
            users.insert({"id": "u1"}),
            users.where(id="u1").update({"name": "x"}),
            users.delete(),
            db.migrate([("0002", "CREATE TABLE t (a)")]),
        ):
            with pytest.raises(roost_client.ReadOnly):
                await write
        assert await users.all() == []


async def test_revoking_refuses_the_next_call_and_closes_its_sockets(served: Served) -> None:
    created = await served.admin.create_database("acme")
    other = await served.admin.create_token("acme")
    async with served.database("acme", created.token) as db:
        await db.query("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        sub = db.subscribe("t")
        await within(sub.__aenter__())
        socket = await db.socket()
        await served.admin.revoke_token("acme", created.token_id)
        with pytest.raises(roost_client.Unauthorized):
            await db.query("SELECT 1")
        await within(socket.wait_for(roost_client.State.CLOSED))
        assert socket.close_error is not None and socket.close_error.close_code == 4401
    async with served.database("acme", other.token) as db:
        assert (await db.query("SELECT count(*) FROM t")).rows == [[0]]
    with pytest.raises(roost_client.RoostError) as caught:
        await served.admin.revoke_token("acme", created.token_id)
    assert caught.value.code == "not_found"


async def test_rotation_revokes_every_other_token(served: Served) -> None:
    first = await served.admin.create_database("acme")
    second = await served.admin.create_token("acme", read_only=True)
    rotated = await served.admin.create_token("acme", revoke_others=True)
    assert sorted(rotated.revoked) == sorted([first.token_id, second.token_id])
    for token in (first.token, second.token):
        async with served.database("acme", token) as db:
            with pytest.raises(roost_client.Unauthorized):
                await db.query("SELECT 1")
    async with served.database("acme", rotated.token) as db:
        assert (await db.query("SELECT 2")).rows == [[2]]
    info = await served.admin.database_info("acme")
    assert [t["token_id"] for t in info["tokens"]] == [rotated.token_id]


async def test_a_websocket_needs_a_valid_token(served: Served) -> None:
    await served.admin.create_database("acme")
    url = "ws" + served.url[4:] + "/db/acme"
    with pytest.raises(roost_client.HandshakeRejected) as caught:
        await asyncio.wait_for(roost_client.connect(url, token="nope", reconnect=False), 10)
    assert caught.value.status == 401
