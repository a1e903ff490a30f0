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


@pytest.mark.parametrize("compare", [0, 100, 150])
def test_fanout_scale_compares_a_smaller_room(compare: int) -> None:
    with pytest.raises(ValueError, match="compare must be from 1 to connections - 1"):
        resolve("fanout-scale", {"connections": 100, "compare": compare})


def test_fanout_scale_defaults_hold_ten_thousand_receivers() -> None:
    args = build_parser().parse_args(["fanout-scale", "--compare", "500"])
    params = params_from(args)
    assert (params.connections, params.compare) == (10_000, 500)
    assert params.procs * 20_000 > params.connections + params.compare  # open-file limit


def test_unknown_scenario() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        resolve("teleport", {})


def test_storage_options_and_defaults() -> None:
    args = build_parser().parse_args(
        ["storage", "--rounds", "3", "--rows", "50", "--wake-warmup", "0", "--json", "s.json"]
    )
    params = params_from(args)
    assert params.scenario == "storage"
    assert (params.rounds, params.table_rows, params.wake_warmup) == (3, 50, 0)
    assert params.points == 20_000 and params.inserts == 5_000 and params.wake_samples == 300
    assert resolve("storage", {}).rounds == 15
    smoke = resolve("storage", {}, smoke=True)
    assert smoke.points < 20_000 and smoke.rounds < 15


def test_sdk_options_keep_their_names() -> None:
    args = build_parser().parse_args(
        ["sdk", "--clients", "4", "--objects", "2", "--seconds", "0.5", "--batch", "10"]
    )
    params = params_from(args)
    assert (params.connections, params.rooms, params.seconds, params.batch) == (4, 2, 0.5, 10)
    assert params.rounds == 5 and not params.smoke
    quick = params_from(build_parser().parse_args(["sdk", "--quick"]))
    assert quick.smoke and quick.seconds == 0.6 and quick.rounds == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["sdk", "--seconds", "30"],  # a window is at most 20 s
        ["sdk", "--connections", "5"],  # the sdk's option is --clients
        ["storage", "--rows", "0"],
        ["storage", "--workers", "1"],
    ],
)
def test_bad_storage_and_sdk_command_lines_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"connections": 2, "rooms": 3}, "objects must be at most clients"),
        ({"batch": 1001}, "batch must be at most 1000"),
    ],
)
def test_impossible_sdk_sizes_are_refused(given: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve("sdk", given)
