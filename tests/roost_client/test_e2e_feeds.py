"""Change feeds and presence through the SDK against a real hub (SPEC §9, §10): snapshot
then live with no gap, resuming across cut connections with no gap and no repeat,
resets, typed refusals, filters, and presence across connections."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import roost_client
from roost_client import Change, PresenceEvent, State

from tests.conftest import within
from tests.roost_client.apps.todos import TodoList
from tests.roost_client.conftest import FakeSleep, RunHub, Running
from tests.roost_client.feeds import Follower
from tests.roost_client.proxy import CuttingProxy

OBJECTS = {"TODO_LIST": TodoList}


async def _hub(run_hub: RunHub) -> Running:
    return await run_hub(objects=OBJECTS)


def _url(running: Running, name: str = "list-1", port: int | None = None) -> str:
    host = f"127.0.0.1:{port if port is not None else running.port}"
    return roost_client.object_url(host=host, binding="TODO_LIST", name=name)


def _strictly_increasing(changes: list[Change]) -> bool:
    return all(a.seq < b.seq for a, b in itertools.pairwise(changes))


@pytest.fixture
async def proxies() -> AsyncIterator[list[CuttingProxy]]:
    started: list[CuttingProxy] = []
    yield started
    for proxy in started:
        await proxy.stop()


async def test_a_snapshot_taken_while_another_client_writes_then_live_misses_nothing(
    run_hub: RunHub,
) -> None:
    running = await _hub(run_hub)
    async with (
        roost_client.connect(_url(running)) as writer,
        roost_client.connect(_url(running)) as reader,
    ):
        halfway = asyncio.Event()

        async def write() -> None:
            for n in range(1, 151):
                await writer.call("add", f"todo {n}")
                if n % 10 == 0:
                    await writer.call("set_done", n - 5, True)
                if n % 25 == 0:
                    await writer.call("remove", n - 20)
                if n == 40:
                    halfway.set()

        writing = asyncio.ensure_future(write())
        await within(halfway.wait())
        follower = Follower(reader.subscribe("todos", snapshot=True))
        await within(writing, factor=3)
        final = await within(writer.call("seq"))
        await follower.until(final)
        # The whole log, replayed from the start, for comparison.
        log = Follower(reader.subscribe("todos", since=0))
        await log.until(final)

        expected = {row["id"]: row for row in await within(writer.call("todos"))}
        assert follower.rows == expected
        snapshot = [c for c in follower.changes if c.op == "snapshot"]
        assert snapshot and {c.seq for c in snapshot} == {snapshot[0].seq}
        base = snapshot[0].seq
        # After the snapshot: exactly the log's changes after its seq, in order.
        assert follower.live() == [c for c in log.changes if c.seq > base]
        assert _strictly_increasing(follower.live())
        assert follower.changes[: len(snapshot)] == snapshot
        assert follower.sub.seq == final
        await follower.stop()
        await log.stop()


async def test_a_subscription_resumes_across_cut_connections_without_gap_or_repeat(
    run_hub: RunHub, proxies: list[CuttingProxy]
) -> None:
    running = await _hub(run_hub)
    # Down: ~30 kB of changes must reach the reader; 4 cuts of 1,500 bytes all happen.
    proxy = CuttingProxy(running.port, budget=1500, cuts=4, direction="down")
    await proxy.start()
    proxies.append(proxy)
    states: list[State] = []
    connect = roost_client.connect(_url(running, "flappy", proxy.port), sleep=FakeSleep())
    connect.connection.on_state_change(lambda change: states.append(change.state))
    async with connect as reader, roost_client.connect(_url(running, "flappy")) as writer:
        follower = Follower(reader.subscribe("todos", snapshot=True))
        for n in range(1, 301):
            await writer.call("add", f"todo number {n:04d} " + "x" * 40)
        final = await within(writer.call("seq"))
        await follower.until(final, factor=3)
        assert proxy.cut == 4  # every planned cut happened (proxy.py, rule 2)
        assert states.count(State.RECONNECTING) >= 4
        inserted = [c.row["id"] for c in follower.changes if c.op == "insert" and c.row]
        snapshot = [c.row["id"] for c in follower.changes if c.op == "snapshot" and c.row]
        assert snapshot + inserted == list(range(1, 301))  # no gap, no repeat, in order
        assert _strictly_increasing(follower.live())
        assert follower.rows == {r["id"]: r for r in await within(writer.call("todos"))}
        await follower.stop()


async def test_resuming_after_trimmed_changes_resets_and_takes_a_fresh_snapshot(
    run_hub: RunHub,
) -> None:
    running = await _hub(run_hub)
    held = FakeSleep(hold=True)
    async with (
        roost_client.connect(_url(running), sleep=held) as reader,
        roost_client.connect(_url(running)) as writer,
    ):
        for title in ("a", "b", "c"):
            await writer.call("add", title)
        follower = Follower(reader.subscribe("todos", snapshot=True))
        await follower.until(3)
        link = reader._link
        assert link is not None
        link.ws.transport.abort()  # the reader drops; it waits in its backoff
        pending = await held.next()
        await writer.call("add", "d")
        await writer.call("remove", 1)
        assert await within(writer.call("trim")) == 5
        pending.release()
        final = await within(writer.call("seq"))
        await follower.until(final)
        rows = [{"id": n, "title": t, "done": 0} for n, t in ((2, "b"), (3, "c"), (4, "d"))]
        assert follower.changes[3:] == [
            Change(3, "reset", None),
            *(Change(final, "snapshot", row) for row in rows),
        ]
        assert follower.rows == {row["id"]: row for row in rows}
        assert follower.sub.seq == final
        # Live again after the reset.
        await writer.call("rename", 2, "B")
        await follower.until(final + 1)
        assert follower.changes[-1] == Change(
            final + 1, "update", {"id": 2, "title": "B", "done": 0}
        )
        await follower.stop()


@pytest.mark.parametrize(
    ("table", "where", "columns", "cls"),
    [
        ("missing", None, None, roost_client.NoSuchFeed),
        ("todos", [("nope", "eq", 1)], None, roost_client.BadSubscription),
        ("todos", [("title", "about", "x")], None, roost_client.BadSubscription),
        ("todos", [("done", "lt", [1])], None, roost_client.BadSubscription),
        ("todos", None, ["nope"], roost_client.BadSubscription),
    ],
)
async def test_a_refused_subscription_raises_its_typed_error_and_the_connection_goes_on(
    run_hub: RunHub,
    table: str,
    where: Any,
    columns: list[str] | None,
    cls: type[roost_client.RoostError],
) -> None:
    running = await _hub(run_hub)
    async with roost_client.connect(_url(running)) as conn:
        sub = conn.subscribe(table, where=where, columns=columns, snapshot=True)
        request = sub.id
        assert request is not None
        with pytest.raises(cls) as info:
            await within(anext(sub))
        assert (info.value.code, info.value.retryable, info.value.id) == (
            cls.default_code,
            False,
            request,
        )
        assert info.value.message
        assert sub.closed
        assert await within(conn.call("add", "still fine")) == 1
        assert conn.state is State.OPEN


async def test_a_filtered_subscription_sees_rows_enter_and_leave_its_filter(
    run_hub: RunHub,
) -> None:
    running = await _hub(run_hub)
    async with (
        roost_client.connect(_url(running)) as writer,
        roost_client.connect(_url(running)) as reader,
    ):
        await writer.call("add_many", ["a", "b", "c"])
        await writer.call("set_done", 3, True)
        sub = reader.subscribe("todos", where={"done": False}, columns=["title"], snapshot=True)
        follower = Follower(sub)
        await follower.until(4)
        await writer.call("set_done", 2, True)  # leaves the filter: a delete
        await writer.call("rename", 3, "C")  # outside the filter: nothing
        await writer.call("set_done", 3, False)  # enters it: an insert
        await writer.call("rename", 1, "A")  # inside: an update
        await follower.until(8)
        assert follower.changes == [
            Change(4, "snapshot", {"id": 1, "title": "a"}),
            Change(4, "snapshot", {"id": 2, "title": "b"}),
            Change(5, "delete", {"id": 2, "title": "b"}),
            Change(7, "insert", {"id": 3, "title": "C"}),
            Change(8, "update", {"id": 1, "title": "A"}),
        ]
        await follower.stop()


async def test_a_subscriber_keeps_its_subscription_while_the_object_hibernates(
    run_hub: RunHub,
) -> None:
    running = await _hub(run_hub)
    async with (
        roost_client.connect(_url(running)) as writer,
        roost_client.connect(_url(running)) as reader,
    ):
        follower = Follower(reader.subscribe("todos"))
        await writer.call("add", "a")
        await follower.until(1)
        assert await running.app.hibernate("TODO_LIST", "list-1")
        await writer.call("add", "b")  # wakes the object; the subscriber gets it
        await follower.until(2)
        assert [c.op for c in follower.changes] == ["insert", "insert"]
        await follower.stop()


async def test_presence_join_update_and_leave_across_two_connections(run_hub: RunHub) -> None:
    running = await _hub(run_hub)
    async with (
        roost_client.connect(_url(running), query={"name": "ada"}) as ada,
        roost_client.connect(_url(running)) as bob,
    ):
        presence = bob.presence
        events = presence.events()
        await within(presence.ready())
        assert presence.members == {ada.socket_id: {"name": "ada"}}
        assert [await within(anext(events))] == [
            PresenceEvent("join", ada.socket_id or 0, {"name": "ada"})
        ]
        joined: list[tuple[int, Any]] = []
        left: list[tuple[int, Any]] = []
        presence.on_join(lambda socket, state: joined.append((socket, state)))
        presence.on_leave(lambda socket, state: left.append((socket, state)))
        bob.send('presence:{"name": "bob"}')
        await within(bob.flush())  # handled before ada's: one order of events
        ada.send('presence:{"name": "ada", "typing": true}')
        ada.send("presence:null")
        assert bob.socket_id is not None and ada.socket_id is not None
        assert [await within(anext(events)) for _ in range(3)] == [
            PresenceEvent("join", bob.socket_id, {"name": "bob"}),
            PresenceEvent("update", ada.socket_id, {"name": "ada", "typing": True}),
            PresenceEvent("leave", ada.socket_id, {"name": "ada", "typing": True}),
        ]
        assert joined == [(bob.socket_id, {"name": "bob"})]  # "is this me": bob.socket_id
        assert left == [(ada.socket_id, {"name": "ada", "typing": True})]
        assert presence.members == {bob.socket_id: {"name": "bob"}}
        # Ada's own view agrees.
        await within(ada.presence.ready())
        assert ada.presence.members == {bob.socket_id: {"name": "bob"}}


async def test_a_dropped_connection_leaves_the_presence_at_once_and_rejoins_with_a_new_id(
    run_hub: RunHub,
) -> None:
    running = await _hub(run_hub)
    held = FakeSleep(hold=True)
    async with (
        roost_client.connect(_url(running), query={"name": "ada"}, sleep=held) as ada,
        roost_client.connect(_url(running), query={"name": "bob"}) as bob,
    ):
        presence = bob.presence
        events = presence.events()
        await within(presence.ready())
        first = ada.socket_id
        assert first is not None and bob.socket_id is not None
        assert [(e.kind, e.socket) for e in [await within(anext(events)) for _ in range(2)]] == [
            ("join", first),
            ("join", bob.socket_id),
        ]
        link = ada._link
        assert link is not None
        link.ws.transport.abort()  # no close frame: the hub sees 1006
        assert await within(anext(events)) == PresenceEvent("leave", first, {"name": "ada"})
        assert presence.members == {bob.socket_id: {"name": "bob"}}
        (await held.next()).release()  # ada reconnects: a new socket, a new member
        await within(ada.wait_for(State.OPEN))
        again = ada.socket_id
        assert again is not None and again != first
        assert await within(anext(events)) == PresenceEvent("join", again, {"name": "ada"})


async def test_presence_after_a_reconnect_is_the_fresh_list_as_a_difference(
    run_hub: RunHub,
) -> None:
    running = await _hub(run_hub)
    held = FakeSleep(hold=True)
    async with (
        roost_client.connect(_url(running), query={"name": "bob"}, sleep=held) as bob,
        roost_client.connect(_url(running), query={"name": "ada"}) as ada,
    ):
        presence = bob.presence
        events = presence.events()
        await within(presence.ready())
        old_bob, ada_id = bob.socket_id, ada.socket_id
        assert old_bob is not None and ada_id is not None
        assert len([await within(anext(events)) for _ in range(2)]) == 2
        link = bob._link
        assert link is not None
        link.ws.transport.abort()
        pending = await held.next()
        ada.send('presence:{"name": "ada", "away": true}')  # while bob is away
        await within(ada.flush())
        pending.release()
        await within(bob.wait_for(State.OPEN))
        new_bob = bob.socket_id
        assert new_bob is not None
        assert [await within(anext(events)) for _ in range(3)] == [
            PresenceEvent("leave", old_bob, {"name": "bob"}),
            PresenceEvent("update", ada_id, {"name": "ada", "away": True}),
            PresenceEvent("join", new_bob, {"name": "bob"}),
        ]
        assert presence.members == {ada_id: {"name": "ada", "away": True}, new_bob: {"name": "bob"}}
