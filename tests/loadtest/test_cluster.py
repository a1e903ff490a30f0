"""What the parent reads of a cluster from /proc, and the cluster sizes of a run (pure)."""

from __future__ import annotations

import json

import pytest

from loadtest.cli import build_parser, params_from
from loadtest.cluster import APP, established, open_file_limit, parse_child, stat_seconds
from loadtest.idle import SideMemory, idle_sides, process_table, stopped_by
from loadtest.params import resolve
from loadtest.traffic import cluster_label, traffic_sides

# /proc/net/tcp: a listening socket on 127.0.0.1:8000 (0x1F40), two established
# server-side ends, one in CLOSE_WAIT (08), and a client end whose remote is the port.
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:1F40 0200007F:9C41 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:1F40 0300007F:9C42 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:1F40 0300007F:9C43 08 00000000:00000000 00:00000000 00000000     0        0 4 1
   4: 0200007F:9C41 0100007F:1F40 01 00000000:00000000 00:00000000 00000000     0        0 5 1
   5: 0300007F:1F40 0100007F:9C44 01 00000000:00000000 00:00000000 00000000     0        0 6 1
"""


def test_established_counts_the_server_ends_on_the_port_only() -> None:
    lines = TCP.splitlines()
    assert established(lines, 8000) == 2
    assert established(lines, 8001) == 0
    # A client bound to 127.0.0.3 may be given the server's port number as its own.
    assert established(lines, 8000, "0300007F") == 1


def test_parse_child_reads_role_index_and_generation() -> None:
    config = {"index": 1, "generation": 3, "workers": 2}
    argv = [b"/venv/bin/python", b"-m", b"hub.cluster", b"worker", json.dumps(config).encode()]
    child = parse_child(42, [*argv, b""])
    assert child is not None
    assert (child.pid, child.role, child.index, child.generation) == (42, "worker", 1, 3)
    assert parse_child(7, [b"python", b"-m", b"loadtest", b""]) is None


def test_stat_seconds_counts_reaped_children() -> None:
    # pid (comm with ) and spaces) state ppid ... utime=14th field, stime, cutime, cstime
    fields = ["S", "1"] + ["0"] * 9 + ["250", "100", "50", "25"] + ["0"] * 30
    text = "123 (python -m x) y) " + " ".join(fields)
    from loadtest import cluster

    tick = cluster._CLOCK_TICKS
    assert stat_seconds(text) == (300 / tick, 125 / tick)
    assert stat_seconds(text, reaped=False) == (250 / tick, 100 / tick)


def test_open_file_limit() -> None:
    limits = (
        "Limit                     Soft Limit           Hard Limit           Units\n"
        "Max processes             95000                95000                processes\n"
        "Max open files            20000                20000                files\n"
    )
    assert open_file_limit(limits) == 20000
    assert open_file_limit(limits.replace("20000   ", "unlimited", 1)) == -1


def test_the_app_file_changes_with_its_version() -> None:
    assert APP.format(version=1) != APP.format(version=2)
    compile(APP.format(version=7), "app.py", "exec")


def test_cluster_options_and_sides() -> None:
    args = build_parser().parse_args(["chat", "--workers", "2", "--gateways", "2", "--rate", "40"])
    params = params_from(args)
    assert (params.workers, params.gateways, params.gateway_count) == (2, 2, 2)
    assert traffic_sides(params) == ("cluster", "roost")
    assert cluster_label(params) == "chat-cluster-2x2"
    one = resolve("echo", {"workers": 1})
    assert cluster_label(one) == "echo-cluster"
    assert one.gateway_count == 1
    assert traffic_sides(resolve("echo", {})) == ("roost", "baseline")
    assert idle_sides(resolve("idle", {"workers": 1, "gateways": 6})) == ("cluster", "baseline")
    assert idle_sides(resolve("idle", {})) == ("roost", "baseline")


@pytest.mark.parametrize(
    "given",
    [
        {"scenario": "echo", "gateways": 2},  # gateways need workers
        {"scenario": "wake", "workers": 1},  # no cluster for wake
        {"scenario": "feeds", "workers": 2},
        {"scenario": "reload", "workers": 0},  # reload is about a cluster
    ],
)
def test_cluster_sizes_that_cannot_run_are_refused(given: dict[str, object]) -> None:
    scenario = str(given.pop("scenario"))
    with pytest.raises(ValueError):
        resolve(scenario, given)


def _memory(opened: int, processes: dict[str, dict[str, dict[str, int]]]) -> SideMemory:
    return SideMemory(
        side="cluster",
        asked=100_000,
        opened=opened,
        before_kib=0,
        live_kib=0,
        after_kib=0,
        open_seconds=1.0,
        idle_cpu_seconds=0.0,
        hold_seconds=1.0,
        errors={"ConnectionError": 3},
        connect_p50_ms=1.0,
        connect_p99_ms=1.0,
        processes=processes,
    )


def test_what_stopped_the_sockets_short_of_the_count() -> None:
    full = {"rss_kib": 9, "open_files": 19_990, "fd_limit": 20_000}
    roomy = {"rss_kib": 9, "open_files": 12_000, "fd_limit": 20_000}
    after = {"after": {"gateway 0": full, "gateway 1": roomy}}
    assert "open-file limit of gateway 0;" in stopped_by(_memory(60_000, after), {})
    assert "no process at its open-file limit" in stopped_by(
        _memory(60_000, {"after": {"gateway 0": roomy}}), {}
    )
    assert "one process" in stopped_by(_memory(19_000, {}), {"hard": 20_000})
    assert stopped_by(_memory(100_000, after), {}) == ""


def test_process_table_says_what_each_process_grew() -> None:
    before = {"gateway 0": {"rss_kib": 100, "open_files": 10, "fd_limit": 20_000}}
    after = {"gateway 0": {"rss_kib": 1_100, "open_files": 5_010, "fd_limit": 20_000}}
    text = process_table({"before": before, "after": after})
    assert text == "gateway 0 +1,000 KiB RSS (1,100 KiB), 5,010 of 20,000 open files"
