"""Events of an idle object run at once, in its task's name (hub.runtime.inline); events
that find it busy queue. Both paths keep the input gate, the order and the output gate."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import hub
from hub.errors import InvalidArgumentsError
from tests.conftest import MakeHub, within

T = TypeVar("T")
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


def from_callback(work: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``work`` in a plain loop callback (as the front's ``data_received`` runs)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def callback() -> None:
        assert asyncio.current_task() is None
        done.set_result(work())

    loop.call_soon(callback)
    return done


async def test_a_call_from_a_callback_to_an_idle_object_is_answered_at_once(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    assert await within(stub.add(1)) == 1  # activates the object (a queued event)
    object_id = app.object_id("LOG", "a")
    reply = await from_callback(lambda: app.host.call_wire(object_id, "add", [2], {}))
    assert reply.done() and reply.result() == 2  # the inline path: no loop turn
    names = await stub.task_names()
    assert len(names) == 2 and names[0] == names[1]  # always the object's own task
    assert names[0].startswith("roost:LOG:")


async def test_a_call_from_a_task_is_queued_so_the_task_yields_to_the_loop(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    await within(stub.rows())  # live and idle
    reply = app.host.call_wire(app.object_id("LOG", "a"), "add", [7], {})
    assert not reply.done()  # a caller looping over calls never starves the loop
    assert await within(reply) == 7


async def test_events_arriving_while_one_suspends_queue_behind_it_in_order(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    await within(stub.add(-1))
    object_id = app.object_id("LOG", "a")
    Log.gate = asyncio.Event()

    def submit_all() -> list[asyncio.Future[Any]]:
        first = app.host.call_wire(object_id, "add", [0], {})  # inline, then suspends
        assert not first.done()
        return [first, *(app.host.call_wire(object_id, "add", [n], {}) for n in range(1, 6))]

    replies = await from_callback(submit_all)
    assert not any(reply.done() for reply in replies)
    assert app.stats().objects[0].queued == 5
    await asyncio.sleep(0)
    assert not replies[0].done()  # the task took the suspended call over; it still waits
    Log.gate.set()
    assert await within(asyncio.gather(*replies)) == [0, 1, 2, 3, 4, 5]
    assert await stub.rows() == [-1, 0, 1, 2, 3, 4, 5]
    assert len(set(await stub.task_names())) == 1


async def test_asyncio_timeout_and_context_variables_work_in_an_inline_event(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"LOG": Log})
    stub = app.env.LOG.get_by_name("a")
    await within(stub.rows())  # live and idle: calls from a callback run inline
    object_id = app.object_id("LOG", "a")

    async def call(method: str, *args: Any) -> Any:
        reply = await from_callback(lambda: app.host.call_wire(object_id, method, [*args], {}))
        return await within(reply)

    assert await call("timed") == "timed out"
    assert await call("remember", "x") == ">x"
    assert await call("remember", "y") == "x>y"  # the activation's own context


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
