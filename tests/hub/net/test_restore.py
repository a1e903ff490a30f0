"""A restore on a served hub: sockets stay open, feed subscribers reset and resubscribe
to the restored rows, resuming clients reset too, and ctx.abort makes it take effect."""

from __future__ import annotations

import pytest

import hub
from tests.hub.net.conftest import Serve, Served
from tests.hub.net.test_feeds import Todos, changes, stub, subscribe, todos
from tests.hub.net.test_roost_v1 import frame, send


class Restorable(Todos):
    async def bookmark(self) -> str:
        return await self.ctx.storage.get_current_bookmark()

    async def restore(self, bookmark: str) -> str:
        undo = await self.ctx.storage.on_next_session_restore_bookmark(bookmark)
        self.ctx.abort("restoring")  # the restore takes effect now: a fresh instance
        return undo  # never reached: abort raises


@pytest.fixture
async def served(serve: Serve) -> Served:
    return await serve({"TODOS": Restorable})


async def test_a_restore_keeps_sockets_and_resets_subscribers(served: Served) -> None:
    await stub(served).add(1, "milk")
    point = await stub(served).bookmark()
    ws = await todos(served)
    assert (await subscribe(ws, snapshot=True))[-1] == {"t": "subscribed", "id": 7, "seq": 1}
    await stub(served).add(2, "bread")
    await stub(served).remove(1)
    seen = await changes(ws, 2)
    newest = seen[-1]["seq"]
    with pytest.raises(hub.RpcError) as aborted:
        await stub(served).restore(point)
    assert aborted.value.code == "object_aborted"
    # The next event starts a fresh instance on the restored file; the live subscriber
    # is told to reset, and its socket stays open.
    assert await stub(served).rows() == [{"id": 1, "title": "milk", "done": 0, "list": "home"}]
    assert await frame(ws) == {"t": "reset", "id": 7}
    again = await subscribe(ws, id=8, snapshot=True)
    assert again[0]["rows"] == [{"id": 1, "title": "milk", "done": 0, "list": "home"}]
    restored_seq = again[-1]["seq"]
    assert restored_seq > newest  # no seq a subscriber saw is reused
    # A client resuming from before the restore is told to reset, not replayed.
    other = await todos(served)
    assert (await subscribe(other, id=9, since=newest)) == [{"t": "reset", "id": 9}]
    # Live changes go on after the restore, on the same socket.
    await stub(served).add(3, "eggs")
    (change,) = await changes(ws, 1)
    assert (change["seq"], change["op"], change["row"]["id"]) == (restored_seq + 1, "insert", 3)
    await send(ws, {"t": "ping"})
    assert await frame(ws) == {"t": "pong"}
