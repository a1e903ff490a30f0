"""The todo-list example over real ``roost.v1`` sockets (its page: test_feed_page.py).

Clients learn every change from the ``todos`` feed (protocol/SPEC.md §9), so the tests
build each client's list the way the page does (snapshot, then changes applied in
``seq`` order) and compare it with a fresh snapshot: the list as committed. The
reconnect tests cut a client off, change the list behind its back, and expect it to
get exactly what it missed when it resumes with ``since``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import within
from tests.examples.conftest import V1, Served, feed, http_get, serving

BINDING = "TODO_LIST"
HOME = "/objects/todo-list/home"
SUB = 1

Row = dict[str, Any]
Frame = dict[str, Any]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The todo-list example on 127.0.0.1:0."""
    async with serving({BINDING: feed.TodoList}, feed.route, tmp_path) as served:
        yield served


class Lister:
    """A client of one list, doing what the page does: it calls methods (ids counting
    down from 2^53 - 1, SPEC §6.1) and builds its list from the feed alone."""

    def __init__(self, client: V1) -> None:
        self.client = client
        #: The list as built from the feed: id -> row.
        self.rows: dict[int, Row] = {}
        #: The highest seq seen (SPEC §9.9).
        self.seq = 0
        #: Every change applied, in order.
        self.applied: list[Frame] = []
        self._ids = itertools.count(2**53 - 1, -1)
        self._early: list[Frame] = []  # frames read while waiting for a call's answer

    async def next(self) -> Frame:
        return self._early.pop(0) if self._early else await self.client.next()

    async def subscribe(self, **sub: Any) -> list[Frame]:
        """Send ``sub`` for ``todos`` and read up to its ``subscribed`` (or reset, error),
        applying a snapshot or replay."""
        await self.client.send({"t": "sub", "id": SUB, "table": "todos", **sub})
        frames = []
        while True:
            frame = await self.next()
            frames.append(frame)
            if frame["t"] == "snapshot":
                assert frame["id"] == SUB
            elif frame["t"] == "changes":
                self.apply(frame)
            elif frame["t"] in ("subscribed", "reset", "error"):
                break
            else:
                raise AssertionError(f"unexpected frame while subscribing: {frame!r}")
        if frame["t"] == "subscribed":
            if sub.get("snapshot"):
                snapshot = [f for f in frames if f["t"] == "snapshot"]
                assert {f["seq"] for f in snapshot} == {frame["seq"]}, frames
                self.rows = {row["id"]: row for f in snapshot for row in f["rows"]}
            self.seq = max(self.seq, frame["seq"])
        return frames

    async def call(self, method: str, *args: Any) -> Frame:
        """Call ``method``: its ``result`` or ``error`` frame; feed frames that come
        first are kept for ``changes``."""
        call_id = next(self._ids)
        await self.client.send({"t": "call", "id": call_id, "method": method, "args": args})
        while True:
            frame = await self.client.next()
            if frame["t"] in ("result", "error") and frame["id"] == call_id:
                return frame
            self._early.append(frame)

    async def ok(self, method: str, *args: Any) -> Any:
        """Call ``method``, which must succeed: its result."""
        answer = await self.call(method, *args)
        assert answer["t"] == "result", answer
        return answer["result"]

    async def nothing_pending(self) -> None:
        """No frame is waiting to be read, nor on its way (see ``V1.nothing_pending``)."""
        assert self._early == []
        await self.client.nothing_pending()

    async def changes(self, count: int) -> list[Frame]:
        """Read and apply the next ``count`` changes (over as many frames as it takes)."""
        got: list[Frame] = []
        while len(got) < count:
            frame = await self.next()
            assert (frame["t"], frame["id"]) == ("changes", SUB), frame
            got += self.apply(frame)
        assert len(got) == count, got
        return got

    def apply(self, frame: Frame) -> list[Frame]:
        """Apply a ``changes`` frame as the page does; the changes applied."""
        applied = []
        for change in frame["changes"]:
            if change["seq"] <= self.seq:
                continue
            self.seq = change["seq"]
            row = change["row"]
            if change["op"] == "delete":
                del self.rows[row["id"]]
            else:
                assert (change["op"] == "insert") == (row["id"] not in self.rows), change
                self.rows[row["id"]] = row
            applied.append(change)
        self.applied += applied
        return applied

    def titles(self) -> list[tuple[str, int]]:
        """(title, done) of every row, in id order."""
        return [(row["title"], row["done"]) for _, row in sorted(self.rows.items())]


