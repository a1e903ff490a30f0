"""Table change feeds over roost.v1 (protocol/SPEC.md §9): snapshot then live with no
gap, replay after ``since``, reset, filters and columns, parked subscribers, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

import hub
from hub.storage.feeds import FeedRetention
from tests.conftest import within
from tests.hub.net.conftest import Serve, Served
from tests.hub.net.test_roost_v1 import frame, send, v1


class Todos(hub.DurableObject):
    """A todo list whose ``todos`` table feeds."""

    feeds = ("todos",)

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS todos (id INTEGER PRIMARY KEY, title TEXT,"
            " done INTEGER NOT NULL DEFAULT 0, list TEXT NOT NULL DEFAULT 'home')"
        )
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS secrets (id INTEGER PRIMARY KEY)")

    async def fetch(self, request: hub.Request) -> hub.Response:
        tags = ["guest"] if "guest" in request.query else []
        return hub.Response.websocket(self.ctx.accept_websocket(request, tags))

    def feed_allowed(self, ws: hub.WebSocket, table: str) -> bool:
        return "guest" not in self.ctx.get_tags(ws)

    def add(self, id: int, title: str, list: str = "home") -> None:
        self.ctx.storage.sql.exec(
            "INSERT INTO todos (id, title, list) VALUES (?, ?, ?)", id, title, list
        )

    def add_many(self, first: int, count: int) -> None:
        for id in range(first, first + count):
            self.ctx.storage.sql.exec("INSERT INTO todos (id, title) VALUES (?, ?)", id, f"t{id}")

    def update(self, id: int, **columns: Any) -> None:
        for column, value in columns.items():
            assert column in ("title", "done", "list")
            self.ctx.storage.sql.exec(f"UPDATE todos SET {column} = ? WHERE id = ?", value, id)

    def remove(self, id: int) -> None:
        self.ctx.storage.sql.exec("DELETE FROM todos WHERE id = ?", id)

    def fail_after_insert(self, id: int) -> None:
        self.ctx.storage.sql.exec("INSERT INTO todos (id, title) VALUES (?, 'never')", id)
        raise RuntimeError("rolled back")

    def trim(self) -> None:
        self.ctx.storage.feeds.trim(keep=0, now_ms=0)

    async def wipe(self) -> None:
        await self.ctx.storage.delete_all()

    def stop_feeding(self) -> None:
        self.ctx.storage.feeds.disable("todos")

    def rows(self) -> list[dict[str, Any]]:
        return self.ctx.storage.sql.exec("SELECT * FROM todos ORDER BY id").to_array()


class ShortLog(Todos):
    feed_retention = FeedRetention(max_changes=10, max_age=None)


def stub(served: Served, name: str = "list") -> Any:
    return served.app.env.TODOS.get_by_name(name)


async def todos(served: Served, name: str = "list", **query: str) -> ClientConnection:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return await v1(served, f"/objects/todos/{name}{suffix}")


async def subscribe(ws: ClientConnection, **sub: Any) -> list[dict[str, Any]]:
    """Send ``sub`` and read its answer up to ``subscribed`` (or reset/error)."""
    sub.setdefault("id", 7)
    sub.setdefault("table", "todos")
    await send(ws, {"t": "sub", **sub})
    frames = []
    while True:
        answer = await frame(ws)
        frames.append(answer)
        if answer["t"] in ("subscribed", "reset", "error"):
            return frames


async def changes(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` changes, over as many frames as it takes."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        answer = await frame(ws)
        assert answer["t"] == "changes", answer
        out += answer["changes"]
    assert len(out) == count, out
    return out


def brief(items: list[dict[str, Any]]) -> list[tuple[int, str, int]]:
    return [(c["seq"], c["op"], c["row"]["id"]) for c in items]


@pytest.fixture
async def served(serve: Serve) -> Served:
    return await serve({"TODOS": Todos, "SHORT_LOG": ShortLog})


async def test_snapshot_then_live_changes(served: Served) -> None:
    await stub(served).add(1, "milk")
    await stub(served).add(2, "bread", "work")
    ws = await todos(served)
    answer = await subscribe(ws, snapshot=True)
    assert answer == [
        {
            "t": "snapshot",
            "id": 7,
            "seq": 2,
            "rows": [
                {"id": 1, "title": "milk", "done": 0, "list": "home"},
                {"id": 2, "title": "bread", "done": 0, "list": "work"},
            ],
        },
        {"t": "subscribed", "id": 7, "seq": 2},
    ]
    await stub(served).update(1, done=1)
    await stub(served).remove(2)
    await stub(served).add(3, "eggs")
    assert await changes(ws, 3) == [
        {"seq": 3, "op": "update", "row": {"id": 1, "title": "milk", "done": 1, "list": "home"}},
        {"seq": 4, "op": "delete", "row": {"id": 2, "title": "bread", "done": 0, "list": "work"}},
        {"seq": 5, "op": "insert", "row": {"id": 3, "title": "eggs", "done": 0, "list": "home"}},
    ]


async def test_an_empty_table_still_gets_one_snapshot_frame(served: Served) -> None:
    ws = await todos(served)
    assert await subscribe(ws, snapshot=True) == [
        {"t": "snapshot", "id": 7, "seq": 0, "rows": []},
        {"t": "subscribed", "id": 7, "seq": 0},
    ]


async def test_live_only_subscription_and_one_frame_per_event(served: Served) -> None:
    await stub(served).add(1, "old")
    ws = await todos(served)
    assert await subscribe(ws) == [{"t": "subscribed", "id": 7, "seq": 1}]
    await stub(served).add_many(10, 3)
    answer = await frame(ws)
    assert answer["t"] == "changes" and answer["id"] == 7
    assert brief(answer["changes"]) == [(2, "insert", 10), (3, "insert", 11), (4, "insert", 12)]


async def test_a_rolled_back_write_sends_nothing(served: Served) -> None:
    ws = await todos(served)
    await subscribe(ws)
    with pytest.raises(hub.RemoteError):
        await stub(served).fail_after_insert(1)
    await stub(served).add(2, "real")
    assert brief(await changes(ws, 1)) == [(1, "insert", 2)]  # seq 1 was given back


async def test_since_replays_what_was_missed_then_goes_live(served: Served) -> None:
    for id in range(1, 6):
        await stub(served).add(id, f"t{id}")
    ws = await todos(served)
    answer = await subscribe(ws, since=2)
    assert answer[-1] == {"t": "subscribed", "id": 7, "seq": 5}
    replayed = [c for f in answer if f["t"] == "changes" for c in f["changes"]]
    assert brief(replayed) == [(3, "insert", 3), (4, "insert", 4), (5, "insert", 5)]
    await stub(served).add(6, "t6")
    assert brief(await changes(ws, 1)) == [(6, "insert", 6)]
    assert await subscribe(ws, id=8, since=6) == [{"t": "subscribed", "id": 8, "seq": 6}]


async def test_since_before_trimmed_changes_is_reset(served: Served) -> None:
    for id in range(1, 4):
        await stub(served).add(id, f"t{id}")
    await stub(served).trim()
    ws = await todos(served)
    assert await subscribe(ws, since=1) == [{"t": "reset", "id": 7}]
    assert await subscribe(ws, id=8, since=3) == [{"t": "subscribed", "id": 8, "seq": 3}]
    # After a reset the client takes a snapshot, which is complete.
    snapshot = await subscribe(ws, id=9, snapshot=True)
    assert [row["id"] for row in snapshot[0]["rows"]] == [1, 2, 3]


async def test_retention_trims_the_log_by_count(served: Served) -> None:
    short = served.app.env.SHORT_LOG.get_by_name("list")
    for first in range(1, 60, 5):
        await short.add_many(first, 5)
    ws = await v1(served, "/objects/short-log/list")
    assert await subscribe(ws, since=1) == [{"t": "reset", "id": 7}]
    answer = await subscribe(ws, id=8, since=50)
    assert answer[-1] == {"t": "subscribed", "id": 8, "seq": 60}


async def test_filters_deliver_what_the_subscriber_sees(served: Served) -> None:
    ws = await todos(served)
    await subscribe(ws, where=[["list", "eq", "home"], ["done", "eq", False]])
    api = stub(served)
    await api.add(1, "milk")  # matches: insert
    await api.add(2, "report", "work")  # never matches: nothing
    await api.update(1, title="oat milk")  # matches before and after: update
    await api.update(1, list="work")  # left the filter: delete (with the row as it was)
    await api.update(2, list="home")  # entered it: insert
    await api.update(2, done=1)  # left it
    await api.remove(1)  # no longer matched: nothing
    await api.add(3, "bread")
    got = await changes(ws, 6)
    assert brief(got) == [
        (1, "insert", 1),
        (3, "update", 1),
        (4, "delete", 1),
        (5, "insert", 2),
        (6, "delete", 2),
        (8, "insert", 3),
    ]
    assert got[2]["row"]["list"] == "home"  # the row as it was before leaving
    assert got[4]["row"] == {"id": 2, "title": "report", "done": 0, "list": "home"}


async def test_or_like_in_and_columns(served: Served) -> None:
    api = stub(served)
    await api.add(1, "Buy milk")
    await api.add(2, "buy bread", "work")
    await api.add(3, "call mom", "errands")
    ws = await todos(served)
    where = [{"or": [[["title", "like", "buy%"], ["list", "neq", "work"]], [["id", "in", [3]]]]}]
    answer = await subscribe(ws, where=where, columns=["title"], snapshot=True)
    assert answer[0]["rows"] == [{"id": 1, "title": "Buy milk"}, {"id": 3, "title": "call mom"}]
    await api.update(2, list="home")
    entered = {"seq": 4, "op": "insert", "row": {"id": 2, "title": "buy bread"}}
    assert (await changes(ws, 1))[0] == entered


async def test_snapshot_and_live_changes_have_no_gap_under_concurrent_writes(
    served: Served,
) -> None:
    api = stub(served)
    await api.add(0, "first")
    total = 120

    async def writer() -> None:
        for id in range(1, total):
            await api.add(id, f"t{id}")

    writing = asyncio.create_task(writer())
    subscribers = []
    for n in range(4):  # subscribe at different moments of the writes
        await asyncio.sleep(0.005 * n)
        ws = await todos(served)
        subscribers.append((ws, await subscribe(ws, snapshot=True)))
    await within(writing)
    for ws, answer in subscribers:
        seen = {row["id"] for row in answer[0]["rows"]}
        start = answer[-1]["seq"]
        assert answer[0]["seq"] == start and len(seen) == start
        live = await changes(ws, total - start)
        assert [c["seq"] for c in live] == list(range(start + 1, total + 1))
        seen |= {c["row"]["id"] for c in live}
        assert seen == set(range(total))


async def test_parked_subscribers_keep_their_subscription(served: Served) -> None:
    ws = await todos(served)
    await subscribe(ws, snapshot=True)
    assert await served.app.hibernate("TODOS", "list")
    await send(ws, {"t": "ping"})
    assert await frame(ws) == {"t": "pong"}
    assert not served.app.is_active("TODOS", "list")  # subscribers do not wake it
    await stub(served).add(1, "wakes it")
    assert brief(await changes(ws, 1)) == [(1, "insert", 1)]


async def test_unsub_and_closed_sockets_end_subscriptions(served: Served) -> None:
    ws = await todos(served)
    other = await todos(served)
    await subscribe(ws)
    await subscribe(other, id=1)
    await send(ws, {"t": "unsub", "id": 7})
    await send(ws, {"t": "unsub", "id": 12345})  # unknown: ignored
    await send(ws, {"t": "ping"})
    assert await frame(ws) == {"t": "pong"}  # the hub has read the unsubs
    await stub(served).add(1, "x")
    assert brief(await changes(other, 1)) == [(1, "insert", 1)]
    await send(ws, {"t": "ping"})
    assert await frame(ws) == {"t": "pong"}  # no changes frame came before it
    front = served.server.front
    assert len(front.subscriptions) == 1
    await within(other.close())  # the hub answered the close: it forgot the socket
    assert len(front.subscriptions) == 0


async def test_delete_all_resets_subscribers(served: Served) -> None:
    await stub(served).add(1, "x")
    ws = await todos(served)
    await subscribe(ws, snapshot=True)
    await stub(served).wipe()
    assert await frame(ws) == {"t": "reset", "id": 7}
    assert len(served.server.front.subscriptions) == 0


async def test_a_disabled_feed_ends_its_subscriptions(served: Served) -> None:
    ws = await todos(served)
    await subscribe(ws)
    await stub(served).stop_feeding()
    error = await frame(ws)
    assert (error["t"], error["id"], error["code"]) == ("error", 7, "no_such_feed")


@pytest.mark.parametrize(
    ("sub", "code"),
    [
        ({"table": "secrets"}, "no_such_feed"),
        ({"table": "nope"}, "no_such_feed"),
        ({"table": "_roost_changes"}, "no_such_feed"),
        ({"where": [["title", "eq"]]}, "bad_subscription"),
        ({"where": [["title", "regex", "x"]]}, "bad_subscription"),
        ({"where": [["nope", "eq", 1]]}, "bad_subscription"),
        ({"columns": ["title", "nope"]}, "bad_subscription"),
        ({"snapshot": True, "since": 0}, "bad_subscription"),
    ],
)
async def test_refused_subscriptions_get_an_error_and_the_socket_stays(
    served: Served, sub: dict[str, Any], code: str
) -> None:
    ws = await todos(served)
    (error,) = await subscribe(ws, **sub)
    assert (error["t"], error["id"], error["code"], error["retryable"]) == (
        "error",
        7,
        code,
        False,
    )
    await stub(served).add(1, "x")
    await send(ws, {"t": "ping"})
    assert await frame(ws) == {"t": "pong"}  # nothing was subscribed


async def test_bad_filters_are_refused_without_waking_the_object(served: Served) -> None:
    ws = await todos(served)
    assert await served.app.hibernate("TODOS", "list")
    (error,) = await subscribe(ws, where={"title": "x"})
    assert error["code"] == "bad_frame"  # not an array: the frame itself is invalid
    (error,) = await subscribe(ws, where=[["title", "near", "x"]])
    assert error["code"] == "bad_subscription"
    assert not served.app.is_active("TODOS", "list")


async def test_the_object_may_refuse_a_subscription(served: Served) -> None:
    ws = await todos(served, guest="1")
    (error,) = await subscribe(ws)
    assert error["code"] == "forbidden"


async def test_subscriptions_per_socket_are_limited(serve: Serve) -> None:
    served = await serve({"TODOS": Todos}, limits=hub.Limits(subscriptions_per_socket=2))
    ws = await todos(served)
    await subscribe(ws, id=1)
    await subscribe(ws, id=2)
    (error,) = await subscribe(ws, id=3)
    assert error["code"] == "too_many_subscriptions"
    await send(ws, {"t": "unsub", "id": 1})
    assert (await subscribe(ws, id=3))[-1]["t"] == "subscribed"  # frames are read in order


async def test_a_repeated_id_replaces_the_subscription(served: Served) -> None:
    ws = await todos(served)
    await subscribe(ws, where=[["list", "eq", "work"]])
    await subscribe(ws, where=[["list", "eq", "home"]])
    await stub(served).add(1, "home one")
    assert brief(await changes(ws, 1)) == [(1, "insert", 1)]
    assert len(served.server.front.subscriptions) == 1


async def test_many_subscribers_of_one_filter_share_the_work(served: Served) -> None:
    sockets = [await todos(served) for _ in range(20)]
    for ws in sockets:
        await subscribe(ws, where=[["list", "eq", "home"]])
    await stub(served).add(1, "for all")
    for ws in sockets:
        assert brief(await changes(ws, 1)) == [(1, "insert", 1)]
    front = served.server.front
    groups = front.subscriptions._groups  # one group for the twenty
    assert sum(len(g) for tables in groups.values() for g in tables.values()) == 1


async def test_a_large_snapshot_comes_in_several_frames_of_one_seq(served: Served) -> None:
    api = stub(served)
    for id in range(300):
        await api.add(id, "x" * 2000)  # about 600 KB of rows
    ws = await todos(served)
    answer = await subscribe(ws, snapshot=True)
    snapshots = [f for f in answer if f["t"] == "snapshot"]
    assert len(snapshots) >= 2
    assert {f["seq"] for f in snapshots} == {300}
    assert [row["id"] for f in snapshots for row in f["rows"]] == list(range(300))
    assert answer[-1] == {"t": "subscribed", "id": 7, "seq": 300}
