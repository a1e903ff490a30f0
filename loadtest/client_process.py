"""A client process of the load generator: it holds many sockets, in groups, and runs
the commands of its parent (``loadtest.rig``).

Rules:

1. Sockets are opened with at most ``CONNECT_CONCURRENCY`` handshakes in flight, from
   the local ``sources`` when given (``bound_socket``), paced on ``ramp``; a socket that
   fails to open is counted by kind (``error_kind``), never raised.
2. A process publishes its running totals in a shared array (``PROGRESS_FIELDS``) for
   the parent's live progress line.

Commands (see ``loadtest.process``), each answered once:

* ``("connect", group, host, port, items, options)``: ``items`` is a list of
  ``(path, role, room)`` (roles: ``loadtest.roles``); ``options`` has ``roost_v1``,
  ``ramp`` (connections a second from this process, 0: as fast as
  ``CONNECT_CONCURRENCY`` allows) and ``sources`` (local addresses to bind, spreading
  ephemeral ports). Answers ``("connect", opened, errors, connect_histogram, seconds)``.
* ``("run", group, options)``: writers write for ``seconds`` (``size``, ``window``,
  ``rate``, ``measure_from``); then every socket drains. Answers ``("done", outcome)``:
  a dict of counts, the latency histogram and the throughput series.
* ``("wake", group, options)``: the wake probes (``Probe``), see ``loadtest.wake``.
* ``("subscribe", group, frame, seconds)``: the feed subscribers, see ``loadtest.feeds``.
* ``("settle", group, sent, seconds)``: after a run, waits (at most ``seconds``) until
  the group's sockets of each room received every message ``sent`` to it (per room,
  summed over every process): frames still in flight when the window ended are late,
  not lost. Answers ``("settled", outcome)`` with the run's counts as they are then.
* ``("close", group)``: closes the group's sockets; answers ``("close", closed)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket as _socket
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from loadtest.process import Commands, raise_fd_limit, run_loop
from loadtest.roles import Caller, FeedWriter, Probe, Subscriber, Writer, roles
from loadtest.sockets import HandshakeError, Recorder, Socket
from loadtest.stats import TICK, Histogram

__all__ = [
    "CONNECT_CONCURRENCY",
    "PROGRESS_FIELDS",
    "bound_socket",
    "client_main",
    "error_kind",
    "open_socket",
]

#: Handshakes in flight at once per client process (under both servers' listen backlog).
CONNECT_CONCURRENCY = 200
#: Seconds allowed for one socket's TCP connect plus opening handshake.
CONNECT_TIMEOUT = 30.0
#: Seconds allowed for a group's sockets to see their connections end after ``close``.
CLOSE_TIMEOUT = 20.0
#: Seconds without a receipt after which a drained run is over, and the most to wait.
QUIET = 0.3
DRAIN_LIMIT = 10.0
#: Seconds between two looks at the counts while settling.
SETTLE_POLL = 0.05
#: What the shared progress array holds, in order (rule 2).
PROGRESS_FIELDS = ("opened", "delivered", "sent", "errors")


def error_kind(exc: BaseException) -> str:
    """A short stable name for why a connection failed."""
    if isinstance(exc, TimeoutError):
        return "connect_timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno == errno.EMFILE or exc.errno == errno.ENFILE:
            return "fd_limit"
        if exc.errno == errno.EADDRNOTAVAIL or exc.errno == errno.EADDRINUSE:
            return "ephemeral_ports"
        return f"os_{errno.errorcode.get(exc.errno, exc.errno)}"
    if isinstance(exc, HandshakeError):
        return "handshake_failed"
    return type(exc).__name__


IP_BIND_ADDRESS_NO_PORT = getattr(_socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def bound_socket(source: str) -> _socket.socket:
    """A non-blocking TCP socket bound to ``source`` whose port the kernel picks only at
    ``connect`` (``IP_BIND_ADDRESS_NO_PORT``), unique for that destination. A plain
    ``bind((source, 0))`` must pick a port free for every destination, from ports that
    fill up as sockets open: past the ephemeral range's size (28,232 here) every port is
    held by some socket, and each bind searched them (a few hundred connects a second
    near 100,000 sockets)."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        with contextlib.suppress(OSError):  # not Linux: the port is picked by bind
            sock.setsockopt(_socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_socket(
    host: str, port: int, factory: Callable[[], Socket], source: str | None
) -> Socket:
    """Connect one socket (from ``source`` when given) and complete its opening handshake."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        if source:
            sock = bound_socket(source)
            try:
                await loop.sock_connect(sock, (host, port))
                transport, socket = await loop.create_connection(factory, sock=sock)
            except BaseException:
                sock.close()
                raise
        else:
            transport, socket = await loop.create_connection(factory, host, port)
        try:
            await socket.opened
        except BaseException:
            transport.close()
            raise
    return socket


class _ClientProcess:
    """The sockets of one client process, by group, and the commands that drive them."""

    def __init__(self, commands: Commands, progress: Any) -> None:
        self.commands = commands
        self.progress = progress
        self.groups: dict[str, list[Socket]] = {}
        self.recorder = Recorder()
        self.opened = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        """Answer commands until ``("stop",)``; then drop every socket."""
        self.commands.reply("ready", os.getpid())
        publisher = asyncio.create_task(self._publish())
        try:
            while (command := await self.commands.get())[0] != "stop":
                handler = getattr(self, f"do_{command[0]}", None)
                if handler is None:
                    self.commands.reply("error", f"unknown command {command[0]!r}")
                else:
                    await handler(*command[1:])
        finally:
            publisher.cancel()
            for group in self.groups.values():
                for socket in group:
                    socket.close()

    async def _publish(self) -> None:
        """Copy the running totals into the shared progress array (rule 2)."""
        while True:
            recorder = self.recorder
            values = (
                self.opened,
                recorder.delivered,
                sum(recorder.sent.values()),
                sum(recorder.errors.values()),
            )
            for index, value in enumerate(values):
                self.progress[index] = value
            await asyncio.sleep(0.2)

    async def do_connect(
        self,
        group: str,
        host: str,
        port: int,
        items: Sequence[tuple[str, str, int]],
        options: dict[str, Any],
    ) -> None:
        """Open one socket for each ``(path, role, room)`` of ``items``."""
        recorder = self.recorder
        roost_v1 = bool(options.get("roost_v1"))
        ramp = float(options.get("ramp") or 0.0)
        sources: Sequence[str] = options.get("sources") or ()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        times = array("d")
        errors: Counter[str] = Counter()
        sockets = self.groups.setdefault(group, [])
        started = time.monotonic()
        base = int(options.get("first_number", 0))
        give_up = int(options.get("give_up") or 0)
        skipped: list[int] = []
        kinds = roles()

        async def one(index: int, path: str, role: str, room: int) -> None:
            if ramp:
                delay = started + index / ramp - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            url = f"ws://{host}:{port}{path}"
            make = kinds[role]

            def factory() -> Socket:
                return make(url, room, recorder, base + index, roost_v1=roost_v1)

            source = sources[index % len(sources)] if sources else None
            async with gate:
                if give_up and sum(errors.values()) >= give_up:
                    skipped.append(index)  # rule 4: counted, never raised
                    return
                begun = time.monotonic()
                try:
                    socket = await open_socket(host, port, factory, source)
                except (OSError, TimeoutError) as exc:
                    errors[error_kind(exc)] += 1
                    return
            times.append(time.monotonic() - begun)
            sockets.append(socket)
            self.opened += 1

        await asyncio.gather(*(one(i, *item) for i, item in enumerate(items)))
        seconds = time.monotonic() - started
        recorder.errors.update(errors)
        if skipped:
            errors["not_attempted"] = len(skipped)
        wire = Histogram.of(times).to_wire()
        self.commands.reply("connect", len(times), dict(errors), wire, seconds)

    async def do_run(self, group: str, options: dict[str, Any]) -> None:
        """Write for ``seconds``, drain, and report what every socket saw."""
        seconds = float(options["seconds"])
        start = float(options.get("start") or time.monotonic())
        measure_from = start + float(options.get("warmup", 0.0))
        deadline = start + seconds
        ticks = int((seconds + DRAIN_LIMIT + 2.0) / TICK) + 1
        recorder = Recorder(start, measure_from, ticks, deadline)
        self.recorder = recorder
        sockets = self.groups.get(group, [])
        for socket in sockets:
            socket.recorder = recorder
        writers = [s for s in sockets if isinstance(s, Writer | Caller)]
        delay = start - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        rate = float(options.get("rate") or 0.0)
        unpaced = rate <= 0
        size, window = int(options["size"]), int(options["window"])
        count = int(options.get("count") or 0)
        for writer in writers:
            if isinstance(writer, Writer):
                writer.count = count
            writer.start(size, window, deadline, unpaced)
        if not unpaced:
            await self._paced(writers, rate, deadline)
        await self._drain(writers, deadline, counted=count > 0)
        outcome = recorder.outcome()
        tallies = [t for socket in sockets if (t := socket.tally()) is not None]
        if tallies:
            outcome["tallies"] = tallies
        self.commands.reply("done", outcome)

    async def _paced(self, writers: Sequence[Socket], rate: float, deadline: float) -> None:
        """Raise every writer's allowance ``rate`` a second until ``deadline``."""
        begun = time.monotonic()
        while (now := time.monotonic()) < deadline:
            allowed = (now - begun) * rate + 1
            for writer in writers:
                if isinstance(writer, Writer):
                    writer.allowed = allowed
                    writer.pump(now)
            await asyncio.sleep(0.005)

    async def _drain(
        self, writers: Sequence[Writer | Caller | Socket], deadline: float, *, counted: bool
    ) -> None:
        """Wait for the writers' last messages to come back, then for quiet (a counted
        run ends when its writers sent their count, however early)."""
        delay = deadline - time.monotonic()
        if delay > 0 and not counted:
            await asyncio.sleep(delay)
        for writer in writers:
            if isinstance(writer, Writer):
                writer.pump(time.monotonic())
        pending = [w.drained for w in writers if isinstance(w, Writer | Caller) and w.drained]
        allowed = max(0.0, deadline - time.monotonic()) if counted else 0.0
        limit = time.monotonic() + DRAIN_LIMIT + allowed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_LIMIT + allowed):
                await asyncio.gather(*pending)
        if not all(p.done() for p in pending):
            self.recorder.errors["not_drained"] += sum(not p.done() for p in pending)
        seen = -1
        while seen != self.recorder.delivered and time.monotonic() < limit:
            seen = self.recorder.delivered
            await asyncio.sleep(QUIET)

    async def do_settle(self, group: str, sent: dict[int, int], seconds: float) -> None:
        """Wait until every socket of ``group`` got the messages ``sent`` to its room
        (bounded by ``seconds``), then answer the run's counts (late ones included)."""
        recorder = self.recorder
        members = Counter(socket.room for socket in self.groups.get(group, []))
        expected = {room: sent.get(room, 0) * count for room, count in members.items()}
        limit = time.monotonic() + seconds
        # Polled: an event set per receipt would cost every socket's hot path.
        while time.monotonic() < limit:
            if all(recorder.received[room] >= want for room, want in expected.items()):
                break
            await asyncio.sleep(SETTLE_POLL)
        counts = {
            "delivered": recorder.delivered,
            "late": recorder.late,
            "received": dict(recorder.received),
        }
        self.commands.reply("settled", counts)

    async def do_close(self, group: str) -> None:
        """Close the sockets of ``group``; answer once their connections are gone."""
        sockets = self.groups.pop(group, [])
        for socket in sockets:
            socket.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*(socket.lost for socket in sockets))
        self.opened -= len(sockets)
        self.commands.reply("close", sum(socket.lost.done() for socket in sockets))

    async def do_subscribe(self, group: str, frame: bytes, seconds: float) -> None:
        """Send ``frame`` (a ``sub``) on every subscriber of ``group`` at once; answer
        when each got ``subscribed``, with the times and what they received."""
        subs = [s for s in self.groups.get(group, []) if isinstance(s, Subscriber)]
        writers = [s for s in self.groups.get(group, []) if isinstance(s, FeedWriter)]
        first = time.monotonic()
        waits = [s.subscribe(frame) for s in subs]
        try:
            async with asyncio.timeout(seconds):
                await asyncio.gather(*(w.subscribe(frame) for w in writers))
                done = await asyncio.gather(*waits)
        except TimeoutError:
            self.commands.reply("error", f"{group}: not every subscription answered")
            return
        times = Histogram.of(t - s.sub_sent for t, s in zip(done, subs, strict=True))
        await asyncio.sleep(QUIET)  # live changes still on their way are counted too
        self.commands.reply(
            "subscribed",
            times.to_wire(),
            first,
            max(done, default=first),
            sum(s.changes for s in subs),
            sum(s.rows for s in subs),
            max((s.seq for s in subs), default=0),
            dict(self.recorder.errors),
        )

    async def do_wake(self, group: str, options: dict[str, Any]) -> None:
        """The wake scenario's samples (``loadtest.wake.probe``)."""
        from loadtest.wake import probe

        probes = {s.room: s for s in self.groups.get(group, []) if isinstance(s, Probe)}
        sockets = [probes[k] for k in sorted(probes)]
        self.commands.reply("done", await probe(sockets, options))


def client_main(conn: Connection, progress: Any) -> None:
    """Child process entry: hold sockets until told to stop."""
    raise_fd_limit()
    run_loop(lambda: _client(conn, progress))


async def _client(conn: Connection, progress: Any) -> None:
    commands = Commands(conn)
    try:
        await _ClientProcess(commands, progress).serve()
    finally:
        commands.close()
