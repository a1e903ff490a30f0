"""The ``db`` scenario at tiny sizes, end to end (a real hub, a real bare server on raw
sqlite3 and, when installed, Datasette, each in its own process), and its bare server's
answers; figures are not asserted, only that every side answered with rows."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loadtest.cli import main
from loadtest.db_servers import datasette_available, open_raw, server_main
from loadtest.params import resolve
from loadtest.process import Child


def test_db_runs_every_side_with_rows_and_no_errors(tmp_path: Path) -> None:
    results, document = tmp_path / "RESULTS.md", tmp_path / "db.json"
    argv = ["db", "--smoke", "--clients", "2", "--seconds", "0.2", "--rows", "50"]
    assert main([*argv, "--batch", "5", "--results-md", str(results), "--json", str(document)]) == 0
    report = json.loads(document.read_text(encoding="utf-8"))
    assert report["errors"] == {}
    requests = report["requests"]
    read_sides = {"roost query", "roost select", "bare"}
    if datasette_available():
        read_sides.add("datasette")
    else:
        assert any("Datasette is not installed" in note for note in report["notes"])
    assert set(requests["points"]) == read_sides
    assert set(requests["inserts"]) == {"roost insert", "bare"}
    assert all(n > 0 for sides in requests.values() for n in sides.values())
    assert all(row["roost"] > 0 and row["baseline"] > 0 for row in report["rows"])
    assert report["rows"][0]["name"].startswith("point select, query verb, req/s")
    text = results.read_text(encoding="utf-8")
    assert text.count("<!-- db:begin -->") == 1
    assert "- Command: `python -m loadtest db --smoke --clients 2" in text


def _post(port: int, path: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_bare_server_queries_inserts_in_one_transaction_and_refuses_bad_sql(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bare.db"
    conn = open_raw(path)
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    conn.close()
    bare = Child("bare", server_main, "bare", str(path), "")
    try:
        port = bare.ready[1]
        rows = [{"name": "a"}, {"name": "b"}]
        assert _post(port, "/insert", {"table": "log", "rows": rows}) == (
            200,
            {"rows_written": 2, "last_insert_rowid": 2},
        )
        bad = [{"name": "c"}, {"name": None}]  # NOT NULL fails: nothing of the call stays
        assert _post(port, "/insert", {"table": "log", "rows": bad})[0] == 400
        status, answer = _post(
            port, "/query", {"sql": "SELECT name FROM log WHERE id = ?", "params": [2]}
        )
        assert (status, answer) == (200, {"columns": ["name"], "rows": [["b"]]})
        status, answer = _post(port, "/query", {"sql": "SELECT * FROM nowhere"})
        assert status == 400 and "no such table" in str(answer["error"])
        assert _post(port, "/nothing", {})[0] == 404
    finally:
        bare.stop()
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM log").fetchone() == (2,)


def test_db_sizes_and_limits() -> None:
    assert resolve("db", {}).connections == 32
    assert resolve("db", {}, smoke=True).table_rows == 300
    with pytest.raises(ValueError, match="insert verb's limit"):
        resolve("db", {"batch": 1001})
