"""A subscription's state machine, fed decoded hub frames (SPEC §9.3-§9.9): the request
for each socket, the held snapshot, no duplicate, resets. No event loop, no socket."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from roost_client import Change, wire
from roost_client.feed import Feed
from roost_client.where import where_conditions

import protocol


def _hub(**members: Any) -> Any:
    """A hub frame through the client's own decoder, as the link would read it."""
    return wire.decode(orjson.dumps(members))


def _sent(text: str) -> dict[str, Any]:
    frame: dict[str, Any] = orjson.loads(text)
    return frame


def _snapshot(id: int, seq: int, *rows: dict[str, Any]) -> Any:
    return _hub(t="snapshot", id=id, seq=seq, rows=list(rows))


def _changes(id: int, *items: tuple[int, str, dict[str, Any]]) -> Any:
    return _hub(
        t="changes", id=id, changes=[{"seq": s, "op": op, "row": row} for s, op, row in items]
    )


def _subscribed(id: int, seq: int) -> Any:
    return _hub(t="subscribed", id=id, seq=seq)


def _seq(feed: Feed) -> int | None:
    return feed.seq


def _row(n: int, title: str = "") -> dict[str, Any]:
    return {"id": n, "title": title or f"t{n}", "done": 0}


# -- requests --------------------------------------------------------------------------


def test_the_first_request_is_what_was_asked_for() -> None:
    assert _sent(Feed("todos").subscribe(7)) == {"t": "sub", "id": 7, "table": "todos"}
    assert _sent(Feed("todos", snapshot=True).subscribe(7)) == {
        "t": "sub",
        "id": 7,
        "table": "todos",
        "snapshot": True,
    }
    assert _sent(Feed("todos", since=42).subscribe(7))["since"] == 42
    filtered = Feed("todos", where=[["done", "eq", False]], columns=["title"], snapshot=True)
    assert _sent(filtered.subscribe(5)) == {
        "t": "sub",
        "id": 5,
        "table": "todos",
        "where": [["done", "eq", False]],
        "columns": ["title"],
        "snapshot": True,
    }


def test_the_requests_match_the_shared_vectors() -> None:
    feed = Feed(
        "todos",
        where=where_conditions([("done", "eq", False), ("title", "like", "a%")]),
        columns=("title",),
        snapshot=True,
    )
    assert feed.subscribe(5) == (
        '{"t":"sub","id":5,"table":"todos","where":[["done","eq",false],'
        '["title","like","a%"]],"columns":["title"],"snapshot":true}'
    )
    assert Feed("todos", since=42).subscribe(5) == '{"t":"sub","id":5,"table":"todos","since":42}'


def test_snapshot_and_since_together_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="snapshot or since, not both"):
        Feed("todos", snapshot=True, since=3)


@pytest.mark.parametrize("since", [-1, 2**53, 1.0, True, "3"])
def test_since_must_be_a_wire_integer(since: Any) -> None:
    with pytest.raises(ValueError, match="since must be an int"):
        Feed("todos", since=since)


@pytest.mark.parametrize("columns", ["title", ["title", 3]])
def test_columns_must_be_a_list_of_names(columns: Any) -> None:
    with pytest.raises(ValueError, match="columns must be a list"):
        Feed("todos", columns=columns)


def test_the_table_must_be_a_non_empty_string() -> None:
    with pytest.raises(ValueError, match="table must be a non-empty str"):
        Feed("")


# -- the snapshot --------------------------------------------------------------------


def test_snapshot_rows_wait_for_subscribed_then_come_out_with_the_snapshots_seq() -> None:
    feed = Feed("todos", snapshot=True)
    feed.subscribe(9)
    assert feed.receive(_snapshot(9, 41, _row(1), _row(2))) == []
    assert feed.receive(_snapshot(9, 41, _row(3))) == []
    assert feed.live is False and _seq(feed) is None  # a snapshot counts once complete
    assert feed.receive(_subscribed(9, 41)) == [
        Change(41, "snapshot", _row(1)),
        Change(41, "snapshot", _row(2)),
        Change(41, "snapshot", _row(3)),
    ]
    assert (feed.seq, feed.live) == (41, True)
    assert feed.receive(_changes(9, (42, "insert", _row(4)))) == [Change(42, "insert", _row(4))]
    assert feed.seq == 42


def test_an_empty_snapshot_gives_no_rows_and_the_seq_of_subscribed() -> None:
    feed = Feed("todos", snapshot=True)
    feed.subscribe(9)
    assert feed.receive(_snapshot(9, 0)) == []
    assert feed.receive(_subscribed(9, 0)) == []
    assert feed.seq == 0
    assert _sent(feed.subscribe(10))["since"] == 0


def test_changes_before_subscribed_are_held_behind_the_snapshot_and_deduplicated() -> None:
    feed = Feed("todos", snapshot=True)
    feed.subscribe(9)
    feed.receive(_snapshot(9, 5, _row(1)))
    feed.receive(_changes(9, (5, "update", _row(1, "old")), (6, "insert", _row(2))))
    assert feed.receive(_subscribed(9, 6)) == [
        Change(5, "snapshot", _row(1)),
        Change(6, "insert", _row(2)),
    ]
    assert feed.seq == 6


def test_a_snapshot_cut_off_by_the_socket_is_asked_for_again_whole() -> None:
    feed = Feed("todos", snapshot=True)
    feed.subscribe(9)
    feed.receive(_snapshot(9, 41, _row(1), _row(2)))
    feed.lost()
    assert feed.id is None
    request = _sent(feed.subscribe(8))
    assert (request["id"], request.get("snapshot"), "since" in request) == (8, True, False)
    feed.receive(_snapshot(8, 43, _row(1), _row(2), _row(3)))
    assert feed.receive(_subscribed(8, 43)) == [Change(43, "snapshot", _row(n)) for n in (1, 2, 3)]


