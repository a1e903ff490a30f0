"""Subscriptions and presence on a connection, against a scripted hub over real sockets:
what goes on the wire, resubscribing after drops and resets, typed errors, the end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import roost_client
from roost_client import Change, PresenceEvent, State

import protocol
from tests.conftest import within
from tests.roost_client.conftest import FakeHub, FakeSleep, OpenClient

MAX_ID = protocol.MAX_ID


def _row(n: int) -> dict[str, Any]:
    return {"id": n, "title": f"t{n}"}


async def _push(fake: FakeHub, index: int, **frame: Any) -> None:
    await fake.sockets[index].send(fake.encode(**frame))


async def _changes(fake: FakeHub, index: int, id: int, *items: tuple[int, str, int]) -> None:
    changes = [{"seq": seq, "op": op, "row": _row(n)} for seq, op, n in items]
    await _push(fake, index, t="changes", id=id, changes=changes)


async def _take(sub: roost_client.Subscription, count: int) -> list[Change]:
    return [await within(anext(sub)) for _ in range(count)]


async def test_a_subscription_is_one_sub_frame_with_an_id_from_the_call_counter(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos", where={"done": False}, columns=["title"], snapshot=True)
    _, frame = await fake.next_json("sub")
    assert frame == {
        "t": "sub",
        "id": MAX_ID,
        "table": "todos",
        "where": [["done", "eq", False]],
        "columns": ["title"],
        "snapshot": True,
    }
    assert (sub.id, sub.table, sub.seq) == (MAX_ID, "todos", None)
    call = asyncio.create_task(conn.call("m"))
    assert (await fake.next_json("call"))[1]["id"] == MAX_ID - 1
    call.cancel()


async def test_snapshot_rows_come_once_subscribed_then_changes_in_order_without_repeats(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos", snapshot=True)
    index, frame = await fake.next_json("sub")
    sid = frame["id"]
    await _push(fake, index, t="snapshot", id=sid, seq=4, rows=[_row(1), _row(2)])
    await _push(fake, index, t="snapshot", id=sid, seq=4, rows=[_row(3)])
    await _push(fake, index, t="subscribed", id=sid, seq=4)
    await _changes(fake, index, sid, (4, "update", 1), (5, "insert", 4))
    await _changes(fake, index, sid, (5, "insert", 4), (7, "delete", 2))
    assert await _take(sub, 5) == [
        Change(4, "snapshot", _row(1)),
        Change(4, "snapshot", _row(2)),
        Change(4, "snapshot", _row(3)),
        Change(5, "insert", _row(4)),
        Change(7, "delete", _row(2)),
    ]
    assert sub.seq == 7


async def test_changes_wait_for_a_reader_that_comes_later(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos")
    index, frame = await fake.next_json("sub")
    await _push(fake, index, t="subscribed", id=frame["id"], seq=0)
    await _changes(fake, index, frame["id"], *[(n, "insert", n) for n in range(1, 51)])
    await _push(fake, index, t="msg", data="after")
    assert await within(conn.recv()) == "after"  # read past them: they waited
    assert [c.seq for c in await _take(sub, 50)] == list(range(1, 51))


async def test_after_a_drop_it_resubscribes_after_hello_and_resent_messages_with_since(
    fake: FakeHub, open_client: OpenClient
) -> None:
    fake.ack = False
    conn = await open_client()
    conn.send("a")
    sub = conn.subscribe("todos", snapshot=True)
    await fake.next_json("msg")
    index, frame = await fake.next_json("sub")
    first = frame["id"]
    await _push(fake, index, t="snapshot", id=first, seq=5, rows=[_row(1)])
    await _push(fake, index, t="subscribed", id=first, seq=5)
    await _changes(fake, index, first, (6, "insert", 2))
    assert [c.seq for c in await _take(sub, 2)] == [5, 6]
    fake.sockets[index].transport.abort()
    await fake.socket(1)
    resent = [await fake.next_json() for _ in range(3)]
    assert resent == [
        (1, {"t": "hello", "session": conn.session}),
        (1, {"t": "msg", "data": "a", "id": 1}),
        (1, {"t": "sub", "id": resent[2][1]["id"], "table": "todos", "since": 6}),
    ]
    second = resent[2][1]["id"]
    assert second < first
    assert sub.id == second
    # The replay overlaps what was delivered; frames for the old id are stale.
    await _changes(fake, 1, first, (7, "insert", 9))
    await _changes(fake, 1, second, (6, "insert", 2), (8, "insert", 3))
    await _push(fake, 1, t="subscribed", id=second, seq=8)
    await _changes(fake, 1, second, (9, "delete", 1))
    assert await _take(sub, 2) == [Change(8, "insert", _row(3)), Change(9, "delete", _row(1))]


async def test_a_snapshot_cut_off_mid_way_is_asked_again_and_given_whole_once(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos", snapshot=True)
    index, frame = await fake.next_json("sub")
    await _push(fake, index, t="snapshot", id=frame["id"], seq=3, rows=[_row(1)])
    await _push(fake, index, t="msg", data="marker")
    assert await within(conn.recv()) == "marker"  # the partial snapshot was read
    fake.sockets[index].transport.abort()
    index, again = await fake.next_json("sub")
    assert (index, again.get("snapshot"), "since" in again) == (1, True, False)
    await _push(fake, 1, t="snapshot", id=again["id"], seq=4, rows=[_row(1), _row(2)])
    await _push(fake, 1, t="subscribed", id=again["id"], seq=4)
    assert await _take(sub, 2) == [Change(4, "snapshot", _row(1)), Change(4, "snapshot", _row(2))]


async def test_a_subscription_made_while_reconnecting_is_sent_once_on_the_next_socket(
    fake: FakeHub, open_client: OpenClient
) -> None:
    held = FakeSleep(hold=True)
    conn = await open_client(sleep=held)
    (await fake.socket(0)).transport.abort()
    pending = await held.next()
    assert conn.state is State.RECONNECTING
    sub = conn.subscribe("todos", since=10)
    assert sub.id is None
    pending.release()
    await within(conn.wait_for(State.OPEN))
    conn.send("marker")
    frames = [await fake.next_json() for _ in range(4)]
    assert [(i, f["t"]) for i, f in frames] == [(0, "hello"), (1, "hello"), (1, "sub"), (1, "msg")]
    assert frames[2][1]["since"] == 10


async def test_a_request_queued_just_before_a_drop_is_not_sent_twice(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    await fake.next_json("hello")
    conn.subscribe("todos")
    link = conn._link
    assert link is not None
    link.ws.transport.abort()  # before the writer ran: the request may be unwritten
    await fake.socket(1)
    await within(conn.wait_for(State.OPEN))
    conn.send("marker")
    frames: list[tuple[int, dict[str, Any]]] = []
    while not frames or frames[-1][1]["t"] != "msg":
        frames.append(await fake.next_json())
    assert [(i, f["t"]) for i, f in frames if i == 1] == [(1, "hello"), (1, "sub"), (1, "msg")]


async def test_subscription_frames_do_not_count_against_max_buffered(
    fake: FakeHub, open_client: OpenClient
) -> None:
    fake.ack = False
    conn = await open_client(max_buffered=1)
    conn.send("fills the outbox")
    with pytest.raises(roost_client.BufferFull):
        conn.send("one too many")
    sub = conn.subscribe("todos")
    assert (await fake.next_json("sub"))[1]["id"] == sub.id


async def test_a_reset_yields_a_reset_change_then_a_fresh_snapshot(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos", since=3)
    index, frame = await fake.next_json("sub")
    await _changes(fake, index, frame["id"], (4, "insert", 1))
    await _push(fake, index, t="reset", id=frame["id"])
    _, again = await fake.next_json("sub")
    assert again == {"t": "sub", "id": again["id"], "table": "todos", "snapshot": True}
    await _push(fake, index, t="snapshot", id=again["id"], seq=9, rows=[_row(2)])
    await _push(fake, index, t="subscribed", id=again["id"], seq=9)
    await _changes(fake, index, again["id"], (10, "insert", 3))
    assert await _take(sub, 4) == [
        Change(4, "insert", _row(1)),
        Change(4, "reset", None),
        Change(9, "snapshot", _row(2)),
        Change(10, "insert", _row(3)),
    ]


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("no_such_feed", roost_client.NoSuchFeed),
        ("bad_subscription", roost_client.BadSubscription),
        ("forbidden", roost_client.Forbidden),
        ("too_many_subscriptions", roost_client.TooManySubscriptions),
        ("activation_failed", roost_client.ActivationFailed),
    ],
)
async def test_an_error_for_the_subscription_ends_it_with_the_typed_error(
    fake: FakeHub, open_client: OpenClient, code: str, cls: type[roost_client.RoostError]
) -> None:
    conn = await open_client()
    reported: list[roost_client.RoostError] = []
    conn.on_error(reported.append)
    sub = conn.subscribe("todos", snapshot=True)
    index, frame = await fake.next_json("sub")
    await _push(fake, index, t="snapshot", id=frame["id"], seq=1, rows=[_row(1)])
    await _push(fake, index, t="error", id=frame["id"], code=code, message="no", retryable=False)
    with pytest.raises(cls) as info:
        await within(anext(sub))
    assert (info.value.code, info.value.id, info.value.retryable) == (code, frame["id"], False)
    assert sub.closed
    with pytest.raises(cls):
        await within(anext(sub))  # and again: it stays ended
    assert reported == []  # the subscription received it
    assert conn.state is State.OPEN
    await within(sub.close())
    conn.send("marker")
    assert (await fake.next_json())[1]["t"] == "msg"  # no unsub for an ended subscription


async def test_a_retryable_error_resubscribes_after_the_backoff(
    fake: FakeHub, open_client: OpenClient
) -> None:
    held = FakeSleep(hold=True)
    conn = await open_client(sleep=held)
    sub = conn.subscribe("todos", snapshot=True)
    index, frame = await fake.next_json("sub")
    await _push(
        fake, index, t="error", id=frame["id"], code="internal_error", message="", retryable=True
    )
    pending = await held.next()
    assert pending.delay == 0.5
    pending.release()
    _, again = await fake.next_json("sub")
    assert again["snapshot"] is True and again["id"] != frame["id"]
    await _push(fake, index, t="snapshot", id=again["id"], seq=2, rows=[_row(1)])
    await _push(fake, index, t="subscribed", id=again["id"], seq=2)
    assert await _take(sub, 1) == [Change(2, "snapshot", _row(1))]


async def test_retryable_errors_give_up_after_max_attempts(
    fake: FakeHub, open_client: OpenClient, sleep: FakeSleep
) -> None:
    conn = await open_client(backoff=roost_client.Backoff(jitter=0, max_attempts=2))
    sub = conn.subscribe("todos")
    for _ in range(2):
        index, frame = await fake.next_json("sub")
        await _push(
            fake, index, t="error", id=frame["id"], code="hub_stopping", message="", retryable=True
        )
    with pytest.raises(roost_client.HubStopping):
        await within(anext(sub))
    assert sleep.delays == [0.5]


async def test_close_sends_unsub_ends_iteration_and_later_frames_are_ignored(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos")
    other = conn.subscribe("todos", since=0)
    index, frame = await fake.next_json("sub")
    _, other_frame = await fake.next_json("sub")
    await _push(fake, index, t="subscribed", id=frame["id"], seq=0)
    reader = asyncio.create_task(_take(sub, 1))
    await asyncio.sleep(0)
    await within(sub.close())
    with pytest.raises(StopAsyncIteration):
        await within(reader)
    assert (await fake.next_json("unsub"))[1] == {"t": "unsub", "id": frame["id"]}
    await _changes(fake, index, frame["id"], (1, "insert", 1))  # already on its way
    await _changes(fake, index, other_frame["id"], (1, "insert", 1))
    assert await _take(other, 1) == [Change(1, "insert", _row(1))]
    assert [c async for c in sub] == []
    await within(sub.close())  # twice is fine


async def test_async_with_closes_the_subscription(fake: FakeHub, open_client: OpenClient) -> None:
    conn = await open_client()
    async with conn.subscribe("todos") as sub:
        _, frame = await fake.next_json("sub")
    assert sub.closed
    assert (await fake.next_json("unsub"))[1]["id"] == frame["id"]


async def test_closing_the_connection_ends_iteration_quietly_after_what_was_received(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos")
    index, frame = await fake.next_json("sub")
    await _changes(fake, index, frame["id"], (1, "insert", 1))
    await _push(fake, index, t="msg", data="marker")
    assert await within(conn.recv()) == "marker"
    await within(conn.close())
    assert [c async for c in sub] == [Change(1, "insert", _row(1))]
    with pytest.raises(roost_client.ConnectionClosed):
        conn.subscribe("todos")


async def test_a_close_for_good_ends_iteration_with_the_connections_error(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    sub = conn.subscribe("todos")
    await fake.next_json("sub")
    await (await fake.socket(0)).close(4000, "kicked")
    with pytest.raises(roost_client.ConnectionClosed) as info:
        await within(anext(sub))
    assert (info.value.close_code, info.value.reason) == (4000, "kicked")
    assert info.value is conn.close_error


async def test_subscribe_checks_its_arguments_before_anything_is_sent(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client(max_message_size=200)
    with pytest.raises(ValueError, match="snapshot or since, not both"):
        conn.subscribe("todos", snapshot=True, since=4)
    with pytest.raises(ValueError, match="a condition is"):
        conn.subscribe("todos", where=[("done", "eq")])
    with pytest.raises(TypeError):
        conn.subscribe("todos", where=[("done", "eq", object())])
    with pytest.raises(roost_client.MessageTooBig):
        conn.subscribe("todos", where=[("title", "eq", "x" * 300)])
    sub = conn.subscribe("todos")
    assert (await fake.next_json("sub"))[1]["id"] == sub.id


# -- presence ------------------------------------------------------------------------


async def test_presence_is_asked_for_on_first_use_and_again_after_every_reconnect(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    presence = conn.presence
    assert conn.presence is presence
    assert (await fake.next_json("presence_sub"))[1] == {"t": "presence_sub"}
    await _push(fake, 0, t="presence", members=[{"socket": 0, "state": "me"}])
    await within(presence.ready())
    assert presence.members == {0: "me"}
    fake.sockets[0].transport.abort()
    index, _ = await fake.next_json("presence_sub")
    assert index == 1


async def test_presence_callbacks_and_events_see_joins_updates_and_leaves(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    presence = conn.presence
    seen: list[tuple[str, int, Any]] = []
    presence.on_join(lambda s, v: seen.append(("join", s, v)))
    stop_updates = presence.on_update(lambda s, v: seen.append(("update", s, v)))
    presence.on_leave(lambda s, v: seen.append(("leave", s, v)))
    events = presence.events()
    await fake.next_json("presence_sub")
    await _push(fake, 0, t="presence", members=[{"socket": 5, "state": {"n": "ada"}}])
    await _push(fake, 0, t="join", socket=6, state={"n": "bob"})
    await _push(fake, 0, t="update", socket=5, state={"n": "ada", "typing": True})
    await _push(fake, 0, t="leave", socket=6)
    received = [await within(anext(events)) for _ in range(4)]
    assert received == [
        PresenceEvent("join", 5, {"n": "ada"}),
        PresenceEvent("join", 6, {"n": "bob"}),
        PresenceEvent("update", 5, {"n": "ada", "typing": True}),
        PresenceEvent("leave", 6, {"n": "bob"}),
    ]
    assert seen == [(e.kind, e.socket, e.state) for e in received]
    assert presence.members == {5: {"n": "ada", "typing": True}}
    stop_updates()
    await _push(fake, 0, t="update", socket=5, state="away")
    assert await within(anext(events)) == PresenceEvent("update", 5, "away")
    assert seen[-1] == ("leave", 6, {"n": "bob"})


async def test_the_list_after_a_reconnect_is_applied_as_its_difference(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    presence = conn.presence
    events = presence.events()
    await fake.next_json("presence_sub")
    members = [{"socket": 0, "state": "me"}, {"socket": 7, "state": "x"}]
    await _push(fake, 0, t="presence", members=members)
    assert [await within(anext(events)) for _ in range(2)] == [
        PresenceEvent("join", 0, "me"),
        PresenceEvent("join", 7, "x"),
    ]
    fake.sockets[0].transport.abort()
    index, _ = await fake.next_json("presence_sub")
    members = [{"socket": 7, "state": "x"}, {"socket": 1, "state": "me"}]
    await _push(fake, index, t="presence", members=members)
    assert [await within(anext(events)) for _ in range(2)] == [
        PresenceEvent("leave", 0, "me"),
        PresenceEvent("join", 1, "me"),
    ]
    assert presence.members == {7: "x", 1: "me"}
    assert presence.members[conn.socket_id or 0] == "me"  # "is this me": conn.socket_id


async def test_presence_close_sends_presence_unsub_and_ends_the_streams(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    presence = conn.presence
    events = presence.events()
    await fake.next_json("presence_sub")
    presence.close()
    assert (await fake.next_json())[1] == {"t": "presence_unsub"}
    assert [e async for e in events] == []
    assert presence.closed
    with pytest.raises(RuntimeError, match="presence was closed"):
        await presence.ready()
    assert conn.presence is not presence  # a new one, asked for again
    await fake.next_json("presence_sub")


async def test_presence_ready_raises_when_the_connection_closes_first(
    fake: FakeHub, open_client: OpenClient
) -> None:
    conn = await open_client()
    presence = conn.presence
    events = presence.events()
    waiting = asyncio.create_task(presence.ready())
    await fake.next_json("presence_sub")
    await (await fake.socket(0)).close(4001, "bye")
    with pytest.raises(roost_client.ConnectionClosed) as info:
        await within(waiting)
    assert info.value.close_code == 4001
    with pytest.raises(roost_client.ConnectionClosed):
        await within(anext(events))
    with pytest.raises(roost_client.ConnectionClosed):
        conn.presence  # noqa: B018
