"""The storage and sdk scenarios at tiny sizes, end to end: a real hub and SQLite file, a
real server and client processes; figures are not asserted, only what a run reports."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.cli import main


def test_storage_runs_and_writes_its_section(tmp_path: Path) -> None:
    results, document = tmp_path / "RESULTS.md", tmp_path / "storage.json"
    argv = ["storage", "--smoke", "--rounds", "1", "--points", "50", "--rows", "20"]
    argv += ["--inserts", "50", "--wake-samples", "3", "--wake-warmup", "1"]
    for _ in range(2):  # a second run replaces the first's section
        assert main([*argv, "--results-md", str(results), "--json", str(document)]) == 0
    text = results.read_text(encoding="utf-8")
    assert text.count("<!-- storage:begin -->") == 1
    assert "- Command: `python -m loadtest storage --smoke --rounds 1" in text
    assert "asyncio in the benchmark's one process" in text
    assert "## storage: Storage micro-benchmarks (object runtime)" in text
    report = json.loads(document.read_text(encoding="utf-8"))
    assert report["scenario"] == "storage" and report["command"].startswith("python -m")
    names = [row["name"] for row in report["rows"]]
    assert names[0] == "point query: sql.exec(...).one()" and len(names) == 10
    assert names[6] == "point query, backups off (info)"  # the backup layer's cost, apart
    assert all(row["roost"] > 0 and row["baseline"] > 0 for row in report["rows"])
    assert report["rows"][2]["target"] == {"on": "ratio", "bound": "at_most", "limit": 1.3}
    assert report["rows"][4]["target"] == {"on": "delta", "bound": "at_most", "limit": 400.0}


def test_sdk_runs_both_clients(tmp_path: Path) -> None:
    document = tmp_path / "sdk.json"
    argv = ["sdk", "--quick", "--clients", "2", "--objects", "1", "--seconds", "0.2"]
    assert main([*argv, "--batch", "5", "--json", str(document)]) == 0
    report = json.loads(document.read_text(encoding="utf-8"))
    assert report["errors"] == {}
    kinds = {(w["scenario"], w["kind"]) for w in report["windows"]}
    assert kinds == {(s, k) for s in ("calls", "calls-1", "sends") for k in ("sdk", "bare")}
    assert all(w["count"] > 0 for w in report["windows"])
    assert report["roost"]["figure"] > 0 and report["baseline"]["figure"] > 0


def test_fanout_scale_compares_two_room_sizes_each_on_its_own_server(tmp_path: Path) -> None:
    document = tmp_path / "fanout-scale.json"
    argv = ["fanout-scale", "--smoke", "--connections", "30", "--compare", "10"]
    assert main([*argv, "--duration", "2", "--window", "4", "--json", str(document)]) == 0
    report = json.loads(document.read_text(encoding="utf-8"))
    assert report["errors"] == {}
    assert report["roost"]["name"] == "Roost, 30 receivers"
    assert report["baseline"]["name"] == "Roost, 10 receivers"
    assert report["roost"]["figure"] > 0 and report["baseline"]["figure"] > 0
    first = report["rows"][0]
    assert first["name"] == "server CPU (user + system) per delivery"
    assert first["target"] == {"on": "ratio", "bound": "at_most", "limit": 1.2}
    sent = report["roost"]["sent"]
    assert report["roost"]["deliveries"] == sent * 31  # every member and the writer
