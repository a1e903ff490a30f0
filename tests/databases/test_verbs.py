"""The data API through the Python SDK on a real hub: query, batch, table verbs, limits,
the hub's tables out of reach, stats and health (docs/databases.md, "Verbs")."""

from __future__ import annotations

from typing import TypedDict

import msgspec
import pytest
import roost_client

from tests.databases.conftest import Served

USERS = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, age INTEGER)"


class User(msgspec.Struct):
    id: str
    email: str
    age: int | None = None


class UserDict(TypedDict):
    id: str
    email: str
    age: int | None


async def open_db(served: Served, name: str = "acme") -> roost_client.Database:
    created = await served.admin.create_database(name)
    db = served.database(name, created.token)
    await db.migrate([("0001_users", USERS)])
    return db


async def test_query_answers_columns_rows_and_counts(served: Served) -> None:
    async with await open_db(served) as db:
        inserted = await db.query(
            "INSERT INTO users (id, email, age) VALUES (?, ?, ?)", "u1", "ann@acme.com", 31
        )
        assert (inserted.rows_written, inserted.rows_read) == (1, 0)
        assert inserted.last_insert_rowid == 1
        result = await db.query("SELECT id, age, x'CAFE' AS b FROM users WHERE age > ?", 30)
        assert result.columns == ["id", "age", "b"]
        assert result.rows == [["u1", 31, "CAFE"]]  # a BLOB is its hex, as in feeds
        assert result.dicts() == [{"id": "u1", "age": 31, "b": "CAFE"}]
        assert result.rows_read == 1


async def test_sql_errors_are_400_with_sqlites_message(served: Served) -> None:
    async with await open_db(served) as db:
        with pytest.raises(roost_client.QueryError) as caught:
            await db.query("SELECT * FROM nowhere")
        assert "no such table: nowhere" in caught.value.message
        with pytest.raises(roost_client.QueryError):
            await db.query("SELEC 1")
        with pytest.raises(roost_client.QueryError):
            await db.query("SELECT ?", 1, 2)  # wrong number of parameters
        with pytest.raises(roost_client.QueryError):
            await db.query("SELECT 1; SELECT 2")  # one statement per query


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM _roost_db_tokens",
        "SELECT * FROM _roost_meta",
        "DELETE FROM _roost_changes",
        "DROP TABLE _roost_migrations",
        "CREATE TABLE _roost_mine (a)",
        "DROP TRIGGER _roost_feed_users_insert",
        "ATTACH DATABASE ':memory:' AS other",
        "BEGIN",
        "PRAGMA writable_schema = ON",
    ],
)
async def test_the_hubs_tables_and_escapes_are_refused(served: Served, sql: str) -> None:
    async with await open_db(served) as db:
        with pytest.raises(roost_client.StatementNotAllowed) as caught:
            await db.query(sql)
        assert caught.value.code == "statement_not_allowed"
        await db.table("users").insert({"id": "u1", "email": "a@b"})
        assert await db.table("users").count() == 1  # the feed still records
        assert (await db.stats())["feed_seq"] == 1


async def test_a_batch_is_all_or_nothing(served: Served) -> None:
    async with await open_db(served) as db:
        results = await db.batch(
            [
                ("INSERT INTO users (id, email) VALUES (?, ?)", ["u1", "a@x"]),
                "SELECT count(*) FROM users",
            ]
        )
        assert results[1].rows == [[1]]
        with pytest.raises(roost_client.QueryError) as caught:
            await db.batch(
                [
                    ("INSERT INTO users (id, email) VALUES (?, ?)", ["u2", "b@x"]),
                    "UPDATE users SET age = 5",
                    ("INSERT INTO users (id, email) VALUES (?, ?)", ["u3", "a@x"]),  # unique
                ]
            )
        assert caught.value.message.startswith("statement 2:")
        assert (await db.query("SELECT id, age FROM users")).rows == [["u1", None]]


async def test_table_verbs(served: Served) -> None:
    async with await open_db(served) as db:
        users = db.table("users")
        await users.insert(
            [
                {"id": "u1", "email": "ann@acme.com", "age": 31},
                {"id": "u2", "email": "bob@acme.com", "age": 25},
                {"id": "u3", "email": "cy@other.org", "age": None},
            ]
        )
        acme = users.where(email={"like": "%@ACME.com"})
        assert await acme.count() == 2
        assert [u["id"] for u in await acme.order_by("age").all()] == ["u2", "u1"]
        assert [u["id"] for u in await users.order_by("id", desc=True).limit(2).all()] == [
            "u3",
            "u2",
        ]
        assert [u["id"] for u in await users.order_by("id").offset(1).limit(1).all()] == ["u2"]
        assert await users.where(age=None).select("id").all() == [{"id": "u3"}]
        assert await users.where(age={"gte": 25, "lt": 31}).count() == 1
        assert await users.where(id=["u1", "u3"]).count() == 2
        either = users.where({"or": [[["age", "gt", 30]], [["email", "like", "cy@%"]]]})
        assert await either.count() == 2
        assert await users.where(id="nobody").first() is None
        assert await users.where(id="u2").update({"age": 26}) == 1
        assert (await users.where(id="u2").first()) == {
            "id": "u2",
            "email": "bob@acme.com",
            "age": 26,
        }
        assert await acme.delete() == 2
        assert await users.count() == 1


