"""The servers of the ``db`` scenario, each in a process of its own (``loadtest.process``).

* ``roost``: ``hub.Hub(objects={}, databases=True)`` served with an admin key, as
  ``roost serve X --databases --admin-key K`` does (backups on: the default).
* ``bare``: a small HTTP/1.1 server on asyncio and httptools (keep-alive, one
  ``sqlite3`` connection with WAL and ``synchronous=NORMAL``, JSON with orjson) that
  does what the two Roost verbs under test do, and nothing else:

  - ``POST /query`` ``{"sql", "params"}``: runs the one statement, answers
    ``{"columns", "rows"}`` (200) or ``{"error": message}`` (400);
  - ``POST /insert`` ``{"table", "rows": [{column: value}]}``: every row in one
    transaction (``BEGIN`` .. ``executemany`` .. ``COMMIT``), answers
    ``{"rows_written", "last_insert_rowid"}``.

* ``datasette`` (``start_datasette``): ``datasette serve FILE`` in a subprocess, when
  datasette is installed, on the bare server's file.

Both children answer ``("ready", port, pid)`` and stop on ``("stop",)``.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httptools
import orjson

import hub
from loadtest.process import Commands, run_loop

__all__ = [
    "datasette_available",
    "free_port",
    "open_raw",
    "server_main",
    "start_datasette",
    "wait_for_port",
]


def open_raw(path: Path) -> sqlite3.Connection:
    """A plain connection with the hub's pragmas (autocommit; WAL; synchronous=NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class _Bare(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of the bare server."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._send(400, {"error": "bad request"})
            assert self._transport is not None
            self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        url, body = self._url, b"".join(self._body)
        self._url, self._body = b"", []
        try:
            args = orjson.loads(body or b"{}")
            if url == b"/query":
                self._send(200, self._query(args["sql"], args.get("params", [])))
            elif url == b"/insert":
                self._send(200, self._insert(args["table"], args["rows"]))
            else:
                self._send(404, {"error": "not found"})
        except (sqlite3.Error, KeyError, TypeError, ValueError) as exc:
            self._send(400, {"error": str(exc)})

    def _query(self, sql: str, params: list[Any]) -> dict[str, Any]:
        cursor = self._db.execute(sql, params)
        rows = cursor.fetchall()
        columns = [column[0] for column in cursor.description or ()]
        return {"columns": columns, "rows": rows}

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        columns = list(rows[0])
        names = ", ".join(f'"{name}"' for name in columns)
        marks = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
        self._db.execute("BEGIN")
        try:
            written = self._db.executemany(
                sql, [[row[c] for c in columns] for row in rows]
            ).rowcount
            last = self._db.execute("SELECT last_insert_rowid()").fetchone()[0]
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return {"rows_written": written, "last_insert_rowid": last}

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        body = orjson.dumps(answer)
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        assert self._transport is not None
        self._transport.write(head.encode() + body)


async def _serve(commands: Commands, side: str, path: Path, admin_key: str) -> None:
    if side == "roost":
        app = hub.Hub(objects={}, data_dir=path, databases=True, idle_timeout=3600.0)
        async with app.serve(host="127.0.0.1", port=0, admin_key=admin_key) as server:
            commands.reply("ready", server.port)
            while (await commands.get())[0] != "stop":
                commands.reply("error", "unknown command")
        return
    db = open_raw(path)
    loop = asyncio.get_running_loop()
    bare = await loop.create_server(lambda: _Bare(db), "127.0.0.1", 0, backlog=2048)
    commands.reply("ready", bare.sockets[0].getsockname()[1])
    while (await commands.get())[0] != "stop":
        commands.reply("error", "unknown command")
    bare.close()
    db.close()


def server_main(conn: Connection, side: str, path: str, admin_key: str) -> None:
    """Child process entry: serve ``side`` (``roost``: data directory ``path``; ``bare``:
    the SQLite file ``path``) until told to stop."""

    async def main() -> None:
        commands = Commands(conn)
        await _serve(commands, side, Path(path), admin_key)
        commands.close()

    run_loop(main)


def datasette_available() -> bool:
    """True when datasette can be imported."""
    try:
        import datasette  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Return once ``127.0.0.1:port`` accepts; raise if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"datasette exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start_datasette(path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``datasette serve path`` on a free port of 127.0.0.1 (its defaults otherwise)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(path), "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
    except BaseException:
        process.terminate()
        process.wait(10)
        raise
    return process, port