# -- resuming ------------------------------------------------------------------------


def test_after_a_reconnect_it_resumes_after_the_highest_seq_and_drops_repeats() -> None:
    feed = Feed("todos", snapshot=True)
    feed.subscribe(9)
    feed.receive(_snapshot(9, 3, _row(1)))
    feed.receive(_subscribed(9, 3))
    feed.receive(_changes(9, (4, "insert", _row(2)), (6, "update", _row(2, "x"))))
    feed.lost()
    assert _sent(feed.subscribe(8)) == {"t": "sub", "id": 8, "table": "todos", "since": 6}
    # A replay that overlaps what was delivered: only the new changes come out.
    replay = _changes(
        8, (4, "insert", _row(2)), (6, "update", _row(2, "x")), (7, "delete", _row(1))
    )
    assert feed.receive(replay) == [Change(7, "delete", _row(1))]
    assert feed.receive(_subscribed(8, 7)) == []
    assert feed.receive(_changes(8, (7, "delete", _row(1)), (8, "insert", _row(3)))) == [
        Change(8, "insert", _row(3))
    ]
    assert feed.seq == 8


def test_subscribed_advances_seq_so_a_live_only_feed_resumes_without_a_gap() -> None:
    feed = Feed("todos")
    feed.subscribe(9)
    assert feed.receive(_subscribed(9, 20)) == []
    assert feed.seq == 20
    feed.lost()
    assert _sent(feed.subscribe(8))["since"] == 20


def test_before_any_seq_a_new_socket_repeats_the_original_request() -> None:
    live = Feed("todos")
    live.subscribe(9)
    live.lost()
    assert _sent(live.subscribe(8)) == {"t": "sub", "id": 8, "table": "todos"}
    resumed = Feed("todos", since=42)
    resumed.subscribe(9)
    resumed.lost()
    assert _sent(resumed.subscribe(8))["since"] == 42


def test_frames_for_another_request_are_ignored() -> None:
    feed = Feed("todos")
    feed.subscribe(9)
    feed.receive(_subscribed(9, 1))
    feed.lost()
    feed.subscribe(8)
    assert feed.receive(_changes(9, (5, "insert", _row(1)))) == []
    assert feed.receive(_hub(t="reset", id=9)) == []
    assert feed.seq == 1


# -- reset ---------------------------------------------------------------------------


def test_a_reset_gives_one_reset_change_then_asks_for_a_snapshot() -> None:
    feed = Feed("todos", since=3)
    feed.subscribe(9)
    feed.receive(_changes(9, (10, "insert", _row(1))))
    assert feed.receive(_hub(t="reset", id=9)) == [Change(10, "reset", None)]
    assert feed.id is None
    assert _sent(feed.subscribe(8)) == {"t": "sub", "id": 8, "table": "todos", "snapshot": True}
    feed.receive(_snapshot(8, 50, _row(1)))
    assert feed.receive(_subscribed(8, 50)) == [Change(50, "snapshot", _row(1))]
    feed.lost()
    assert _sent(feed.subscribe(7))["since"] == 50  # the snapshot is owed no more


def test_a_reset_before_any_change_reports_the_since_it_asked_for() -> None:
    feed = Feed("todos", since=3)
    feed.subscribe(9)
    assert feed.receive(_hub(t="reset", id=9)) == [Change(3, "reset", None)]
    live = Feed("todos")
    live.subscribe(9)
    assert live.receive(_hub(t="reset", id=9)) == [Change(0, "reset", None)]


def test_a_snapshot_owed_after_a_reset_is_asked_again_if_the_socket_drops() -> None:
    feed = Feed("todos", since=3)
    feed.subscribe(9)
    feed.receive(_subscribed(9, 10))
    feed.receive(_hub(t="reset", id=9))
    feed.subscribe(8)
    feed.receive(_snapshot(8, 12, _row(1)))
    feed.lost()
    assert _sent(feed.subscribe(7))["snapshot"] is True


def test_the_snapshot_after_a_reset_is_a_new_base_even_below_the_old_seq() -> None:
    # The object's storage was wiped: its seq starts again from 0 (SPEC §9.6).
    feed = Feed("todos", snapshot=True)
    feed.subscribe(9)
    feed.receive(_subscribed(9, 100))
    feed.receive(_hub(t="reset", id=9))
    feed.subscribe(8)
    feed.receive(_snapshot(8, 2, _row(1)))
    assert feed.receive(_subscribed(8, 2)) == [Change(2, "snapshot", _row(1))]
    assert feed.seq == 2
    assert feed.receive(_changes(8, (3, "insert", _row(2)))) == [Change(3, "insert", _row(2))]


def test_every_change_op_of_the_vectors_is_delivered_as_it_came() -> None:
    feed = Feed("todos")
    feed.subscribe(5)
    frame = protocol.Changes(
        id=5,
        changes=[
            protocol.ChangeItem(seq=1, op="insert", row=_row(1)),
            protocol.ChangeItem(seq=2, op="update", row=_row(1, "b")),
            protocol.ChangeItem(seq=3, op="delete", row=_row(1, "b")),
        ],
    )
    assert [(c.seq, c.op, c.row) for c in feed.receive(frame)] == [
        (1, "insert", _row(1)),
        (2, "update", _row(1, "b")),
        (3, "delete", _row(1, "b")),
    ]
