"""The connect scenario and idle's attachment option: sizes, what the servers are asked
for, and how a run's readings become rows and verdicts (pure, except the last test,
which runs the scenario at a tiny size against real server and client processes)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from loadtest.cli import build_parser, main, params_from
from loadtest.connect import TARGET_US, SideConnects, summarize
from loadtest.idle import ATTACHMENT_GOALS, GOALS, SideMemory
from loadtest.idle import summarize as summarize_idle
from loadtest.params import resolve
from loadtest.servers import attachment_size, attachment_value


def test_connect_sizes_from_the_command_line() -> None:
    params = params_from(build_parser().parse_args(["connect", "--connections", "300"]))
    assert (params.scenario, params.connections, params.rounds) == ("connect", 300, 4)
    assert resolve("connect", {}, smoke=True).connections == 200


@pytest.mark.parametrize("size", [16, 64, 200, 16384])
def test_an_attachment_value_encodes_to_exactly_its_size(size: int) -> None:
    for socket_id in (1, 123_456, 10**12):
        assert len(orjson.dumps(attachment_value(size, socket_id))) == size


def test_the_attachment_size_comes_from_the_query() -> None:
    assert attachment_size("/objects/room/bench-0?attachment=64") == 64
    assert attachment_size("http://h/objects/room/bench-0?x=1&attachment=16") == 16
    assert attachment_size("/objects/room/bench-0") == 0
    assert attachment_size("/objects/room/bench-0?attachment=x") == 0


def test_idle_refuses_an_attachment_it_cannot_build() -> None:
    assert resolve("idle", {"attachment": 64}).attachment == 64
    assert resolve("idle", {"attachment": 0}).attachment == 0
    with pytest.raises(ValueError, match="attachment must be 0 or from 16"):
        resolve("idle", {"attachment": 8})


def _tally(side: str, upgrades: int, user: float, system: float) -> SideConnects:
    tally = SideConnects(side, upgrades=upgrades, open_user=user, open_sys=system)
    tally.close_user, tally.open_seconds = 0.1, 2.0
    return tally


def test_connect_reports_cpu_per_upgrade_against_its_target() -> None:
    params = resolve("connect", {})
    roost = _tally("roost", 2000, 0.36, 0.04)  # 200 µs an upgrade
    base = _tally("baseline", 2000, 0.6, 0.1)  # 350 µs
    outcome = summarize(params, roost, base)
    assert outcome.roost.figure == pytest.approx(200.0)
    assert outcome.baseline.figure == pytest.approx(350.0)
    assert outcome.ratio == pytest.approx(1.75)  # lower is better: baseline / Roost
    assert outcome.met() == [True]
    first = outcome.rows[0]
    assert first.unit == "µs" and first.met is True and first.roost == pytest.approx(200.0)
    assert [row.name for row in outcome.rows][1:4] == [
        "server user CPU per upgrade (info)",
        "server system CPU per upgrade (info)",
        "server CPU per close (info)",
    ]
    slow = summarize(params, _tally("roost", 2000, 0.5, 0.05), base)  # 275 µs
    assert slow.met() == [False] and slow.rows[0].met is False
    assert f"≤ {TARGET_US:g} µs per upgrade" in outcome.summary()


def test_connect_counts_what_did_not_open_or_close_as_errors() -> None:
    roost, base = _tally("roost", 1990, 0.4, 0.0), _tally("baseline", 2000, 0.4, 0.0)
    roost.errors.update({"connect_timeout": 10, "not_closed": 2})
    outcome = summarize(resolve("connect", {}), roost, base)
    assert outcome.errors == {"roost:connect_timeout": 10, "roost:not_closed": 2}


def _memory(side: str, after_kib: int) -> SideMemory:
    return SideMemory(
        side=side,
        asked=1000,
        opened=1000,
        before_kib=0,
        live_kib=after_kib,
        after_kib=after_kib,
        open_seconds=1.0,
        idle_cpu_seconds=0.0,
        hold_seconds=1.0,
        errors={},
        connect_p50_ms=1.0,
        connect_p99_ms=1.0,
    )


def test_idle_with_an_attachment_has_its_own_label_and_target() -> None:
    sides = {"roost": _memory("roost", 7500), "baseline": _memory("baseline", 13_000)}
    plain = summarize_idle(resolve("idle", {"connections": 1000}), sides)
    assert plain.label == "idle" and plain.goals == GOALS and plain.met() == [True, True]
    attached = summarize_idle(resolve("idle", {"connections": 1000, "attachment": 64}), sides)
    assert attached.label == "idle-attachment" and attached.goals == ATTACHMENT_GOALS
    assert attached.met() == [False]  # 7.5 KiB a socket, over 7
    assert "a 64-byte attachment each" in attached.rows[0].name
    assert "each with a 64-byte attachment" in attached.sizes


def test_connect_runs_end_to_end(tmp_path: Path) -> None:
    document = tmp_path / "connect.json"
    assert main(["connect", "--smoke", "--rooms", "2", "--json", str(document)]) == 0
    report = json.loads(document.read_text(encoding="utf-8"))
    assert report["errors"] == {}
    assert report["roost"]["upgrades"] == 200 and report["baseline"]["upgrades"] == 200
    # 200 upgrades take tens of ms of CPU a side: several of /proc's 10 ms ticks.
    assert report["roost"]["figure"] > 0 and report["baseline"]["figure"] > 0
    assert report["targets"][0]["text"] == "≤ 250 µs per upgrade"
