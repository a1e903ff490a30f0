"""Database objects across processes (``roost serve --databases --workers 2``) and the
``roost db migrate`` command, as a user runs them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import roost_client

from tests.cluster.conftest import StartCluster, cluster  # noqa: F401  (the fixture)
from tests.conftest import within

KEY = "cluster-admin-key"


async def roost_db_migrate(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "db", "migrate", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await within(process.communicate(), factor=3)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_users.sql").write_text(
        "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT);\n"
    )
    (folder / "0002_age.sql").write_text("ALTER TABLE users ADD COLUMN age INTEGER;\n")
    return folder


async def test_databases_with_two_workers_and_roost_db_migrate(
    cluster: StartCluster,  # noqa: F811
    migrations: Path,
) -> None:
    running = await cluster(2, 1, "--databases", "--admin-key", KEY)
    async with roost_client.admin(running.url, KEY) as admin:
        names = [f"org-{i}" for i in range(4)]  # spread over both workers
        tokens = {name: (await admin.create_database(name)).token for name in names}

        code, out, err = await roost_db_migrate(
            names[0], str(migrations), "--url", running.url, "--admin-key", KEY
        )
        assert code == 0, err
        assert "applied 0001_users.sql" in out and "applied 0002_age.sql" in out
        code, out, _ = await roost_db_migrate(
            names[0], str(migrations), "--url", running.url, "--token", tokens[names[0]]
        )
        assert code == 0 and "skipped 0001_users.sql" in out
        (migrations / "0001_users.sql").write_text("CREATE TABLE users (id INTEGER);\n")
        code, _, err = await roost_db_migrate(
            names[0], str(migrations), "--url", running.url, "--token", tokens[names[0]]
        )
        assert code == 1 and "migration_conflict" in err and "0001_users.sql" in err
        code, _, err = await roost_db_migrate(
            "nobody", str(migrations), "--url", running.url, "--admin-key", KEY
        )
        assert code == 1 and "no_such_database" in err

        db = roost_client.database(running.url, names[0], token=tokens[names[0]])
        async with db:
            users = db.table("users")
            async with db.subscribe("users") as changes:
                await users.insert({"id": "u1", "email": "ann@acme.com", "age": 31})
                change = await within(changes.__anext__())
                assert (change.op, change.row) == (
                    "insert",
                    {"id": "u1", "email": "ann@acme.com", "age": 31},
                )
            assert await users.where(email={"like": "%@acme.com"}).count() == 1
            for other in names[1:]:  # a token opens its own database only
                async with roost_client.database(running.url, other, token=tokens[names[0]]) as o:
                    with pytest.raises(roost_client.Unauthorized):
                        await o.query("SELECT 1")
            socket = await db.socket()
            info = await admin.database_info(names[0])
            await admin.revoke_token(names[0], info["tokens"][0]["token_id"])
            await within(socket.wait_for(roost_client.State.CLOSED))
            assert socket.close_error is not None and socket.close_error.close_code == 4401
            with pytest.raises(roost_client.Unauthorized):
                await users.count()

        assert sorted(d.name for d in await admin.list_databases()) == names
        await admin.delete_database(names[1])
        async with roost_client.database(running.url, names[1], token=tokens[names[1]]) as gone:
            with pytest.raises(roost_client.NoSuchDatabase):
                await gone.query("SELECT 1")
        assert sorted(d.name for d in await admin.list_databases()) == names[:1] + names[2:]


async def test_roost_serve_with_roost_databases_in_the_environment(tmp_path: Path) -> None:
    app = tmp_path / "plain_app.py"
    app.write_text("import hub\n\napp = hub.Hub(objects={})\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", str(app), "--port", "0",
        "--data-dir", str(tmp_path / "data"), "--admin-key", KEY, "--log-level", "warning",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "ROOST_DATABASES": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await within(process.stdout.readline(), factor=3)).decode()
        assert line.startswith("roost: serving on "), line
        url = line.split()[3]
        async with roost_client.admin(url, KEY) as admin:
            created = await admin.create_database("from-the-cli")
        async with roost_client.database(url, "from-the-cli", token=created.token) as db:
            assert (await db.query("SELECT 40 + 2")).rows == [[42]]
    finally:
        process.terminate()
        await within(process.wait())
