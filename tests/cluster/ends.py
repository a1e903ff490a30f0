"""Link ends for the cluster's unit tests: real Unix socket pairs, and a recorder that
stands at the far end of a link (a gateway's or a worker's peer) and keeps what it got.

Nothing here sleeps: a test waits on the recorder's queue, with the suite's timeout.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from hub.cluster.wire import Link, Message
from tests.conftest import within


async def socket_link(factory: Callable[[], Link], sock: socket.socket) -> Link:
    """A ``Link`` made by ``factory`` over one end of a connected Unix socket."""
    loop = asyncio.get_running_loop()
    _transport, link = await loop.create_unix_connection(factory, sock=sock)
    return link


async def accepted_link(factory: Callable[[], Link], sock: socket.socket) -> Link:
    """A ``Link`` made by ``factory`` over ``sock``, as a gateway's server makes one."""
    loop = asyncio.get_running_loop()
    _transport, link = await loop.connect_accepted_socket(factory, sock=sock)
    return link


class Peer:
    """One end of a link that records every message, in order, and its loss."""

    def __init__(self) -> None:
        self.received: list[Message] = []
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.lost = 0
        self.gone = asyncio.Event()
        self.link = Link(self.on_message, self.on_lost)

    def on_message(self, link: Link, message: Message) -> None:
        self.received.append(message)
        self.inbox.put_nowait(message)

    def on_lost(self, link: Link) -> None:
        self.lost += 1
        self.gone.set()

    async def next(self) -> Message:
        """The next message not read yet (waits for it)."""
        return await within(self.inbox.get())

    async def expect(self, kind: str) -> Message:
        """The next message, which must be of ``kind``."""
        message = await self.next()
        assert message[0] == kind, f"expected a {kind!r} message, got {message!r}"
        return message

    def unread(self) -> list[Message]:
        """The messages that arrived and were not read yet."""
        found = []
        while not self.inbox.empty():
            found.append(self.inbox.get_nowait())
        return found


async def peer_pair() -> tuple[Peer, Peer]:
    """Two recorders linked over a real Unix socket pair."""
    left, right = socket.socketpair()
    a, b = Peer(), Peer()
    await accepted_link(lambda: a.link, left)
    await socket_link(lambda: b.link, right)
    return a, b
