"""The end of a window: deliveries still in flight are waited for and counted late, and
only those that never come are missing (``loadtest.rig`` rule 6). Real client sockets
of a client process, fed receipts by hand (no server: the counting is what is tested)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loadtest.client_process import _ClientProcess
from loadtest.sockets import Recorder, Socket


class Replies:
    """The client process's command pipe, as far as ``do_settle`` uses it."""

    def __init__(self) -> None:
        self.got: list[tuple[Any, ...]] = []

    def reply(self, *message: Any) -> None:
        self.got.append(message)


def process_with(room_sizes: dict[int, int], ends: float) -> tuple[_ClientProcess, Replies]:
    replies = Replies()
    process = _ClientProcess(replies, [0] * 4)  # type: ignore[arg-type]
    process.recorder = Recorder(ends=ends)
    process.groups["g"] = [
        Socket("ws://127.0.0.1:9/objects/room/r", room, process.recorder)
        for room, size in room_sizes.items()
        for _ in range(size)
    ]
    return process, replies


async def test_a_receipt_after_the_window_is_late_and_waited_for() -> None:
    process, replies = process_with({0: 3, 1: 2}, ends=time.monotonic() - 1.0)
    settling = asyncio.create_task(process.do_settle("g", {0: 2, 1: 1}, 30.0))
    sockets = process.groups["g"]
    for socket in sockets:  # every member of both rooms gets one message
        socket.received(1, time.monotonic())
    await asyncio.sleep(0)
    assert not settling.done()  # room 0 still owes each of its 3 members one message
    for socket in sockets[:3]:
        socket.received(1, time.monotonic())
    await asyncio.wait_for(settling, 30.0)
    assert replies.got == [("settled", {"delivered": 8, "late": 8, "received": {0: 6, 1: 2}})]


async def test_what_never_comes_is_left_missing_once_the_wait_is_over() -> None:
    process, replies = process_with({0: 2}, ends=time.monotonic() + 3600.0)
    process.groups["g"][0].received(1, time.monotonic())
    await asyncio.wait_for(process.do_settle("g", {0: 1}, 0.1), 30.0)
    # One of the two messages owed never came: not late, missing (lost, for the parent).
    assert replies.got == [("settled", {"delivered": 1, "late": 0, "received": {0: 1}})]
