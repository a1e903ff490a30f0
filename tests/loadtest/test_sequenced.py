"""Numbered messages, the count of what was lost or repeated, and reload windows (pure)."""

from __future__ import annotations

from array import array
from typing import Any

import pytest

from loadtest.frames import stamped
from loadtest.params import resolve
from loadtest.reload import in_window, reload_label, split_samples
from loadtest.sequenced import SEQ_AT, ranges, read_payload, sequenced, tally


def test_a_payload_carries_time_writer_and_id() -> None:
    payload = sequenced(stamped(1_000_007, 64, 1234.5), 42)
    assert len(payload) == 64
    assert read_payload(payload, 0) == (1234.5, 1_000_007, 42)
    framed = b'{"t":"msg","data":"' + payload + b'"}'
    assert read_payload(framed, 19) == (1234.5, 1_000_007, 42)
    assert payload[SEQ_AT + 8 :] == b"x" * (64 - SEQ_AT - 8)
    with pytest.raises(ValueError):
        read_payload(b'{"t":"ack","id":3}' + b" " * 40, 0)


def test_ranges_of_seen_ids() -> None:
    assert ranges(bytearray()) == []
    assert ranges(bytearray([0, 1, 1, 0, 2, 0, 0, 1])) == [(1, 3), (4, 5), (7, 8)]
    assert ranges([0, 1, 1, 1]) == [(1, 4)]


def _member(room: int, number: int, seen: dict[int, list[tuple[int, int]]], dups: int = 0) -> Any:
    return {"room": room, "number": number, "seen": seen, "duplicates": dups}


def _writer(
    room: int, number: int, sent: int, acked: list[tuple[int, int]], **seen: Any
) -> dict[str, Any]:
    return {
        **_member(room, number, seen.get("seen", {}), seen.get("dups", 0)),
        "writer": {"sent": sent, "acked": acked, "duplicate_acks": seen.get("dup_acks", 0)},
    }


def test_tally_of_a_clean_run() -> None:
    # Room 0: writer 100 sent ids 1..5, all acknowledged; it and two members saw all.
    everything = {100: [(1, 6)]}
    reports = [
        _writer(0, 100, 5, [(1, 6)], seen=everything),
        _member(0, 1, everything),
        _member(0, 2, everything),
        _member(1, 3, {}),  # another room: nothing expected
    ]
    counts = tally(reports)
    assert (counts.sent, counts.acknowledged, counts.unacknowledged) == (5, 5, 0)
    assert (counts.lost, counts.duplicated) == (0, 0)
    assert counts.delivered == 15
    assert counts.sockets == 4


def test_tally_counts_lost_duplicated_and_unacknowledged() -> None:
    reports = [
        # Sent 1..6, id 6 never acknowledged, id 2 acknowledged twice.
        _writer(0, 100, 6, [(1, 6)], seen={100: [(1, 7)]}, dup_acks=1),
        _member(0, 1, {100: [(1, 3), (4, 6)]}),  # missed id 3: lost
        _member(0, 2, {100: [(1, 6)]}, dups=2),  # two copies twice
        _member(0, 3, {}),  # got nothing: 5 lost
    ]
    counts = tally(reports)
    assert counts.unacknowledged == 1
    assert counts.lost == 1 + 5
    assert counts.duplicated == 1 + 2
    # Id 6 was not acknowledged: a socket that lacks it has lost nothing the hub promised.
    assert counts.acknowledged == 5


def test_reload_windows() -> None:
    windows = [(10.0, 11.0), (13.0, 13.5)]
    assert in_window(10.0, windows) and in_window(10.5, windows) and in_window(11.0, windows)
    assert not in_window(9.9, windows) and not in_window(12.0, windows)
    assert in_window(13.2, windows) and not in_window(14.0, windows)
    assert not in_window(5.0, [])


def test_samples_split_by_send_time() -> None:
    pairs = array("d", [9.0, 0.001, 10.5, 0.050, 12.0, 0.002, 13.1, 0.100])
    windows = [(10.0, 11.0), (13.0, 13.5)]
    hand_overs = [(10.8, 11.0), (13.05, 13.5)]
    during, within, outside = split_samples([pairs.tobytes(), b""], windows, hand_overs)
    assert during.total == 2 and outside.total == 2
    assert during.max == pytest.approx(0.100)
    assert outside.max == pytest.approx(0.002)
    assert within.total == 1 and within.max == pytest.approx(0.100)  # sent at 13.1 only


def test_reload_sections_are_named_by_their_cluster() -> None:
    assert reload_label(resolve("reload", {})) == "reload"
    assert reload_label(resolve("reload", {"gateways": 2})) == "reload-2g"
    assert reload_label(resolve("reload", {"gateways": 2, "workers": 4})) == "reload-2g-4w"
