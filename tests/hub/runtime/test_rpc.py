"""Stubs and RPC: public methods only, arguments checked first, errors with flags."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

import hub
from tests.conftest import MakeHub, within


@dataclasses.dataclass
class Message:
    author: str
    body: str
    sent: datetime


class Room(hub.DurableObject):
    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, v)")

    async def add(self, a: int, b: int = 10, *, scale: int = 1) -> int:
        return (a + b) * scale

    def sync_method(self, words: list[str]) -> str:
        return " ".join(words)

    async def post(self, message: Message) -> Message:
        assert isinstance(message, Message)
        assert isinstance(message.sent, datetime)
        self.ctx.storage.sql.exec("INSERT INTO log (v) VALUES (?)", message.body)
        return message

    async def record(self, value: Any) -> int:
        self.ctx.storage.sql.exec("INSERT INTO log (v) VALUES (?)", str(value))
        await asyncio.sleep(0)  # yield: a second call must still not interleave
        return int(self.ctx.storage.sql.exec("SELECT count(*) AS n FROM log").one()["n"])

    async def log(self) -> list[str]:
        rows = self.ctx.storage.sql.exec("SELECT v FROM log ORDER BY seq")
        return [str(row["v"]) for row in rows]

    async def mutate(self, items: list[int]) -> list[int]:
        items.append(99)
        return items

    async def fail(self, message: str) -> None:
        self.ctx.storage.sql.exec("INSERT INTO log (v) VALUES ('written before the raise')")
        raise ValueError(message)

    async def leak(self) -> object:
        return object()

    async def my_name(self) -> str | None:
        return self.ctx.id.name

    def _secret(self) -> str:
        return "never"

    async def alarm(self, info: hub.AlarmInfo) -> None:
        pass

    async def fetch(self, request: object) -> None:
        pass


APP = {"ROOM": Room}


async def test_public_methods_run_with_positional_keyword_and_default_arguments(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    assert await room.add(1) == 11
    assert await room.add(1, 2, scale=3) == 9
    assert await room.sync_method(["a", "b"]) == "a b"


async def test_arguments_and_results_convert_to_annotated_types(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    sent = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    result = await app.env.ROOM.get_by_name("r").post(Message("ada", "hi", sent))
    assert result == Message("ada", "hi", sent)


async def test_caller_and_object_never_share_a_mutable_value(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    mine = [1, 2]
    returned = await app.env.ROOM.get_by_name("r").mutate(mine)
    assert mine == [1, 2]
    assert returned == [1, 2, 99]


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        (("one",), {}, "Expected `int`, got `str` - at `$.a`"),
        ((), {}, "missing a required argument: 'a'"),
        ((1, 2, 3), {}, "too many positional arguments"),
        ((1,), {"nope": 1}, "unexpected keyword argument 'nope'"),
        ((True,), {}, "Expected `int`, got `bool`"),
    ],
)
async def test_invalid_arguments_are_refused_before_the_method_runs(
    make_hub: MakeHub, args: tuple[Any, ...], kwargs: dict[str, Any], fragment: str
) -> None:
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    with pytest.raises(hub.InvalidArgumentsError) as caught:
        await room.add(*args, **kwargs)
    assert fragment in str(caught.value)
    assert caught.value.code == "invalid_arguments"
    assert not caught.value.remote


async def test_invalid_struct_argument_does_not_run_the_method(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    with pytest.raises(hub.InvalidArgumentsError, match=r"at `\$.message.sent`"):
        await room.post({"author": "a", "body": "b", "sent": "not a date"})
    assert await room.log() == []


async def test_unserializable_arguments_are_refused_at_the_call(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    with pytest.raises(hub.InvalidArgumentsError, match="not serializable"):
        app.env.ROOM.get_by_name("r").record(object())


@pytest.mark.parametrize(
    ("method", "fragment"),
    [
        ("_secret", "is private"),
        ("alarm", "lifecycle method"),
        ("websocket_message", "lifecycle method"),
        ("nothing_here", "is not a public method"),
    ],
)
async def test_private_lifecycle_and_unknown_methods_are_never_callable(
    make_hub: MakeHub, method: str, fragment: str
) -> None:
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    with pytest.raises(hub.MethodNotFoundError, match=fragment) as caught:
        getattr(room, method)
    assert caught.value.code == "method_not_found"
    assert isinstance(caught.value, AttributeError)


async def test_stub_fetch_is_the_http_fetch_never_an_rpc_of_the_method(make_hub: MakeHub) -> None:
    """``stub.fetch`` sends a request (the anchor's ``stub.fetch``); ``fetch`` is still
    not callable by name as RPC."""
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    assert room.fetch.__func__ is hub.DurableObjectStub.fetch
    with pytest.raises(hub.MethodNotFoundError, match="lifecycle method"):
        app.host.call_wire(room.id, "fetch", [], {})


async def test_object_errors_reach_the_caller_with_type_message_and_flags(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    with pytest.raises(hub.RemoteError) as caught:
        await room.fail("no such thing")
    error = caught.value
    assert (error.type_name, error.message) == ("ValueError", "no such thing")
    assert (error.remote, error.retryable, error.overloaded) == (True, False, False)
    assert error.code == "object_error"
    assert await room.log() == []  # the write before the raise rolled back


async def test_unserializable_result_is_an_object_error_and_rolls_back(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    with pytest.raises(hub.RemoteError, match="result of leak\\(\\) is not serializable"):
        await app.env.ROOM.get_by_name("r").leak()


async def test_calls_on_one_stub_arrive_in_call_order(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    pending = [room.record(i) for i in range(50)]
    counts = await within(asyncio.gather(*reversed(pending)))
    assert sorted(counts) == list(range(1, 51))
    assert await room.log() == [str(i) for i in range(50)]


async def test_an_unawaited_call_still_runs(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    room = app.env.ROOM.get_by_name("r")
    room.record("fire and forget")
    assert await room.log() == ["fire and forget"]


async def test_ctx_id_name_is_known_inside_even_via_id_from_string(make_hub: MakeHub) -> None:
    app, _ = await make_hub(APP)
    namespace = app.env.ROOM
    assert await namespace.get_by_name("lobby").add(0) == 10
    await app.hibernate("ROOM", "lobby")
    parsed = namespace.id_from_string(str(namespace.id_from_name("lobby")))
    assert parsed.name is None
    assert await namespace.get(parsed).my_name() == "lobby"
    assert await namespace.get(namespace.new_unique_id()).my_name() is None


async def test_stub_for_a_foreign_id_is_refused(make_hub: MakeHub) -> None:
    class Other(hub.DurableObject):
        pass

    app, _ = await make_hub({"ROOM": Room, "OTHER": Other})
    with pytest.raises(hub.InvalidIdError, match="used with binding 'ROOM'"):
        app.env.ROOM.get(app.env.OTHER.id_from_name("x"))
    with pytest.raises(hub.InvalidIdError):
        app.env.ROOM.id_from_string("not-an-id")


class Ping(hub.DurableObject):
    async def ping(self, peer: str, depth: int) -> int:
        if depth == 0:
            return 0
        other = self.env.PING.get_by_name(peer)
        return 1 + await other.ping(self.ctx.id.name or "", depth - 1)

    async def call_self(self) -> int:
        return await self.env.PING.get(self.ctx.id).ping("x", 0)  # type: ignore[no-any-return]


async def test_objects_call_each_other_and_a_cycle_fails_fast_instead_of_deadlocking(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"PING": Ping})
    a = app.env.PING.get_by_name("a")
    assert await within(a.ping("b", 1)) == 1  # a -> b
    with pytest.raises(hub.CallCycleError) as caught:
        await within(a.ping("b", 2))  # a -> b -> a: a is waiting on b
    assert caught.value.code == "call_cycle"
    with pytest.raises(hub.CallCycleError):
        await within(a.call_self())
    assert await within(a.ping("b", 1)) == 1  # both objects still work