async def test_rows_typed_by_a_struct_or_a_typeddict(served: Served) -> None:
    async with await open_db(served) as db:
        typed = db.table("users", User)
        await typed.insert(User("u1", "ann@acme.com", 31))
        assert await typed.where(id="u1").first() == User("u1", "ann@acme.com", 31)
        plain = db.table("users", UserDict)
        assert await plain.all() == [{"id": "u1", "email": "ann@acme.com", "age": 31}]


@pytest.mark.parametrize(
    ("verb", "kwargs"),
    [
        ("select", {"table": "nope"}),
        ("select", {"table": "_roost_db_tokens"}),
        ("select", {"table": "users", "columns": ["id", "password"]}),
        ("select", {"table": "users", "where": [["password", "eq", 1]]}),
        ("select", {"table": "users", "order_by": [["id; DROP TABLE users", "asc"]]}),
        ("select", {"table": "users", "order_by": [["id", "sideways"]]}),
        ("select", {"table": "users", "limit": -1}),
        ("select", {"table": "users", "extra": 1}),
        ("insert", {"table": "users", "rows": []}),
        ("insert", {"table": "users", "rows": [{"id": "u1", "nope": 1}]}),
        ("update", {"table": "users", "set": {}}),
        ("count", {"table": "users", "where": [["age", "lt", None]]}),
        ("batch", {"statements": []}),
        ("query", {"params": []}),
    ],
)
async def test_bad_arguments_are_400_invalid_arguments(
    served: Served, verb: str, kwargs: dict[str, object]
) -> None:
    async with await open_db(served) as db:
        with pytest.raises(roost_client.InvalidArguments):
            await db.call(verb, kwargs)
        assert (await db.query("SELECT count(*) FROM users")).rows == [[0]]


async def test_an_unknown_verb_is_method_not_found(served: Served) -> None:
    async with await open_db(served) as db:
        with pytest.raises(roost_client.MethodNotFound):
            await db.call("explode", {})


async def test_oversize_results_are_refused(served: Served) -> None:
    # The fixture allows 100 rows and 64 KiB per answer.
    async with await open_db(served) as db:
        await db.query("CREATE TABLE n (i INTEGER PRIMARY KEY, s TEXT)")
        await db.query(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 150)"
            " INSERT INTO n SELECT i, '' FROM c"
        )
        with pytest.raises(roost_client.ResultTooLarge) as caught:
            await db.query("SELECT * FROM n")
        assert caught.value.code == "result_too_large"
        with pytest.raises(roost_client.ResultTooLarge):
            await db.table("n").all()
        assert len(await db.table("n").limit(100).all()) == 100
        await db.query("UPDATE n SET s = printf('%.1000c', 'x')")
        with pytest.raises(roost_client.ResultTooLarge):
            await db.query("SELECT s FROM n LIMIT 90")  # rows fit, bytes do not
        assert len((await db.query("SELECT s FROM n LIMIT 10")).rows) == 10


async def test_stats_and_health(served: Served) -> None:
    async with await open_db(served) as db:
        assert await db.health() == {"status": "ok", "name": "acme"}
        await db.table("users").insert([{"id": "u1", "email": "a"}, {"id": "u2", "email": "b"}])
        await db.table("users").all()
        stats = await db.stats()
        assert stats["name"] == "acme"
        assert stats["tables"] == [{"name": "users", "rows": 2}]
        assert stats["rows_written"] == 2 and stats["rows_read"] >= 2
        assert stats["feed_seq"] == 2
        assert stats["size"] > 0 and stats["last_write"] >= stats["created"]


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "a/b", "x%2Fy", "名前", " ", "DROP TABLE users;--", "." * 300]
)
async def test_hostile_names_are_just_names(served: Served, name: str) -> None:
    created = await served.admin.create_database(name)
    async with served.database(name, created.token) as db:
        await db.query("CREATE TABLE t (a)")
        assert (await db.health())["name"] == name
    assert [d.name for d in await served.admin.list_databases()] == [name]
    files = [p.name for p in (served.data_dir / "objects").rglob("*.sqlite3")]
    assert len(files) == 1 and files[0][:-8].isalnum()
    await served.admin.delete_database(name)


async def test_unknown_databases_are_404_and_create_no_file(served: Served) -> None:
    async with served.database("ghost", "rdb_" + "0" * 16 + "_" + "A" * 43) as db:
        with pytest.raises(roost_client.NoSuchDatabase):
            await db.query("SELECT 1")
    with pytest.raises(roost_client.NoSuchDatabase):
        await served.admin.create_token("ghost")
    assert not (served.data_dir / "objects").exists() or not list(
        (served.data_dir / "objects").rglob("*.sqlite3")
    )
    with pytest.raises(roost_client.RoostError) as caught:
        await served.admin.create_database("x" * 513)
    assert caught.value.code == "invalid_id"
