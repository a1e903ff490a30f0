"""The headline of a message scenario run against a cluster (pure: synthetic windows)."""

from __future__ import annotations

from collections import Counter

from loadtest.params import resolve
from loadtest.results import Outcome
from loadtest.rig import Connected, Window
from loadtest.stats import Histogram
from loadtest.traffic import layout, offered, summarize


def _window(side: str, cpu: float, delivered: int) -> Window:
    return Window(
        side=side,
        round=1,
        wall=5.0,
        warmup=1.0,
        delivered=delivered,
        received=Counter({0: delivered}),
        sent=Counter({0: delivered}),
        errors=Counter(),
        latency=Histogram.of([0.002]),
        series=[delivered // 50] * 50,
        server_user=cpu * 0.75,
        server_sys=cpu * 0.25,
        client_cpu=[1.0],
        others=0.5,
        rss_max_kib=1024,
        elapsed=6.0,
    )


def _run(given: dict[str, object]) -> Outcome:
    params = resolve("echo", {"connections": 1, "rooms": 1, **given})
    windows = [_window("cluster", 2.4, 100_000), _window("roost", 2.0, 100_000)]
    connected = {"cluster": Connected(opened=1), "roost": Connected(opened=1)}
    return summarize(params, windows, connected, Counter({0: 1}))


def test_one_worker_is_judged_on_cpu_per_delivery() -> None:
    outcome = _run({"workers": 1})
    assert outcome.label == "echo-cluster"
    assert outcome.roost.unit == "µs CPU/msg"
    assert outcome.roost.figure == 24.0
    assert outcome.baseline.figure == 20.0
    assert outcome.met() == [True]  # 1.2x <= 1.3x
    assert outcome.rows[0].ratio == 1.2


def test_more_workers_are_judged_on_deliveries_with_the_offered_load() -> None:
    outcome = _run({"workers": 2, "gateways": 2, "rate": 300, "window": 4})
    assert outcome.label == "echo-cluster-2x2"
    assert outcome.roost.unit == "msg/s"
    assert outcome.goals == ()
    assert any(n.startswith("Paced: 300 deliveries/s") for n in outcome.notes)


def test_offered_load_counts_every_socket_of_the_room() -> None:
    params = resolve("chat", {"connections": 100, "rooms": 10, "writers": 2, "rate": 40})
    members, writers = layout(params)
    per_room = Counter(room for _, _, room in [*members, *writers])
    assert offered(params, per_room) == 40 * 20 * 12  # 20 writers, 12 sockets a room
    assert offered(resolve("chat", {"connections": 100, "rooms": 10}), per_room) == 0