async def lister(served: Served, path: str = HOME, **sub: Any) -> Lister:
    """A new client of the list, subscribed with ``sub`` (a snapshot by default)."""
    client = Lister(await served.open(path))
    await client.subscribe(**(sub or {"snapshot": True}))
    return client


async def committed(served: Served, path: str = HOME) -> dict[int, Row]:
    """The list as committed: a fresh snapshot, on a socket closed afterwards."""
    reader = await lister(served, path)
    await within(reader.client.conn.close())
    return reader.rows


def brief(changes: list[Frame]) -> list[tuple[int, str, int]]:
    return [(change["seq"], change["op"], change["row"]["id"]) for change in changes]


# -- snapshot, live changes, convergence ---------------------------------------------------


async def test_snapshot_then_live_changes(served: Served) -> None:
    writer = Lister(await served.open(HOME))
    assert await writer.ok("add", "milk") == 1
    assert await writer.ok("add", "  bread  ") == 2  # stored stripped

    reader = Lister(await served.open(HOME))
    snapshot, subscribed = await reader.subscribe(snapshot=True)
    assert subscribed == {"t": "subscribed", "id": SUB, "seq": 2}
    assert snapshot["seq"] == 2
    rows = snapshot["rows"]
    assert [(row["id"], row["title"], row["done"]) for row in rows] == [
        (1, "milk", 0),
        (2, "bread", 0),
    ]
    assert set(rows[0]) == {"id", "title", "done", "created_at"}
    assert isinstance(rows[0]["created_at"], int) and rows[0]["created_at"] > 0

    await writer.ok("toggle", 1)
    await writer.ok("rename", 2, "rye bread")
    await writer.ok("remove", 1)
    assert await writer.ok("add", "eggs") == 3
    live = await reader.changes(4)
    assert brief(live) == [(3, "update", 1), (4, "update", 2), (5, "delete", 1), (6, "insert", 3)]
    assert live[0]["row"]["done"] == 1
    assert live[1]["row"]["title"] == "rye bread"
    assert live[2]["row"] == {**rows[0], "done": 1}  # a delete carries the row as it was
    await writer.ok("toggle", 3)
    await writer.ok("toggle", 3)  # and back: two updates
    assert [c["row"]["done"] for c in await reader.changes(2)] == [1, 0]
    assert reader.titles() == [("rye bread", 0), ("eggs", 0)]
    assert reader.rows == await committed(served)
    await reader.nothing_pending()


async def test_clear_done_removes_the_done_ones_and_says_how_many(served: Served) -> None:
    ada = await lister(served)
    for title in ("a", "b", "c", "d"):
        await ada.ok("add", title)
    await ada.ok("toggle", 1)
    await ada.ok("toggle", 3)
    await ada.changes(6)
    assert await ada.ok("clear_done") == 2
    assert brief(await ada.changes(2)) == [(7, "delete", 1), (8, "delete", 3)]
    assert await ada.ok("clear_done") == 0  # nothing done: no change at all
    await ada.nothing_pending()
    assert ada.titles() == [("b", 0), ("d", 0)]


async def test_two_clients_converge(served: Served) -> None:
    ada = await lister(served)
    bob = await lister(served)
    milk = await ada.ok("add", "milk")
    bread = await bob.ok("add", "bread")
    eggs = await ada.ok("add", "eggs")
    await bob.ok("toggle", milk)
    await ada.ok("rename", bread, "rye bread")
    await bob.ok("remove", eggs)
    await ada.ok("toggle", bread)
    assert await bob.ok("clear_done") == 2
    tea = await bob.ok("add", "tea")
    assert tea == 4  # ids are never reused
    for client in (ada, bob):
        await client.changes(10)
        await client.nothing_pending()
    assert ada.applied == bob.applied  # the same changes, in the same order
    assert [change["seq"] for change in ada.applied] == list(range(1, 11))
    assert ada.rows == bob.rows == await committed(served)
    assert ada.titles() == [("tea", 0)]


async def test_lists_are_separate(served: Served) -> None:
    home = await lister(served)
    work = await lister(served, "/objects/todo-list/work")
    await work.ok("add", "report")
    assert brief(await work.changes(1)) == [(1, "insert", 1)]  # each list has its own seq
    await home.nothing_pending()
    assert await committed(served) == {}


