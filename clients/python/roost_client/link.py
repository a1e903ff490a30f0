"""One socket's life inside a connection: hello, welcome, then frames both ways.

Rules:

1. ``hello`` is the first frame; the link is open once ``welcome`` arrived (SPEC §3).
   Then the outbox is rewound, so unacknowledged messages go out again in id order
   before new ones (SPEC §5.1).
2. One writer task is the only writer of outbox entries, in outbox order; the
   keep-alive ``ping`` is the only other frame written.
3. The reader is the only place hub frames are decoded (``wire.decode``). A frame it
   cannot read is reported and skipped: a bad frame never closes the connection or
   loses a message. Feed frames go to the subscriptions, presence frames to the
   presence, synchronously: neither ever makes the reader wait.
4. The link never decides about reconnecting: it reports how the socket ended (close
   code, reason, the last ``error`` frame about the socket) to the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed as WsConnectionClosed

import protocol
from roost_client import wire
from roost_client.calls import Calls
from roost_client.errors import BadFrame, RoostError, from_frame
from roost_client.inbox import Inbox
from roost_client.outbox import Outbox
from roost_client.subscriptions import Subscriptions

__all__ = ["Ended", "Link", "Shared"]

log = logging.getLogger("roost_client")

_PING = wire.ping()
_FEED_FRAMES = (protocol.Snapshot, protocol.Changes, protocol.Subscribed, protocol.Reset)
_PRESENCE_FRAMES = (protocol.Presence, protocol.Join, protocol.Update, protocol.Leave)


@dataclass(frozen=True, slots=True)
class Shared:
    """The connection's state that outlives its sockets, as a link uses it."""

    outbox: Outbox
    calls: Calls
    inbox: Inbox
    #: Set when the outbox has something new to write.
    writable: asyncio.Event
    #: Set when the outbox shrank (``flush`` waits on it).
    progress: asyncio.Event
    #: Where errors no caller receives go (``on_error`` listeners).
    report: Callable[[RoostError], None]
    #: The subscriptions and presence, for their frames and errors.
    subscriptions: Subscriptions


@dataclass(frozen=True, slots=True)
class Ended:
    """How a link's socket ended."""

    opened: bool
    code: int
    reason: str
    #: The last ``error`` frame without id (about the socket) the hub sent, if any.
    last_error: RoostError | None


class Link:
    """Runs one ``roost.v1`` socket until it ends."""

    def __init__(
        self,
        ws: ClientConnection,
        shared: Shared,
        *,
        hello: str,
        open_timeout: float,
        ping_interval: float | None,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.ws = ws
        self.socket_id: int | None = None
        self._shared = shared
        self._hello = hello
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._sleep = sleep
        self._welcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last_error: RoostError | None = None
        self._pong_due = False

    async def run(self, on_open: Callable[[Link], None]) -> Ended:
        """Say hello, call ``on_open`` once welcomed, serve the socket until it ends."""
        loop = asyncio.get_running_loop()
        ws = self.ws
        reader = loop.create_task(self._read())
        tasks = [reader]
        opened = False
        try:
            with contextlib.suppress(WsConnectionClosed):
                await ws.send(self._hello)  # if it fails, the reader sees the close
            await asyncio.wait(
                {self._welcome, reader},
                timeout=self._open_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._welcome.done():
                opened = True
                self._shared.outbox.rewind()
                on_open(self)
                tasks.append(loop.create_task(self._write()))
                if self._ping_interval is not None:
                    tasks.append(loop.create_task(self._keep_alive(self._ping_interval)))
            elif not reader.done():
                log.warning("no welcome within %s seconds; dropping the socket", self._open_timeout)
                ws.transport.abort()
            await reader
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if ws.close_code is None:
                ws.transport.abort()
        code = ws.close_code if ws.close_code is not None else 1006
        return Ended(opened, code, ws.close_reason or "", self._last_error)

    async def _read(self) -> None:
        """Handle every frame until the socket closes (rule 3)."""
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    await self._shared.inbox.put(raw)
                    continue
                try:
                    frame = wire.decode(raw)
                except BadFrame as error:
                    self._shared.report(error)
                    continue
                await self._handle(frame)
        except WsConnectionClosed:
            pass

    async def _handle(self, frame: protocol.HubFrame) -> None:
        shared = self._shared
        if isinstance(frame, protocol.HubMessage):
            await shared.inbox.put(frame.data)
        elif isinstance(frame, protocol.Ack):
            if shared.outbox.settle(frame.id) is not None:
                shared.progress.set()
        elif isinstance(frame, protocol.Result):
            shared.calls.resolve(frame.id, frame.result)
        elif isinstance(frame, protocol.Error):
            self._error(frame)
        elif isinstance(frame, _FEED_FRAMES):
            shared.subscriptions.receive(frame)
        elif isinstance(frame, _PRESENCE_FRAMES):
            shared.subscriptions.receive_presence(frame)
        elif isinstance(frame, protocol.Welcome):
            if not self._welcome.done():
                self.socket_id = frame.socket
                self._welcome.set_result(None)
        else:  # Pong
            self._pong_due = False

    def _error(self, frame: protocol.Error) -> None:
        shared = self._shared
        error = from_frame(frame)
        if frame.id is None:
            self._last_error = error
        elif shared.calls.fail(frame.id, error) or shared.subscriptions.fail(frame.id, error):
            return
        elif shared.outbox.settle(frame.id) is not None:
            shared.progress.set()  # a message whose handler raised (SPEC §5.4)
        shared.report(error)

    async def _write(self) -> None:
        """Write outbox entries in order while the socket is open (rule 2)."""
        shared = self._shared
        try:
            while True:
                shared.writable.clear()
                entry = shared.outbox.take()
                if entry is None:
                    shared.progress.set()
                    await shared.writable.wait()
                    continue
                if entry.call_id is not None and not shared.calls.written(entry.call_id):
                    continue  # the caller stopped waiting
                await self.ws.send(entry.payload)
        except WsConnectionClosed:
            pass

    async def _keep_alive(self, interval: float) -> None:
        """``ping`` every ``interval`` seconds; no ``pong`` by the next one: drop (SPEC §8)."""
        try:
            while True:
                await self._sleep(interval)
                if self._pong_due:
                    log.warning("no pong within %s seconds; dropping the socket", interval)
                    self.ws.transport.abort()
                    return
                self._pong_due = True
                await self.ws.send(_PING)
        except WsConnectionClosed:
            pass
