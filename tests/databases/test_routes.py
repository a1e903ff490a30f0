"""Which URLs reach database objects (pure: ``hub.net.routes``)."""

from __future__ import annotations

import pytest

from hub.errors import HubError, InvalidIdError, MethodNotAllowedError, NotFoundError
from hub.net.routes import DatabaseAdminRoute, DatabaseRoute, match


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/db/acme", DatabaseRoute("acme")),
        ("POST", "/db/acme/query", DatabaseRoute("acme", "query")),
        ("GET", "/db/a%2Fb/stats", DatabaseRoute("a/b", "stats")),
        ("POST", "/db/%2E%2E/query", DatabaseRoute("..", "query")),
        ("GET", "/_roost/databases", DatabaseAdminRoute("list")),
        ("POST", "/_roost/databases", DatabaseAdminRoute("create")),
        ("GET", "/_roost/databases/acme", DatabaseAdminRoute("info", "acme")),
        ("DELETE", "/_roost/databases/acme", DatabaseAdminRoute("delete", "acme")),
        ("POST", "/_roost/databases/acme/tokens", DatabaseAdminRoute("token", "acme")),
        (
            "DELETE",
            "/_roost/databases/acme/tokens/0123abcd",
            DatabaseAdminRoute("revoke", "acme", "0123abcd"),
        ),
        ("POST", "/_roost/databases/acme/migrate", DatabaseAdminRoute("migrate", "acme")),
    ],
)
def test_database_routes(method: str, path: str, route: object) -> None:
    assert match(method, path) == route


@pytest.mark.parametrize(
    ("method", "path", "error"),
    [
        ("POST", "/db/acme/query/more", NotFoundError),
        ("POST", "/db//query", InvalidIdError),
        ("POST", "/db/acme/drop%20table", HubError),
        ("PUT", "/_roost/databases", MethodNotAllowedError),
        ("GET", "/_roost/databases/acme/tokens", MethodNotAllowedError),
        ("GET", "/_roost/databases/acme/migrate", MethodNotAllowedError),
        ("POST", "/_roost/databases/acme/other", NotFoundError),
        ("DELETE", "/_roost/databases/acme/tokens/x/y", NotFoundError),
    ],
)
def test_refusals(method: str, path: str, error: type[HubError]) -> None:
    with pytest.raises(error):
        match(method, path)
