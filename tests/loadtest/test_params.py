"""Argument parsing and the sizes of a run (pure)."""

from __future__ import annotations

import pytest

from loadtest.cli import build_parser, params_from
from loadtest.params import DEFAULTS, SCENARIOS, SMOKE, resolve


def test_every_scenario_has_defaults_and_smoke_sizes() -> None:
    assert set(DEFAULTS) == set(SCENARIOS) == set(SMOKE)
    for scenario in SCENARIOS:
        assert resolve(scenario, {}).scenario == scenario
        assert resolve(scenario, {}, smoke=True).duration == 10.0


def test_the_issue_command_line() -> None:
    args = build_parser().parse_args(["fanout", "--duration", "30", "--json", "out.json"])
    params = params_from(args)
    assert params.scenario == "fanout"
    assert params.duration == 30.0
    assert params.connections == DEFAULTS["fanout"]["connections"]
    assert str(args.json) == "out.json"


def test_given_values_beat_smoke_sizes_beat_defaults() -> None:
    args = build_parser().parse_args(["chat", "--smoke", "--rooms", "7", "--rate", "50"])
    params = params_from(args)
    assert params.smoke
    assert params.rooms == 7
    assert params.rate == 50.0
    assert params.connections == SMOKE["chat"]["connections"]
    assert params.writers == DEFAULTS["chat"]["writers"]


def test_duration_is_shared_by_both_sides_and_the_rounds() -> None:
    params = resolve("echo", {"duration": 20, "rounds": 2})
    assert params.window_seconds == 5.0
    assert 0 < params.warmup_seconds < params.window_seconds


def test_source_addresses() -> None:
    assert resolve("idle", {}).source_addresses() == []
    assert resolve("idle", {"sources": 3}).source_addresses() == [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["echo", "--connections", "0"],
        ["echo", "--duration", "-1"],
        ["nope"],
        ["fanout", "--rate", "-5"],
    ],
)
def test_bad_command_lines_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)


@pytest.mark.parametrize(
    "given",
    [{"rooms": 20, "connections": 10}, {"size": 8}, {"sources": 300}, {"bogus": 1}],
)
def test_impossible_sizes_are_refused(given: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        resolve("echo", given)


def test_unknown_scenario() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        resolve("teleport", {})
