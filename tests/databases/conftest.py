"""A real hub with database objects on 127.0.0.1 and real files, plus its admin client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import roost_client

import hub

ADMIN_KEY = "admin-key-for-tests"


@dataclass
class Served:
    """A running hub with databases: its URL, data dir and admin client."""

    app: hub.Hub
    url: str
    data_dir: Path
    admin: roost_client.Admin

    def database(self, name: str, token: str) -> roost_client.Database:
        return roost_client.database(self.url, name, token=token)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    app = hub.Hub(
        objects={},
        data_dir=tmp_path / "data",
        databases=hub.DatabaseSettings(max_result_rows=100, max_result_bytes=64 * 1024),
    )
    async with (
        app.serve(port=0, admin_key=ADMIN_KEY) as server,
        roost_client.admin(server.url, ADMIN_KEY) as admin,
    ):
        yield Served(app, server.url, tmp_path / "data", admin)
