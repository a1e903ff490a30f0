"""HTML form fields coerced by a method's annotations (hub/runtime/forms.py); no I/O."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from typing import Any, Literal

import pytest

import hub
from hub.errors import InvalidArgumentsError
from hub.runtime.forms import MAX_FIELDS, form_kwargs, parse_form
from hub.runtime.rpc import describe_class


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Shop(hub.DurableObject):
    def order(
        self,
        item: str,
        count: int,
        price: float,
        gift: bool = False,
        note: str | None = None,
        size: int | None = None,
        tags: list[str] | None = None,
        ids: list[int] = [],  # noqa: B006 - never mutated
        raw=None,  # type: ignore[no-untyped-def]
    ) -> None:
        pass

    def more(self, when: datetime.date, color: Color, mode: Literal["a", "b"]) -> None:
        pass

    def loose(self, first: int, **rest: int) -> None:
        pass

    def sequences(self, a: tuple[int, ...], b: Sequence[float], c: set[str]) -> None:
        pass


SPEC = describe_class("SHOP", Shop, hub.DurableObject)


def call(method: str, body: bytes) -> tuple[list[Any], dict[str, Any]]:
    spec = SPEC.method(method)
    return spec.bind([], form_kwargs(spec, parse_form(body)))


def test_fields_are_coerced_to_the_annotations() -> None:
    args, kwargs = call("order", b"item=tea+pot&count=3&price=2.5&gift=on&raw=%C3%A9")
    assert args == ["tea pot", 3, 2.5, True, None, None, None, [], "\u00e9"]
    assert kwargs == {}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("ON", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("off", False),
        ("0", False),
        ("No", False),
    ],
)
def test_bools_take_their_text_forms(text: str, value: bool) -> None:
    args, _ = call("order", f"item=x&count=1&price=1&gift={text}".encode())
    assert args[3] is value


def test_optional_fields_take_empty_as_none_and_repeated_list_fields_as_lists() -> None:
    args, _ = call("order", b"item=x&count=1&price=1&note=&size=&tags=a&tags=b&ids=1&ids=2")
    assert args[4:8] == [None, None, ["a", "b"], [1, 2]]
    args, _ = call("order", b"item=x&count=1&price=1&note=hi&size=4")
    assert args[4:6] == ["hi", 4]


def test_other_types_take_msgspec_text_forms() -> None:
    args, _ = call("more", b"when=2024-02-29&color=blue&mode=b")
    assert args == [datetime.date(2024, 2, 29), Color.BLUE, "b"]


def test_extra_keyword_fields_and_sequences() -> None:
    args, kwargs = call("loose", b"first=1&x=2&y=3")
    assert args == [1] and kwargs == {"x": 2, "y": 3}
    args, _ = call("sequences", b"a=1&a=2&b=0.5&c=k&c=k")
    assert args == [(1, 2), [0.5], {"k"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"item=x&count=three&price=1", "field 'count': expected int, got 'three'"),
        (b"item=x&count=1.5&price=1", "field 'count'"),
        (b"item=x&count=1&price=abc", "field 'price'"),
        (b"item=x&count=1&price=nan", "finite"),
        (b"item=x&count=1&price=1&gift=maybe", "expected a bool"),
        (b"item=x&count=1&price=1&gift=", "expected a bool"),
        (b"item=x&count=1&count=2&price=1", "given 2 times"),
        (b"item=x&count=1&price=1&ids=1&ids=two", "field 'ids'"),
        (b"item=x&count=1&price=1&size=big", "field 'size'"),
        (b"item=x&count=1&price=1&extra=1", "unexpected field 'extra'"),
        (b"item=x&price=1", "count"),
        (b"", "item"),
        (b"when=yesterday&color=red&mode=a", "field 'when'"),
        (b"when=2024-01-01&color=green&mode=a", "field 'color'"),
        (b"when=2024-01-01&color=red&mode=c", "mode"),
        (b"first=1&x=two", "field 'x'"),
    ],
)
def test_what_cannot_be_coerced_is_refused_with_invalid_arguments(
    body: bytes, message: str
) -> None:
    method = "more" if body.startswith(b"when") else "loose" if b"first" in body else "order"
    with pytest.raises(InvalidArgumentsError, match=message) as caught:
        call(method, body)
    assert caught.value.code == "invalid_arguments"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe=1", b"a=1&&&b", b"novalue", b"&".join([b"f=1"] * (MAX_FIELDS + 1))],
)
def test_a_body_that_is_not_a_form_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidArgumentsError, match="form body"):
        parse_form(body)


def test_a_form_keeps_every_value_in_order() -> None:
    assert parse_form(b"a=1&b=&a=2&c=x%26y") == {"a": ["1", "2"], "b": [""], "c": ["x&y"]}
    assert parse_form(b"") == {}
