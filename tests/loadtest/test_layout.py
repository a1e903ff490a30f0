"""Who connects where, and how lost messages are counted (pure)."""

from __future__ import annotations

from collections import Counter

from loadtest.frames import STAMP, stamped
from loadtest.params import resolve
from loadtest.rig import deal
from loadtest.traffic import layout, lost


def test_fanout_is_one_room_with_its_publisher_last() -> None:
    members, writers = layout(resolve("fanout", {"connections": 100}))
    assert len(members) == 100
    assert {room for _, _, room in members} == {0}
    assert [role for _, role, _ in writers] == ["writer"]


def test_chat_spreads_members_and_writers_over_rooms() -> None:
    members, writers = layout(resolve("chat", {"connections": 100, "rooms": 10, "writers": 2}))
    assert Counter(room for _, _, room in members) == Counter({k: 10 for k in range(10)})
    assert Counter(room for _, _, room in writers) == Counter({k: 2 for k in range(10)})


def test_echo_and_rpc_write_on_every_connection() -> None:
    members, writers = layout(resolve("echo", {"connections": 12, "rooms": 4}))
    assert members == []
    assert len({path for path, _, _ in writers}) == 4
    assert len({room for _, _, room in writers}) == 12  # each its own stream
    _, callers = layout(resolve("rpc", {"connections": 3, "rooms": 1}))
    assert {role for _, role, _ in callers} == {"caller"}


def test_lost_counts_sent_times_members_minus_received() -> None:
    members = Counter({0: 3, 1: 2})
    sent = Counter({0: 10, 1: 5})
    assert lost(sent, Counter({0: 30, 1: 10}), members) == 0
    assert lost(sent, Counter({0: 28, 1: 9}), members) == 3


def test_stamped_payload_carries_time_and_writer() -> None:
    payload = stamped(42, 64, 1234.5)
    assert len(payload) == 64
    assert float(payload[:STAMP]) == 1234.5
    assert payload[STAMP + 1 : STAMP + 9] == b"00000042"


def test_deal_round_robin() -> None:
    assert deal([1, 2, 3, 4, 5], 2) == [[1, 3, 5], [2, 4]]
