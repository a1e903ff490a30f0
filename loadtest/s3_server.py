"""A local S3-compatible server for the backup scenario and tests: moto's, on 127.0.0.1.

``s3_server()`` yields its URL with the bucket ``roost`` made (credentials ``test`` /
``test`` in the environment unless set), or None when boto3 or moto is not installed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BUCKET", "s3_server"]

BUCKET = "roost"


@contextmanager
def s3_server() -> Iterator[str | None]:
    """Run moto's S3 server for the ``with`` block; its URL (None: not installed)."""
    try:
        import boto3  # type: ignore[import-untyped]
        import moto.server  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.terminate()
        server.wait(10)
