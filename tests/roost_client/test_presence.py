"""Presence diffing, fed decoded hub frames (SPEC §10): the member list in join order,
one consistent stream of join / update / leave, a fresh list applied as its difference.
No event loop, no socket."""

from __future__ import annotations

from typing import Any

import orjson
from roost_client import PresenceEvent, wire
from roost_client.presence import Members


def _hub(**members: Any) -> Any:
    return wire.decode(orjson.dumps(members))


def _list(*members: tuple[int, Any]) -> Any:
    return _hub(t="presence", members=[{"socket": s, "state": v} for s, v in members])


def test_the_first_list_is_a_join_per_member_in_join_order() -> None:
    members = Members()
    assert not members.listed
    events = members.receive(_list((7, {"name": "ada"}), (3, "bob")))
    assert events == [PresenceEvent("join", 7, {"name": "ada"}), PresenceEvent("join", 3, "bob")]
    assert members.listed
    assert list(members.snapshot().items()) == [(7, {"name": "ada"}), (3, "bob")]


def test_join_update_and_leave_frames_change_the_list_and_keep_places() -> None:
    members = Members()
    members.receive(_list((1, "a"), (2, "b")))
    assert members.receive(_hub(t="join", socket=3, state="c")) == [PresenceEvent("join", 3, "c")]
    assert members.receive(_hub(t="update", socket=1, state="a2")) == [
        PresenceEvent("update", 1, "a2")
    ]
    assert list(members.snapshot()) == [1, 2, 3]  # an update keeps its place
    assert members.receive(_hub(t="leave", socket=2)) == [PresenceEvent("leave", 2, "b")]
    assert members.snapshot() == {1: "a2", 3: "c"}


def test_frames_are_made_consistent_with_the_members_known() -> None:
    members = Members()
    members.receive(_list((1, "a")))
    assert members.receive(_hub(t="join", socket=1, state="a")) == []
    assert members.receive(_hub(t="join", socket=1, state="b")) == [PresenceEvent("update", 1, "b")]
    assert members.receive(_hub(t="update", socket=2, state="x")) == [PresenceEvent("join", 2, "x")]
    assert members.receive(_hub(t="update", socket=2, state="x")) == []
    assert members.receive(_hub(t="leave", socket=9)) == []
    assert members.snapshot() == {1: "b", 2: "x"}


def test_a_fresh_list_after_a_reconnect_is_applied_as_its_difference() -> None:
    members = Members()
    members.receive(_list((1, "a"), (2, "b"), (3, "c"), (4, "me")))
    # While the socket was down: 2 left, 3 changed state, 5 joined; 4 (our old socket)
    # is gone and 6 is our new one.
    events = members.receive(_list((1, "a"), (3, "c2"), (5, "e"), (6, "me")))
    assert events == [
        PresenceEvent("leave", 2, "b"),
        PresenceEvent("leave", 4, "me"),
        PresenceEvent("update", 3, "c2"),
        PresenceEvent("join", 5, "e"),
        PresenceEvent("join", 6, "me"),
    ]
    assert list(members.snapshot().items()) == [(1, "a"), (3, "c2"), (5, "e"), (6, "me")]


def test_an_unchanged_list_makes_no_event_and_an_empty_one_makes_everyone_leave() -> None:
    members = Members()
    members.receive(_list((1, [1, 2]), (2, {"typing": False})))
    assert members.receive(_list((1, [1, 2]), (2, {"typing": False}))) == []
    assert members.receive(_list()) == [
        PresenceEvent("leave", 1, [1, 2]),
        PresenceEvent("leave", 2, {"typing": False}),
    ]
    assert members.snapshot() == {}


def test_the_snapshot_is_a_copy() -> None:
    members = Members()
    members.receive(_list((1, "a")))
    members.snapshot()[2] = "x"
    assert members.snapshot() == {1: "a"}


def test_states_compare_as_json_values_so_true_is_not_one() -> None:
    members = Members()
    members.receive(_list((1, {"n": 1, "on": True}), (2, [1, 2])))
    assert members.receive(_list((1, {"on": True, "n": 1.0}), (2, [1, True]))) == [
        PresenceEvent("update", 2, [1, True])
    ]
    assert members.receive(_hub(t="update", socket=1, state={"n": True, "on": True})) == [
        PresenceEvent("update", 1, {"n": True, "on": True})
    ]
