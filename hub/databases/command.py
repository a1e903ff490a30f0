"""``roost db migrate NAME DIR``: send a folder's numbered migrations to a database.

It talks to a running hub over HTTP with the Python SDK (``roost_client``), with the
admin key (``POST /_roost/databases/{name}/migrate``) or a read-write token of the
database (``POST /db/{name}/migrate``). Output: one line per migration applied or
skipped; an error is one line ``roost: <code>: <message>`` and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from hub.databases.migrations import migration_files
from hub.errors import ConfigurationError

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``roost db ...`` to the command line."""
    db = commands.add_parser("db", help="database objects (docs/databases.md)")
    verbs = db.add_subparsers(dest="db_command", required=True, parser_class=type(db))
    migrate = verbs.add_parser("migrate", help="apply DIR's numbered .sql files to database NAME")
    migrate.add_argument("name", help="the database's name")
    migrate.add_argument("dir", help="folder of 0001_name.sql, 0002_name.sql, ...")
    migrate.add_argument(
        "--url",
        default=os.environ.get("ROOST_URL", "http://127.0.0.1:8787"),
        help="the hub (ROOST_URL, http://127.0.0.1:8787)",
    )
    auth = migrate.add_mutually_exclusive_group()
    auth.add_argument(
        "--admin-key", default=os.environ.get("ROOST_ADMIN_KEY"), help="(ROOST_ADMIN_KEY)"
    )
    auth.add_argument(
        "--token", default=os.environ.get("ROOST_TOKEN"), help="a token of NAME (ROOST_TOKEN)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``roost db <command>``; the exit status."""
    try:
        migrations = [(name, sql) for name, sql in migration_files(args.dir)]
    except ConfigurationError as exc:
        print(f"roost: {exc}", file=sys.stderr)
        return 2
    if not args.admin_key and not args.token:
        print(
            "roost: give --admin-key or --token (or ROOST_ADMIN_KEY / ROOST_TOKEN)", file=sys.stderr
        )
        return 2
    return asyncio.run(_migrate(args, migrations))


async def _migrate(args: argparse.Namespace, migrations: list[tuple[str, str]]) -> int:
    import roost_client

    try:
        if args.token:
            async with roost_client.database(args.url, args.name, token=args.token) as db:
                result = await db.migrate(migrations)
        else:
            async with roost_client.admin(args.url, args.admin_key) as admin:
                result = await admin.migrate(args.name, migrations)
    except roost_client.RoostError as exc:
        print(f"roost: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    for name in result.applied:
        print(f"applied {name}")
    for name in result.skipped:
        print(f"skipped {name} (applied before)")
    print(f"roost: {args.name!r}: {len(result.applied)} applied, {len(result.skipped)} skipped")
    return 0
