"""The Hub: configuration errors are caught at construction, env, and bad input."""

from __future__ import annotations

import pytest

import hub
from tests.conftest import MakeHub, within


class Plain(hub.DurableObject):
    async def echo(self, value: str) -> str:
        return f"{self.env.PREFIX}{value}"

    async def bad_sql(self) -> None:
        self.ctx.storage.sql.exec("SELECT * FROM nowhere")

    async def store(self, key: str, value: str) -> None:
        await self.ctx.storage.put(key, value)

    async def store_object(self) -> None:
        await self.ctx.storage.put("k", object())

    async def load(self, key: str) -> str | None:
        value = await self.ctx.storage.get(key)
        return None if value is None else str(value)


@pytest.mark.parametrize("binding", ["chat_room", "ChatRoom", "1ROOM", "ROOM-1", "", "ROOM__X"])
def test_binding_names_must_be_upper_snake_case(binding: str) -> None:
    with pytest.raises(hub.ConfigurationError, match="UPPER_SNAKE_CASE"):
        hub.Hub({binding: Plain})


def test_bound_classes_must_be_durable_objects() -> None:
    with pytest.raises(hub.ConfigurationError, match=r"subclass of hub\.DurableObject"):
        hub.Hub({"ROOM": dict})  # type: ignore[dict-item]


def test_methods_whose_annotations_cannot_be_checked_are_refused_up_front() -> None:
    class Weird(hub.DurableObject):
        async def take(self, value: "NoSuchType") -> None:  # type: ignore[name-defined]  # noqa: F821, UP037
            pass

    with pytest.raises(
        hub.ConfigurationError, match=r"cannot resolve the annotations of Weird\.take"
    ):
        hub.Hub({"WEIRD": Weird})


def test_options_are_checked() -> None:
    with pytest.raises(hub.ConfigurationError, match="idle_timeout must be > 0"):
        hub.Hub({"ROOM": Plain}, idle_timeout=0)
    with pytest.raises(hub.ConfigurationError, match="durability must be"):
        hub.Hub({"ROOM": Plain}, durability="fsync")  # type: ignore[arg-type]
    with pytest.raises(hub.ConfigurationError, match="share names"):
        hub.Hub({"ROOM": Plain}, vars={"ROOM": 1})
    with pytest.raises(ValueError, match="max_queued_events"):
        hub.Limits(max_queued_events=0)


async def test_env_carries_namespaces_and_vars(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"ROOM": Plain}, vars={"PREFIX": "> "})
    assert "ROOM" in app.env and "PREFIX" in app.env
    assert await app.env.ROOM.get_by_name("r").echo("hi") == "> hi"
    with pytest.raises(AttributeError, match="env has no 'MISSING'"):
        _ = app.env.MISSING


async def test_unknown_bindings_give_a_clear_error(make_hub: MakeHub) -> None:
    app, _ = await make_hub({"ROOM": Plain}, vars={"PREFIX": ""})
    expected = "unknown binding 'NOPE', expected one of: ROOM"
    with pytest.raises(hub.UnknownBindingError, match=expected):
        app.is_active("NOPE", "x")
    with pytest.raises(hub.UnknownBindingError):
        await app.hibernate("NOPE", "x")


async def test_bad_input_inside_an_object_keeps_committed_data_and_the_hub_running(
    make_hub: MakeHub,
) -> None:
    app, _ = await make_hub({"ROOM": Plain}, vars={"PREFIX": ""})
    room = app.env.ROOM.get_by_name("r")
    await room.store("kept", "yes")
    with pytest.raises(hub.RemoteError) as sql_error:
        await room.bad_sql()
    assert sql_error.value.type_name == "SqlError"
    assert "no such table: nowhere" in sql_error.value.message
    with pytest.raises(hub.RemoteError) as kv_error:
        await room.store_object()
    assert kv_error.value.type_name == "NotSerializableError"
    assert await within(room.load("kept")) == "yes"
    assert await app.env.ROOM.get_by_name("other").echo("x") == "x"