# -- reconnects, hibernation, restarts --------------------------------------------------


async def test_a_client_that_resumes_with_since_gets_exactly_what_it_missed(
    served: Served,
) -> None:
    ada = await lister(served)
    bob = await lister(served)
    for title in ("milk", "bread", "eggs"):
        await ada.ok("add", title)
    for client in (ada, bob):
        await client.changes(3)
    bob.client.conn.transport.abort()  # bob's network goes away
    seen = bob.seq
    assert seen == 3

    await ada.ok("toggle", 1)
    await ada.ok("rename", 2, "rye bread")
    await ada.ok("remove", 3)
    assert await served.app.hibernate(BINDING, "home")  # missed changes come from SQLite
    await ada.ok("add", "butter")
    await ada.ok("toggle", 2)
    assert await ada.ok("clear_done") == 2
    missed = await ada.changes(7)
    await ada.nothing_pending()

    assert await served.app.hibernate(BINDING, "home")
    bob.client = await served.open(HOME)  # a new socket, and a new session
    frames = await bob.subscribe(since=seen)
    assert [frame["t"] for frame in frames][-1] == "subscribed"
    assert "snapshot" not in [frame["t"] for frame in frames]
    replayed = [
        change for frame in frames if frame["t"] == "changes" for change in frame["changes"]
    ]
    assert replayed == missed  # exactly what it missed: nothing more, nothing less
    assert frames[-1] == {"t": "subscribed", "id": SUB, "seq": ada.seq}
    assert bob.rows == ada.rows == await committed(served)
    assert bob.titles() == [("butter", 0)]

    await bob.ok("add", "tea")  # and live again, for both
    for client in (ada, bob):
        assert brief(await client.changes(1)) == [(11, "insert", 5)]
    assert bob.applied == ada.applied


async def test_resuming_from_the_latest_seq_replays_nothing(served: Served) -> None:
    ada = await lister(served)
    await ada.ok("add", "milk")
    await ada.changes(1)
    again = Lister(await served.open(HOME))
    assert await again.subscribe(since=ada.seq) == [{"t": "subscribed", "id": SUB, "seq": 1}]


async def test_subscribers_do_not_keep_the_list_awake(served: Served) -> None:
    app = served.app
    ada = await lister(served)
    await ada.ok("add", "milk")
    await ada.changes(1)
    assert await app.hibernate(BINDING, "home")
    await ada.nothing_pending()  # ping: answered by the hub's front
    assert not app.is_active(BINDING, "home")
    async with httpx.AsyncClient() as http:  # the methods are HTTP RPC too
        answer = await http.post(served.server.url + HOME + "/rpc/add", json={"args": ["tea"]})
    assert (answer.status_code, answer.json()) == (200, {"result": 2})
    assert brief(await ada.changes(1)) == [(2, "insert", 2)]
    assert app.is_active(BINDING, "home")


async def test_a_client_resumes_across_a_hub_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with serving({BINDING: feed.TodoList}, feed.route, data) as first:
        ada = await lister(first)
        await ada.ok("add", "milk")
        await ada.ok("add", "bread")
        await ada.changes(2)
        await first.server.stop(1012)
    async with serving({BINDING: feed.TodoList}, feed.route, data) as second:
        writer = Lister(await second.open(HOME))
        await writer.ok("toggle", 1)
        assert await writer.ok("add", "eggs") == 3
        ada.client = await second.open(HOME)
        frames = await ada.subscribe(since=ada.seq)
        assert brief(ada.applied[-2:]) == [(3, "update", 1), (4, "insert", 3)]
        assert frames[-1] == {"t": "subscribed", "id": SUB, "seq": 4}
        assert ada.rows == await committed(second)


# -- bad input ---------------------------------------------------------------------------

LONGEST = "x" * feed.MAX_TITLE


