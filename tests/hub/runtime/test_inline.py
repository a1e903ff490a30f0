"""Events of an idle object run at once, in its task's name (hub.runtime.inline); events
that find it busy queue. Both paths keep the input gate, the order and the output gate."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

import hub
from hub.errors import InvalidArgumentsError
from tests.conftest import MakeHub, within

seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="")


class Log(hub.DurableObject):
    """Records which task ran each call; ``add(0)`` waits for the test's ``gate``."""

    gate: asyncio.Event

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (n INTEGER)")
        self.tasks: list[str] = []

    async def add(self, n: int) -> int:
        task = asyncio.current_task()
        self.tasks.append("" if task is None else task.get_name())
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", n)
        if n == 0:  # this call waits: the ones after it must queue behind it
            await Log.gate.wait()
        return n

    async def rows(self) -> list[int]:
        return [int(r["n"]) for r in self.ctx.storage.sql.exec("SELECT n FROM log ORDER BY rowid")]

    async def task_names(self) -> list[str]:
        return self.tasks

    async def timed(self) -> str:
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "not timed out"

    async def remember(self, value: str) -> str:
        before = seen.get()
        seen.set(value)
        await asyncio.sleep(0)  # the rest runs in the task: the variable is still set
        return before + ">" + seen.get()

    async def pair(self, a: int, b: str = "dflt") -> list[Any]:
        return [a, b]

    async def keywords(self, a: int, *, b: int = 2) -> list[int]:
        return [a, b]


async def test_a_call_to_an_idle_object_is_answered_before_call_wire_returns(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    assert await within(stub.add(1)) == 1  # activates the object (a queued event)
    object_id = app.object_id("LOG", "a")
    reply = app.host.call_wire(object_id, "add", [2], {})
    assert reply.done() and reply.result() == 2  # the inline path: no loop turn
    names = await stub.task_names()
    assert len(set(names)) == 1 and names[0].startswith("roost:LOG:")  # always its task


async def test_events_arriving_while_one_suspends_queue_behind_it_in_order(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    await within(stub.add(-1))
    object_id = app.object_id("LOG", "a")
    Log.gate = asyncio.Event()
    first = app.host.call_wire(object_id, "add", [0], {})  # inline, then suspends
    later = [app.host.call_wire(object_id, "add", [n], {}) for n in range(1, 6)]
    assert not first.done() and not any(f.done() for f in later)
    assert app.stats().objects[0].queued == 5
    await asyncio.sleep(0)
    assert not first.done()  # the task took the suspended call over; it still waits
    Log.gate.set()
    assert await within(asyncio.gather(first, *later)) == [0, 1, 2, 3, 4, 5]
    assert await stub.rows() == [-1, 0, 1, 2, 3, 4, 5]
    assert len(set(await stub.task_names())) == 1


async def test_asyncio_timeout_and_context_variables_work_in_an_inline_event(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    await within(stub.rows())  # live and idle: the next calls run inline
    assert await within(stub.timed()) == "timed out"
    assert await within(stub.remember("x")) == ">x"
    assert await within(stub.remember("y")) == "x>y"  # the activation's own context


async def test_a_call_from_inside_a_task_runs_inline_and_gives_the_task_back(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    await within(stub.rows())
    mine = asyncio.current_task()
    reply = app.host.call_wire(app.object_id("LOG", "a"), "add", [7], {})
    assert reply.done() and asyncio.current_task() is mine


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ([1], {}, [1, "dflt"]),  # positional only: the precompiled path
        ([1, "x"], {}, [1, "x"]),
        ([1], {"b": "y"}, [1, "y"]),  # keywords: Signature.bind
        ([], {"a": 3}, [3, "dflt"]),
    ],
)
async def test_arguments_bind_the_same_on_the_fast_and_the_slow_path(
    make_hub: MakeHub, args: list[Any], kwargs: dict[str, Any], expected: list[Any]
) -> None:
    app, _ = await make_hub({"LOG": Log})
    reply = app.host.call_wire(app.object_id("LOG", "a"), "pair", args, kwargs)
    assert await within(reply) == expected


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("pair", ["no"], "Expected `int`, got `str` - at `$.a`"),
        ("pair", [], "missing a required argument: 'a'"),
        ("pair", [1, "x", 3], "too many positional arguments"),
        ("keywords", [1, 2], "too many positional arguments"),
    ],
)
async def test_invalid_arguments_read_the_same_on_either_path(
    make_hub: MakeHub, method: str, args: list[Any], message: str
) -> None:
    app, _ = await make_hub({"LOG": Log})
    reply = app.host.call_wire(app.object_id("LOG", "a"), method, args, {})
    with pytest.raises(InvalidArgumentsError, match=f"invalid arguments for {method}\\(\\): "):
        await within(reply)
    assert message in str(reply.exception())
