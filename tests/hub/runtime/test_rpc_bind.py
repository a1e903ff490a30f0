"""RPC arguments: positional calls of a plain method are bound without
``inspect.Signature.bind`` (``MethodSpec.positional``); every other call still goes
through it. Both must give the same arguments and the same errors."""

from __future__ import annotations

from typing import Any

import pytest

import hub
from hub.errors import InvalidArgumentsError
from tests.conftest import MakeHub, within


class Pairs(hub.DurableObject):
    async def pair(self, a: int, b: str = "dflt") -> list[Any]:
        return [a, b]

    async def keywords(self, a: int, *, b: int = 2) -> list[int]:
        return [a, b]


def test_only_plain_methods_get_the_positional_path() -> None:
    spec = hub.Hub({"PAIRS": Pairs}).host.spec("PAIRS")
    assert spec.method("pair").positional == ("a", "b")
    assert spec.method("keywords").positional is None  # keyword-only: Signature.bind


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
    app, _ = await make_hub({"PAIRS": Pairs})
    reply = app.host.call_wire(app.object_id("PAIRS", "a"), "pair", args, kwargs)
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
    app, _ = await make_hub({"PAIRS": Pairs})
    reply = app.host.call_wire(app.object_id("PAIRS", "a"), method, args, {})
    with pytest.raises(InvalidArgumentsError, match=f"invalid arguments for {method}\\(\\): "):
        await within(reply)
    assert message in str(reply.exception())
