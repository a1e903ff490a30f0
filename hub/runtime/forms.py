"""RPC from an HTML form: text fields coerced to a method's annotated parameter types.

``POST /objects/{binding}/{name}/rpc/{method}`` with ``application/x-www-form-urlencoded``
calls the method with the fields as keyword arguments. The front only parses the body
(``parse_form``); the object's side, which knows the method, coerces (``form_kwargs``)
and then checks the result like any RPC call (``MethodSpec.bind``), so a form call
reaches code loaded after a reload exactly like a JSON call.

Rules:

1. A field is coerced to its parameter's annotation: ``str`` (and no annotation, or
   ``Any``) takes the text as it is; ``int`` and ``float`` their text forms (finite
   floats only); ``bool`` one of ``true/false/on/off/yes/no/1/0`` (any case; a checked
   checkbox sends ``on``); ``X | None`` takes an empty field as None; any other type
   msgspec's text forms (dates, UUIDs, enums, literals).
2. A field given several times is a list only when its parameter is annotated
   ``list[...]`` (or ``tuple[X, ...]``, ``set[...]``, ``Sequence[...]``), each item
   coerced to the item type; otherwise several values are an error.
3. Anything not coercible, an unknown field, a missing required parameter: the call is
   refused with ``InvalidArgumentsError`` (400 ``invalid_arguments``) and the method
   never runs.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec

from hub.errors import InvalidArgumentsError

if TYPE_CHECKING:
    from hub.runtime.rpc import MethodSpec

__all__ = ["MAX_FIELDS", "form_kwargs", "parse_form"]

#: Fields a form body may have.
MAX_FIELDS = 1000
_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})
_SEQUENCES = (list, tuple, set, frozenset, Sequence)


def parse_form(body: bytes) -> dict[str, list[str]]:
    """The fields of an ``application/x-www-form-urlencoded`` body, values in order."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgumentsError("form body is not UTF-8") from None
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FIELDS
        )
    except ValueError:
        raise InvalidArgumentsError(
            f"form body is not url-encoded fields (at most {MAX_FIELDS}): {text[:80]!r}"
        ) from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def form_kwargs(method: MethodSpec, fields: dict[str, list[str]]) -> dict[str, Any]:
    """Keyword arguments for ``method`` from form ``fields`` (rules 1 to 3)."""
    hints = {field.name: field.type for field in msgspec.structs.fields(method.params_type)}
    params = method.signature.parameters
    extra = next((p.name for p in params.values() if p.kind is p.VAR_KEYWORD), None)
    kwargs: dict[str, Any] = {}
    for name, values in fields.items():
        param = params.get(name)
        if param is not None and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            hint = hints.get(name, Any)
        elif extra is not None:
            hint = (typing.get_args(hints[extra]) or (str, Any))[1]
        else:
            raise InvalidArgumentsError(
                f"invalid arguments for {method.name}(): unexpected field {name!r}"
            )
        try:
            kwargs[name] = _values(values, hint)
        except ValueError as exc:
            raise InvalidArgumentsError(
                f"invalid arguments for {method.name}(): field {name!r}: {exc}"
            ) from None
    return kwargs


def _values(values: list[str], hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) == 1 and _is_sequence(members[0]):
            hint = members[0]  # list[X] | None: the fields make a list
    if _is_sequence(hint):
        args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
        item = args[0] if args else Any
        return [_scalar(value, item) for value in values]
    if len(values) > 1:
        raise ValueError(
            f"given {len(values)} times, expected once (annotate it list[...] to take several)"
        )
    return _scalar(values[0], hint)


def _is_sequence(hint: Any) -> bool:
    return hint in _SEQUENCES or typing.get_origin(hint) in _SEQUENCES


def _scalar(text: str, hint: Any) -> Any:
    if hint is Any or hint is str or hint is object:
        return text
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) < len(typing.get_args(hint)) and text == "":
            return None
        if str in members:
            return text
        for member in members:
            try:
                return _scalar(text, member)
            except ValueError:
                continue
        raise ValueError(f"expected {_name(hint)}, got {text!r}")
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected a bool (true/false/on/off/yes/no/1/0), got {text!r}")
    try:
        value = msgspec.convert(text, hint, strict=False)
    except (msgspec.ValidationError, TypeError) as exc:
        raise ValueError(f"expected {_name(hint)}, got {text!r}") from exc
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r}")
    return value


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint)
