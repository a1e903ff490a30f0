"""``roost serve --workers N --gateways M``: objects in worker processes, sockets in
gateway processes, and code deploys, crashes and stuck workers that close no socket
(except a gateway's own, whose clients reconnect)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import roost_client
import websockets
from roost_client import State

import hub
from hub.ids import id_from_name
from hub.runtime.host import partition_of
from tests.cluster.conftest import Cluster, StartCluster
from tests.conftest import eventually, within


def rooms(count: int, partition: int, workers: int = 2) -> list[str]:
    """``count`` room names that live in ``partition`` of ``workers``."""
    names = (f"room-{i}" for i in range(10_000))
    return [
        name for name in names if partition_of(id_from_name("ROOM", name).hex, workers) == partition
    ][:count]


class Client:
    """One roost.v1 connection that sends numbered messages and records what happens."""

    def __init__(self, conn: roost_client.Connection, sender: str) -> None:
        self.conn = conn
        self.sender = sender
        self.sent = 0
        self.replies: list[str] = []
        self.states: list[State] = []
        conn.on_state_change(lambda change: self.states.append(change.state))
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.conn:
            assert isinstance(message, str)
            self.replies.append(message)

    def send(self) -> None:
        self.conn.send(f"{self.sender}:{self.sent}")
        self.sent += 1

    @property
    def reconnected(self) -> bool:
        return State.RECONNECTING in self.states


@asynccontextmanager
async def clients(cluster: Cluster, names: list[str]) -> AsyncIterator[list[Client]]:
    async with AsyncExitStack() as stack:
        opened = []
        for index, name in enumerate(names):
            conn = await within(
                stack.enter_async_context(
                    roost_client.connect(host=cluster.host, binding="ROOM", name=name)
                )
            )
            opened.append(Client(conn, f"c{index}"))
        yield opened
        for client in opened:
            client._reader.cancel()


@asynccontextmanager
async def spread(
    cluster: Cluster, name_of: Callable[[int], str], at_least: int
) -> AsyncIterator[list[Client]]:
    """Clients of rooms ``name_of(0)``, ``name_of(1)``, ...: at least ``at_least``, and
    more until both gateways hold some (the kernel picks a gateway for each connect)."""
    async with AsyncExitStack() as stack:
        opened: list[Client] = []
        while len(opened) < at_least or len({c.conn.socket_id % 2 for c in opened}) < 2:
            assert len(opened) < at_least + 32, "every connect went to one gateway"
            index = len(opened)
            conn = await within(
                stack.enter_async_context(
                    roost_client.connect(host=cluster.host, binding="ROOM", name=name_of(index))
                )
            )
            opened.append(Client(conn, f"c{index}"))
        yield opened
        for client in opened:
            client._reader.cancel()


async def send_for(clients: list[Client], stop: asyncio.Event) -> None:
    """Each client sends a message every few milliseconds until ``stop``."""
    while not stop.is_set():
        for client in clients:
            client.send()
        await asyncio.sleep(0.01)


async def assert_each_message_once(cluster: Cluster, names: list[str], cs: list[Client]) -> None:
    for client in cs:
        await within(client.conn.flush(), 3)  # every message acknowledged
    for name, client in zip(names, cs, strict=True):
        log = await cluster.call(name, "log")
        assert isinstance(log, list)
        sent = [row[1] for row in log if row[0] == client.sender]
        assert sent == list(range(client.sent)), f"{client.sender}: lost, repeated or reordered"


async def test_objects_run_in_both_workers_and_call_each_other(cluster: StartCluster) -> None:
    running = await cluster(workers=2, gateways=1)
    left, right = rooms(1, 0)[0], rooms(1, 1)[0]
    (_, left_pid), (_, right_pid) = (
        await running.call(left, "where"),
        await running.call(right, "where"),
    )  # type: ignore[misc]
    workers = {child.index: child.pid for child in running.workers()}
    assert (left_pid, right_pid) == (workers[0], workers[1])
    assert await running.call(left, "relay", right, "hi") == "v1 hi"
    async with clients(running, [left, right]) as cs:
        for client in cs:
            client.send()
        await eventually(lambda: all(c.replies for c in cs), "both replies")
        assert [c.replies for c in cs] == [["v1 c0:0"], ["v1 c1:0"]]


async def test_reload_under_load_keeps_every_socket_and_every_message(
    cluster: StartCluster,
) -> None:
    running = await cluster(workers=2, gateways=2)
    names = rooms(3, 0) + rooms(3, 1)
    async with (
        clients(running, names) as cs,
        roost_client.connect(host=running.host, binding="ROOM", name=names[0]) as watcher,
    ):
        changes: list[roost_client.Change] = []

        async def follow() -> None:
            async with watcher.subscribe("log", snapshot=True) as sub:
                async for change in sub:
                    changes.append(change)

        following = asyncio.ensure_future(follow())
        stop = asyncio.Event()
        load = asyncio.ensure_future(send_for(cs, stop))
        await eventually(lambda: all(len(c.replies) > 3 for c in cs), "replies before")
        running.edit("v2")
        await running.reload()
        running.edit("v3")
        await running.reload()
        await eventually(lambda: all(c.replies[-1].startswith("v3") for c in cs), "v3 replies")
        stop.set()
        await load
        await assert_each_message_once(running, names, cs)
        assert not any(client.reconnected for client in cs), "a socket was closed"
        assert watcher.state == State.OPEN
        log = await running.call(names[0], "log")
        assert isinstance(log, list)
        await eventually(lambda: len([c for c in changes if c.op != "snapshot"]) >= 1, "changes")
        rows = [c.row for c in changes if c.row is not None]
        ids = [row["id"] for row in rows]
        assert ids == sorted(set(ids)), "the feed repeated or reordered a change"
        await eventually(
            lambda: len({c.row["id"] for c in changes if c.row}) == len(log),
            "every row in the feed",
        )
        following.cancel()


async def test_kill_9_of_a_worker_keeps_its_sockets_and_acknowledged_messages(
    cluster: StartCluster,
) -> None:
    running = await cluster(workers=2, gateways=1)
    names = rooms(2, 0) + rooms(2, 1)
    async with clients(running, names) as cs:
        stop = asyncio.Event()
        load = asyncio.ensure_future(send_for(cs, stop))
        await eventually(lambda: all(len(c.replies) > 3 for c in cs), "replies before")
        victim = running.workers()[0]
        os.kill(victim.pid, signal.SIGKILL)
        await eventually(
            lambda: any(c.index == 0 and c.pid != victim.pid for c in running.workers()),
            "a new worker 0",
        )
        before = [len(c.replies) for c in cs]
        await eventually(
            lambda: all(len(c.replies) > n + 3 for c, n in zip(cs, before, strict=True)),
            "replies after",
        )
        stop.set()
        await load
        await assert_each_message_once(running, names, cs)
        assert not any(client.reconnected for client in cs), "a socket was closed"


async def test_kill_9_of_a_gateway_drops_its_sockets_and_their_clients_resume(
    cluster: StartCluster,
) -> None:
    running = await cluster(workers=1, gateways=2)
    async with spread(running, lambda i: f"room-{i}", 12) as cs:
        names = [f"room-{i}" for i in range(len(cs))]
        stop = asyncio.Event()
        load = asyncio.ensure_future(send_for(cs, stop))
        await eventually(lambda: all(len(c.replies) > 3 for c in cs), "replies before")
        victims = [c for c in cs if c.conn.socket_id is not None and c.conn.socket_id % 2 == 0]
        os.kill(running.gateways()[0].pid, signal.SIGKILL)
        await eventually(lambda: all(c.reconnected for c in victims), "the victims reconnect")
        await eventually(lambda: all(c.conn.state == State.OPEN for c in cs), "all open again")
        before = [len(c.replies) for c in cs]
        await eventually(
            lambda: all(len(c.replies) > n + 3 for c, n in zip(cs, before, strict=True)),
            "replies after",
        )
        stop.set()
        await load
        await assert_each_message_once(running, names, cs)
        survivors = [c for c in cs if c not in victims]
        assert not any(client.reconnected for client in survivors)
        # The objects were told their sockets closed (1006), once each.
        closed = [
            row for name in names for row in await running.call(name, "log") if row[0] == "closed"
        ]  # type: ignore[union-attr]
        assert len(closed) >= len(victims)


async def test_a_worker_that_never_finishes_draining_is_killed_at_the_deadline(
    cluster: StartCluster,
) -> None:
    running = await cluster(1, 1, "--shutdown-timeout", "1")
    async with clients(running, ["stuck"]) as (client,):
        client.send()
        await eventually(lambda: client.replies == ["v1 c0:0"], "first reply")
        old = running.workers()[0]
        client.conn.send("stall 120", exactly_once=False)  # its loop never runs again
        running.edit("v2")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await running.reload()
        assert loop.time() - started < 15, "the deadline (1 s) did not hold"
        assert old.pid not in {c.pid for c in running.children()}
        client.send()
        await eventually(lambda: client.replies[-1] == "v2 c0:1", "the new worker answers")
        assert not client.reconnected


async def test_presence_spans_gateways(cluster: StartCluster) -> None:
    running = await cluster(workers=1, gateways=2)
    async with spread(running, lambda i: "lobby", 8) as cs:
        watcher = next(c for c in cs if c.conn.socket_id is not None and c.conn.socket_id % 2 == 0)
        leaver = next(c for c in cs if c.conn.socket_id is not None and c.conn.socket_id % 2 == 1)
        members = watcher.conn.presence
        for client in cs:
            client.conn.send(f"as {client.sender}")
        everyone = {c.conn.socket_id: {"name": c.sender} for c in cs}
        await eventually(lambda: members.members == everyone, "every member, from both gateways")
        await leaver.conn.close()
        del everyone[leaver.conn.socket_id]
        await eventually(lambda: members.members == everyone, "the leaver gone")


async def test_sigterm_stops_every_process_and_closes_sockets_with_1001(
    cluster: StartCluster,
) -> None:
    running = await cluster(workers=2, gateways=2)
    sockets = [
        await within(websockets.connect(f"ws://{running.host}/objects/room/r{i}")) for i in range(4)
    ]
    for index, ws in enumerate(sockets):
        await ws.send(f"s{index}:0")
        assert await within(ws.recv()) == f"v1 s{index}:0"
    children = running.children()
    running.process.send_signal(signal.SIGTERM)
    assert await within(running.process.wait()) == 0
    for ws in sockets:
        await within(ws.wait_closed())
        assert ws.close_code == 1001
    for child in children:
        assert not running.is_child_alive(child), f"{child.role} {child.index} still runs"


async def test_broadcasts_reach_every_gateway_s_sockets_through_reloads(
    cluster: StartCluster,
) -> None:
    running = await cluster(workers=2, gateways=2)
    async with AsyncExitStack() as stack:
        by_room: dict[str, list[Client]] = {}
        for name in rooms(2, 0) + rooms(2, 1):
            by_room[name] = await stack.enter_async_context(
                spread(running, lambda i, name=name: name, 4)
            )
        cs = [client for members in by_room.values() for client in members]
        count = 150

        async def write() -> None:
            for n in range(count):
                for members in by_room.values():
                    members[0].conn.send(f"all {n}")
                await asyncio.sleep(0.01)

        writing = asyncio.ensure_future(write())
        await eventually(lambda: all(c.replies for c in cs), "first broadcasts")
        await running.reload()
        await running.reload()
        await within(writing, 3)
        for members in by_room.values():
            await within(members[0].conn.flush(), 3)
        expected = [f"all {n}" for n in range(count)]
        await eventually(lambda: all(len(c.replies) >= count for c in cs), "every broadcast")
        for client in cs:
            assert client.replies == expected, (
                f"{client.sender} on gateway {client.conn.socket_id % 2}"
            )
        assert not any(client.reconnected for client in cs)


async def test_reload_flag_replaces_the_workers_on_a_code_change_and_keeps_sockets(
    cluster: StartCluster,
) -> None:
    running = await cluster(1, 1, "--reload")
    async with clients(running, ["dev"]) as (client,):
        client.send()
        await eventually(lambda: client.replies == ["v1 c0:0"], "first reply")
        old = running.workers()[0]

        async def edited() -> None:
            # The watcher starts with the hub: a change made before it runs goes unseen,
            # so the edit is made again until a new worker comes.
            while [w.pid for w in running.workers()] in ([], [old.pid]):
                running.edit("v2")
                await asyncio.sleep(0.5)

        await within(edited())

        async def answered_by_v2() -> None:
            while not client.replies[-1].startswith("v2"):
                client.send()
                await asyncio.sleep(0.05)

        await within(answered_by_v2())
        await within(client.conn.flush())
        assert not client.reconnected


async def test_gateways_serve_the_js_client_without_the_admin_key(cluster: StartCluster) -> None:
    running = await cluster(1, 2, "--admin-key", "s3cret")
    bundle = (Path(hub.__file__).parent / "static" / "roost-client.js").read_bytes()
    async with httpx.AsyncClient() as client:
        for _ in range(4):  # new connections, spread over both gateways by the kernel
            answer = await client.get(
                f"{running.url}/_roost/client.js", headers={"connection": "close"}
            )
            assert answer.status_code == 200
            assert answer.headers["content-encoding"] == "gzip"  # httpx accepts gzip
            assert answer.content == bundle
        assert (await client.get(f"{running.url}/_roost/metrics")).status_code == 401
