"""A real S3-compatible server for the backup tests: moto's, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtest.s3_server import s3_server


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    """The URL of a moto S3 server with the bucket ``roost`` (credentials: test/test)."""
    with s3_server() as url:
        if url is None:
            pytest.skip("boto3 and moto are not installed")
        yield url
