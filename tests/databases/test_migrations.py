"""Migrations: numbered files applied once each, in order, in a transaction, recorded
with a checksum; an edited applied migration refused naming it (docs/databases.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import roost_client

import hub
from tests.conftest import MakeHub
from tests.databases.conftest import Served


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return folder


class Notes(hub.DurableObject):
    """An ordinary object migrating its own storage in its constructor."""

    folder: Path

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.block_concurrency_while(lambda: hub.migrate(ctx.storage, self.folder))

    async def tables(self) -> list[str]:
        rows = self.ctx.storage.sql.exec(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'"
            " ORDER BY name"
        )
        return [str(row["name"]) for row in rows]

    async def columns(self, table: str) -> list[str]:
        return [str(r["name"]) for r in self.ctx.storage.sql.exec(f"PRAGMA table_info({table})")]


def notes_class(folder: Path) -> type[Notes]:
    return type("Notes", (Notes,), {"folder": folder})


async def test_files_apply_in_number_order_once(tmp_path: Path, make_hub: MakeHub) -> None:
    folder = write(
        tmp_path / "m",
        {
            "0002_add_body.sql": "ALTER TABLE notes ADD COLUMN body TEXT;",
            "0001_notes.sql": "CREATE TABLE notes (id TEXT PRIMARY KEY);\n-- a comment\n",
            "0010_tags.sql": "CREATE TABLE tags (id TEXT PRIMARY KEY); CREATE TABLE links (a, b);",
            "README.md": "not a migration",
            "0003_draft.sql.bak": "garbage",
        },
    )
    app, _ = await make_hub({"NOTES": notes_class(folder)})
    stub = app.env.NOTES.get_by_name("n")
    assert await stub.tables() == ["links", "notes", "tags"]
    assert await stub.columns("notes") == ["id", "body"]
    await app.hibernate("NOTES", "n")
    assert await stub.tables() == ["links", "notes", "tags"]  # nothing ran twice


async def test_an_edited_applied_migration_is_refused_naming_it(
    tmp_path: Path, make_hub: MakeHub
) -> None:
    folder = write(tmp_path / "m", {"0001_notes.sql": "CREATE TABLE notes (id TEXT PRIMARY KEY);"})
    app, _ = await make_hub({"NOTES": notes_class(folder)})
    stub = app.env.NOTES.get_by_name("n")
    assert await stub.tables() == ["notes"]
    await app.hibernate("NOTES", "n")
    (folder / "0001_notes.sql").write_text("CREATE TABLE notes (id INTEGER PRIMARY KEY);")
    with pytest.raises(hub.ActivationError) as caught:
        await stub.tables()
    assert "0001_notes.sql" in str(caught.value)
    assert "MigrationError" in str(caught.value.type_name)


async def test_a_failing_migration_leaves_nothing(tmp_path: Path, make_hub: MakeHub) -> None:
    folder = write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);",
            "0002_bad.sql": "CREATE TABLE b (id INTEGER PRIMARY KEY);"
            " INSERT INTO nowhere VALUES (1);",
        },
    )
    app, _ = await make_hub({"NOTES": notes_class(folder)})
    stub = app.env.NOTES.get_by_name("n")
    with pytest.raises(hub.ActivationError) as caught:
        await stub.tables()
    assert "0002_bad.sql" in str(caught.value) and "no such table: nowhere" in str(caught.value)
    (folder / "0002_bad.sql").write_text("CREATE TABLE b (id INTEGER PRIMARY KEY);")
    assert await stub.tables() == ["a", "b"]  # neither "a" nor "b" stayed from the failure


def test_two_files_with_one_number_are_refused(tmp_path: Path) -> None:
    from hub.databases.migrations import migration_files

    folder = write(tmp_path / "m", {"0001_a.sql": "", "1_b.sql": ""})
    with pytest.raises(hub.ConfigurationError, match="two migrations numbered 1"):
        migration_files(folder)
    with pytest.raises(hub.ConfigurationError, match="no migrations directory"):
        migration_files(tmp_path / "missing")


async def test_the_migrate_verb(served: Served) -> None:
    created = await served.admin.create_database("acme")
    async with served.database("acme", created.token) as db:
        first = await db.migrate(
            [
                ("0001_users", "CREATE TABLE users (id TEXT PRIMARY KEY);"),
                ("0002", "CREATE INDEX i ON users (id);"),
            ]
        )
        assert (first.applied, first.skipped) == (["0001_users", "0002"], [])
        again = await db.migrate({"0001_users": "CREATE TABLE users (id TEXT PRIMARY KEY);"})
        assert (again.applied, again.skipped) == ([], ["0001_users"])
        with pytest.raises(roost_client.MigrationConflict) as caught:
            await db.migrate([("0001_users", "CREATE TABLE users (id INTEGER PRIMARY KEY);")])
        assert "0001_users" in caught.value.message
        with pytest.raises(roost_client.QueryError) as failed:
            await db.migrate(
                [("0003_ok", "CREATE TABLE ok (a);"), ("0004_bad", "CREATE TABLE users (id);")]
            )
        assert "0004_bad" in failed.value.message and "already exists" in failed.value.message
        tables = await db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        assert ["ok"] not in tables.rows  # one call, one transaction
        with pytest.raises(roost_client.StatementNotAllowed):
            await db.query("SELECT * FROM _roost_migrations")
    result = await served.admin.migrate("acme", [("0003_ok", "CREATE TABLE ok (a);")])
    assert result.applied == ["0003_ok"]


class FeedNotes(Notes):
    """Notes whose table is a feed table: its triggers name every column."""

    feeds = ("notes",)

    async def add(self, body: str) -> None:
        self.ctx.storage.sql.exec("INSERT INTO notes (id, body) VALUES (?, ?)", body, body)

    async def changes(self) -> list[dict[str, object]]:
        return [change.row for change in self.ctx.storage.feeds.since(0)]


async def test_a_migration_drops_a_column_of_a_feed_table(
    tmp_path: Path, make_hub: MakeHub
) -> None:
    folder = write(
        tmp_path / "m",
        {"0001_notes.sql": "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT, extra TEXT);"},
    )
    cls = type("FeedNotes", (FeedNotes,), {"folder": folder})
    app, _ = await make_hub({"NOTES": cls})
    stub = app.env.NOTES.get_by_name("n")
    await stub.add("one")
    await app.hibernate("NOTES", "n")
    write(folder, {"0002_drop_extra.sql": "ALTER TABLE notes DROP COLUMN extra;"})
    assert await stub.columns("notes") == ["id", "body"]
    await stub.add("two")  # the feed's triggers were made again for the new columns
    assert await stub.changes() == [
        {"id": "one", "body": "one", "extra": None},
        {"id": "two", "body": "two"},
    ]
