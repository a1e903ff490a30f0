"""Rows, their targets and RESULTS.md sections (pure, files in a temporary directory)."""

from __future__ import annotations

import math
from pathlib import Path

from loadtest.report import RESULTS_TITLE, TIMES, Row, Target, render_table, write_section


def _section(name: str, body: str) -> str:
    return f"<!-- {name}:begin -->\n## {name}\n\n{body}\n<!-- {name}:end -->"


def test_rerunning_a_scenario_replaces_its_section_in_place(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_section(path, "echo", _section("echo", "first run"))
    write_section(path, "idle", _section("idle", "idle run"))
    path.write_text(path.read_text(encoding="utf-8") + "\nhand-written findings\n")
    write_section(path, "echo", _section("echo", "second run"))
    text = path.read_text(encoding="utf-8")
    assert text.startswith(RESULTS_TITLE)
    assert text.count("<!-- echo:begin -->") == 1 and text.count("<!-- echo:end -->") == 1
    assert "second run" in text and "first run" not in text
    assert text.index("echo:begin") < text.index("idle:begin")  # kept its place
    assert text.count("idle run") == 1 and "hand-written findings" in text


def test_a_section_whose_name_prefixes_another_is_its_own(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_section(path, "idle-100k", _section("idle-100k", "many"))
    write_section(path, "idle", _section("idle", "few"))
    write_section(path, "idle", _section("idle", "fewer"))
    text = path.read_text(encoding="utf-8")
    assert "many" in text and "fewer" in text and "few\n" not in text
    assert text.count("idle:begin") == 1 and text.count("idle-100k:begin") == 1


def test_a_row_with_two_targets_is_one_row_met_only_when_both_are() -> None:
    both = (Target("value", "at_most", 8.0), Target("ratio", "at_most", 0.6))
    row = Row("RSS growth per socket", 6.0, 12.0, "KiB", both)
    assert row.met is True
    assert Row("RSS", 7.9, 12.0, "KiB", both).met is False  # 0.66x: the ratio fails
    table = render_table([row])
    assert f"≤ 8 KiB; ≤ 0.6{TIMES} bare" in table
    assert table.count("RSS growth per socket") == 1
    assert row.to_json()["met"] is True


def test_a_delta_row_shows_and_bounds_the_difference() -> None:
    wake = Row(
        "first call on an evicted object, p50",
        1105.0,
        285.0,
        "µs",
        Target("delta", "at_most", 1000.0),
        baseline_word="live",
        compare="delta",
    )
    assert wake.delta == 820.0 and wake.met is True
    table = render_table([wake])
    assert f"+820 µs over live (3.88{TIMES})" in table
    assert "≤ +1000 µs over live" in table
    assert Row("w", 1400.0, 285.0, "µs", Target("delta", "at_most", 1000.0)).met is False
    assert math.isnan(Row("alone", 1.0, math.nan, "ms").delta)


def test_a_new_section_goes_in_order_ahead_of_the_findings(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    order = ("summary", "echo", "fanout", "storage")
    write_section(path, "summary", _section("summary", "rows"), order)
    write_section(path, "storage", _section("storage", "sql"), order)
    write_section(path, "findings", _section("findings", "by hand"))
    write_section(path, "echo", _section("echo", "echo run"), order)
    write_section(path, "fanout", _section("fanout", "fanout run"), order)
    write_section(path, "db", _section("db", "not in the order"), order)
    text = path.read_text(encoding="utf-8")
    marks = ["summary", "echo", "fanout", "storage", "findings", "db"]
    positions = [text.index(f"<!-- {name}:begin -->") for name in marks]
    assert positions == sorted(positions)
