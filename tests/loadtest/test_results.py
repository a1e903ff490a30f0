"""The result document: its shape, the ratio's orientation, targets, the summary table."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from loadtest.results import Goal, Outcome, Side, oriented_ratio
from loadtest.suite import render_summary, summary_lines, write_summary


def _outcome(
    roost: float, baseline: float, *, higher: bool, goals: tuple[Goal, ...] = ()
) -> Outcome:
    return Outcome(
        scenario="s",
        label="s",
        params={"connections": 10},
        roost=Side("Roost", roost, "u"),
        baseline=Side("bare", baseline, "u"),
        higher_is_better=higher,
        goals=goals,
        sizes="10 connections; 1 window",
    )


def test_ratio_is_oriented_so_that_higher_is_better() -> None:
    assert oriented_ratio(200.0, 100.0, True) == 2.0  # twice the rate
    assert oriented_ratio(5.0, 10.0, False) == 2.0  # half the memory
    assert oriented_ratio(1.0, 0.0, True) == math.inf
    assert oriented_ratio(0.0, 0.0, True) == 0.0


def test_goals_on_ratio_value_and_delta() -> None:
    ratio = Goal("ratio", "at_least", 1.5, "≥ 1.5x")
    assert ratio.met(300.0, 100.0, 3.0)
    assert not ratio.met(100.0, 100.0, 1.0)
    value = Goal("value", "at_most", 8.0, "≤ 8 KiB")
    assert value.met(6.0, 12.0, 2.0)
    assert not value.met(9.0, 12.0, 1.3)
    delta = Goal("delta", "at_most", 1.0, "≤ +1 ms")
    assert delta.met(1.5, 0.6, 0.4)
    assert not delta.met(2.0, 0.5, 0.25)


def test_memory_result_lower_is_better() -> None:
    outcome = _outcome(6.0, 12.0, higher=False, goals=(Goal("ratio", "at_least", 1 / 0.6, "t"),))
    assert outcome.ratio == 2.0
    assert outcome.met() == [True]
    assert "0.50" in outcome.ratio_text()


def test_json_document_has_the_issue_members(tmp_path: Path) -> None:
    outcome = _outcome(450.0, 50.0, higher=True, goals=(Goal("ratio", "at_least", 1.5, "t"),))
    path = tmp_path / "out" / "r.json"
    outcome.write_json(path, {"command": "python -m loadtest s"})
    document = json.loads(path.read_text(encoding="utf-8"))
    for key in ("scenario", "params", "roost", "baseline", "ratio", "targets", "command"):
        assert key in document
    assert document["roost"]["figure"] == 450.0
    assert document["roost"]["unit"] == "u"
    assert document["baseline"]["figure"] == 50.0
    assert document["ratio"] == pytest.approx(9.0)
    assert document["targets"][0]["met"] is True


def test_unavailable_scenario_has_no_ratio() -> None:
    outcome = _outcome(0.0, 0.0, higher=True)
    outcome.available = False
    outcome.notes = ["the hub does not answer sub yet"]
    assert outcome.to_json()["ratio"] is None
    assert "unavailable" in outcome.summary()
    line = summary_lines("feeds", outcome, "cmd")[0]
    assert "not measured" in line.met


def test_summary_says_not_met_honestly(tmp_path: Path) -> None:
    goal = Goal("ratio", "at_least", 0.7, "≥ 0.7x bare")
    lines = summary_lines("echo", _outcome(60.0, 100.0, higher=True, goals=(goal,)), "cmd")
    assert lines[0].met == "NOT met"
    text = render_summary(lines, "2 CPUs", "today", "python -m loadtest suite")
    assert "| echo |" in text and "NOT met" in text
    path = tmp_path / "RESULTS.md"
    path.write_text("# Roost benchmark results\n\nintro\n\n<!-- x:begin -->\nx\n<!-- x:end -->\n")
    write_summary(path, text)
    write_summary(path, text)  # replaced, not repeated
    written = path.read_text(encoding="utf-8")
    assert written.count("summary:begin") == 1
    assert "<!-- x:begin -->" in written


def test_summary_rows_survive_a_partial_run(tmp_path: Path) -> None:
    from loadtest.suite import earlier_lines, merge_lines

    goal = Goal("ratio", "at_least", 0.7, "≥ 0.7x bare")
    first = summary_lines("echo", _outcome(60.0, 100.0, higher=True, goals=(goal,)), "a --b")
    first += summary_lines("fanout", _outcome(9.0, 1.0, higher=True), "python -m loadtest fanout")
    path = tmp_path / "RESULTS.md"
    write_summary(path, render_summary(first, "m", "d", "c"))
    assert "--b" not in path.read_text(encoding="utf-8").split("summary-rows")[1]
    again = summary_lines("echo", _outcome(80.0, 100.0, higher=True, goals=(goal,)), "a --b")
    merged = merge_lines(earlier_lines(path), again)
    assert [line.part for line in merged] == ["echo", "fanout"]
    assert merged[0].met == "met"
    assert merged[1] == first[1]
    assert merged[0].command == "a --b"


def test_checks_get_their_own_summary_row() -> None:
    from loadtest.results import Check

    outcome = _outcome(50.0, 5.0, higher=False)
    outcome.checks = [Check("sockets closed", 0), Check("messages lost", 2)]
    lines = summary_lines("reload", outcome, "python -m loadtest reload")
    assert len(lines) == 2
    assert lines[1].roost == "0 sockets closed, 2 messages lost"
    assert lines[1].target == "sockets closed = 0, messages lost = 0"
    assert lines[1].met == "NOT met: messages lost"
    assert "messages lost 2: NOT met" in outcome.summary()
    assert outcome.checks[0].to_json() == {
        "name": "sockets closed",
        "count": 0,
        "limit": 0,
        "met": True,
    }
    assert "checks" in outcome.to_json()


def test_a_row_without_baseline_reads_as_a_dash() -> None:
    from loadtest.report import Row, Target, render_table

    row = Row("sockets closed", 0, math.nan, "sockets", Target("value", "at_most", 0))
    assert row.met is True
    table = render_table([row])
    assert "0 sockets" in table and "= 0 sockets" in table and "nan" not in table
    assert row.to_json()["baseline"] is None and row.to_json()["ratio"] is None
    assert "1,234 sockets" in render_table([Row("open", 1234, 1000, "sockets")])


def test_the_many_sockets_row_says_what_stopped_it() -> None:
    outcome = _outcome(7.0, 13.0, higher=False)
    outcome.scenario = "idle"
    outcome.params = {"connections": 100_000}
    outcome.extra = {
        "opened": {"roost": 61_000, "baseline": 19_980},
        "stopped_by": "stopped by the open-file limit of gateway 2",
    }
    line = summary_lines("idle-cluster-100k", outcome, "cmd")[0]
    assert line.roost == "61,000 parked sockets"
    assert line.met == "NOT met: 61,000 reached; stopped by the open-file limit of gateway 2"
    outcome.extra["opened"] = {"roost": 100_000, "baseline": 19_980}
    assert summary_lines("idle-cluster-100k", outcome, "cmd")[0].met == "met"


def test_new_parts_have_their_commands() -> None:
    from loadtest.suite import PARTS

    commands = {part.name: part.command() for part in PARTS}
    assert commands["echo-cluster"] == "python -m loadtest echo --workers 1"
    assert commands["reload"] == "python -m loadtest reload"
    assert commands["idle-cluster-100k"].startswith(
        "python -m loadtest idle --workers 1 --gateways 6 --connections 100000"
    )
    assert len(commands) == len(PARTS)  # one section and one set of rows per part
    for part in PARTS:
        part.params()  # every part's sizes can run


def test_the_summary_has_one_row_a_part() -> None:
    from loadtest.suite import Line, fold

    idle = [
        Line("idle", "10000 sockets", "6.12 KiB", "12.8 KiB", "2.09x", "≤ 8 KiB", "met", "c"),
        Line("idle", "10000 sockets", "6.12 KiB", "12.8 KiB", "2.09x", "≤ 0.6x bare", "met", "c"),
    ]
    many = [
        Line(
            "idle-100k", "100,000 asked", "19,947 parked", "19,980", "—", "100,000", "NOT met", "d"
        ),
        Line("idle-100k", "100000 sockets", "6.32 KiB", "13.0 KiB", "2.06x", "≤ 8 KiB", "met", "d"),
        Line("idle-100k", "100000 sockets", "6.32 KiB", "13.0 KiB", "2.06x", "≤ 0.6x", "met", "d"),
    ]
    for line in many[1:]:
        many[many.index(line)] = replace(line, met="met; 12 errors")
    folded = fold([*idle, *many])
    assert [line.part for line in folded] == ["idle", "idle-100k"]
    assert folded[0].target == "≤ 8 KiB; ≤ 0.6x bare"
    assert folded[0].met == "met"
    assert folded[0].roost == "6.12 KiB"  # the same figure once
    assert folded[1].roost == "19,947 parked; 6.32 KiB"
    # Each verdict names its target when they differ; the run's errors are said once.
    assert folded[1].met == "100,000: NOT met; ≤ 8 KiB: met; ≤ 0.6x: met; 12 errors"
    assert folded[1].target == "100,000; ≤ 8 KiB; ≤ 0.6x"
    assert fold(folded) == folded


def test_the_storage_and_sdk_parts_run_under_the_tool() -> None:
    from loadtest.suite import PARTS

    commands = {part.name: part.command() for part in PARTS}
    assert commands["storage"] == "python -m loadtest storage"
    assert commands["sdk"] == "python -m loadtest sdk"