@pytest.mark.parametrize(
    ("method", "args", "code", "message"),
    [
        ("add", [""], "object_error", "ValueError: empty title: expected 1 to 200 characters"),
        ("add", [" \t\n "], "object_error", "ValueError: empty title"),
        (
            "add",
            [LONGEST + "y"],
            "object_error",
            "ValueError: title too long: 201 characters, expected at most 200",
        ),
        ("add", [42], "invalid_arguments", "invalid arguments for add()"),
        ("add", [], "invalid_arguments", "invalid arguments for add()"),
        ("add", ["a", "b"], "invalid_arguments", "invalid arguments for add()"),
        ("toggle", [99], "object_error", "LookupError: no todo with id 99"),
        ("toggle", ["1"], "invalid_arguments", "invalid arguments for toggle()"),
        ("rename", [1, "  "], "object_error", "ValueError: empty title"),
        ("rename", [99, "tea"], "object_error", "LookupError: no todo with id 99"),
        ("remove", [99], "object_error", "LookupError: no todo with id 99"),
        ("remove", [1.5], "invalid_arguments", "invalid arguments for remove()"),
        ("nope", [], "method_not_found", ""),
        ("_one", ["DELETE FROM todos RETURNING id", 1], "method_not_found", ""),
        ("fetch", [], "method_not_found", ""),
    ],
)
async def test_a_bad_call_gets_an_error_frame_and_changes_nothing(
    served: Served, method: str, args: list[Any], code: str, message: str
) -> None:
    ada = await lister(served)
    await ada.ok("add", "milk")
    await ada.changes(1)
    before = dict(ada.rows)
    error = await ada.call(method, *args)
    assert (error["t"], error["code"], error["retryable"]) == ("error", code, False)
    assert error["message"].startswith(message), error
    await ada.nothing_pending()  # no change came: nothing was written
    assert await committed(served) == before
    assert await ada.ok("add", LONGEST) == 2  # the socket goes on; the longest title fits
    assert ada.titles() == [("milk", 0)]
    assert (await ada.changes(1))[0]["row"]["title"] == LONGEST


async def test_a_full_list_refuses_more(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "MAX_TODOS", 2)
    ada = await lister(served)
    await ada.ok("add", "one")
    await ada.ok("add", "two")
    error = await ada.call("add", "three")
    assert (error["code"], error["message"]) == (
        "object_error",
        "ValueError: the list is full: 2 todos, expected at most 2",
    )
    await ada.ok("remove", 1)
    assert await ada.ok("add", "three") == 3


@pytest.mark.parametrize(
    ("sub", "code"),
    [
        ({"table": "sqlite_sequence"}, "no_such_feed"),
        ({"table": "nope"}, "no_such_feed"),
        ({"where": [["owner", "eq", "ada"]]}, "bad_subscription"),
        ({"columns": ["title", "nope"]}, "bad_subscription"),
        ({"snapshot": True, "since": 0}, "bad_subscription"),
    ],
)
async def test_a_bad_subscription_gets_an_error_frame(
    served: Served, sub: dict[str, Any], code: str
) -> None:
    client = await served.open(HOME)
    await client.send({"t": "sub", "id": SUB, "table": "todos", **sub})
    error = await client.expect("error")
    assert (error["id"], error["code"], error["retryable"]) == (SUB, code, False)
    await client.nothing_pending()


async def test_a_plain_websocket_is_refused(served: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(HOME, v1=False)
    assert refused.value.response.status_code == 400
    assert refused.value.response.body == b"expected the roost.v1 subprotocol"


async def test_a_bad_list_name_never_reaches_an_object(served: Served) -> None:
    too_long = "/objects/todo-list/" + "l" * (feed.MAX_NAME + 1)
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(too_long)
    assert refused.value.response.status_code == 400
    assert b'"invalid_id"' in refused.value.response.body
    status, _, body = await http_get(served.server.url + too_long)
    assert (status, b"bad list name" in body) == (400, True)
    assert served.app.stats().activations == 0


# -- HTTP ----------------------------------------------------------------------------------


async def test_the_root_redirects_to_the_home_list_page(served: Served) -> None:
    status, headers, _ = await http_get(served.server.url + "/")
    assert (status, headers["location"]) == (302, HOME)
    status, headers, body = await http_get(served.server.url + HOME)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"connect-src 'self'" in body  # the strict CSP, as chat's
    for hook in (b'id="todos"', b'id="title"', b'id="add-button"', b'id="status"'):
        assert hook in body
    # One self-contained file: no URL, no src= or href= to load anything from.
    assert (b"://" in body, b"src=" in body, b"href=" in body) == (False, False, False)
    status, _, _ = await http_get(served.server.url + HOME + "/other")
    assert status == 404
