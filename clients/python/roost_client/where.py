"""``where`` as the SDK takes it, translated to its wire form (SPEC §9.4).

One translator for every ``where`` of the SDK: feed subscriptions on an object
(``Connection.subscribe``), database subscriptions (``Database.subscribe``) and table
queries (``Table.where``). It follows the JS SDK's ``whereArray`` rule for rule.

Rules:

1. The wire form (a sequence of conditions) passes as it is, tuples made lists:
   ``[column, op, value]`` and ``{"or": [[condition, ...], ...]}``. Only its shape is
   checked here; the hub judges columns, ops and values (``bad_subscription`` for
   feeds, ``invalid_arguments`` for table verbs).
2. The object form (a mapping) is one condition a member, all holding:
   ``{"id": "u1"}`` is ``eq``; ``{"id": ["u1", "u2"]}`` is ``in``; ``{"age": {"gte":
   18, "lt": 65}}`` one condition an operator, in order; ``None`` is ``eq null`` (IS
   NULL).
3. The member ``"or"`` of the object form holds a non-empty list of alternatives, each
   in the object or the wire form: ``{"or": [{"role": "admin"}, {"id": "u1"}]}``. A
   column really named ``or`` is reached with the wire form.
4. What cannot be translated is a ``ValueError`` naming the member, before anything is
   sent: a condition silently dropped would widen an ``update`` or a ``delete``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from protocol.where import OPS

__all__ = ["Where", "conditions_of", "where_conditions"]

#: A ``where`` as the SDK takes it: the wire form (a sequence of conditions) or the
#: object form (a mapping of columns).
Where = Sequence[Any] | Mapping[str, Any]

_SCALARS = (str, int, float, bool, type(None))
_OPS_TEXT = ", ".join(sorted(OPS))


def where_conditions(where: Where | None) -> list[Any]:
    """``where`` (rules 1-3) in its wire form; ``None`` is every row (``[]``)."""
    if where is None:
        return []
    if isinstance(where, Mapping):
        return _object_form(where)
    return _wire_form(where)


def conditions_of(*conditions: Any, **columns: Any) -> list[Any]:
    """The wire form of ``Table.where(*conditions, **columns)``: the positional
    conditions in the wire form, then the keywords in the object form."""
    return _wire_form(conditions) + _object_form(columns)


def _object_form(where: Mapping[str, Any]) -> list[Any]:
    conditions: list[Any] = []
    for column, value in where.items():
        if column == "or":
            conditions.append({"or": _alternatives(value)})
        elif isinstance(value, _SCALARS):
            conditions.append([column, "eq", value])
        elif isinstance(value, list | tuple):
            conditions.append([column, "in", _in_values(column, value)])
        elif isinstance(value, Mapping):
            conditions += _operators(column, value)
        else:
            raise ValueError(
                f"where[{column!r}] must be a str, int, float, bool, None, a list (in)"
                f" or {{op: value}}, got {type(value).__name__}"
            )
    return conditions


def _alternatives(branches: Any) -> list[Any]:
    if isinstance(branches, str | bytes | Mapping) or not isinstance(branches, Sequence):
        raise ValueError(f'"or" takes a list of alternatives, got {branches!r}')
    if not branches:
        raise ValueError('"or" takes a non-empty list of alternatives')
    return [where_conditions(branch) for branch in branches]


def _operators(column: str, ops: Mapping[str, Any]) -> list[Any]:
    if not ops:
        raise ValueError(f"where[{column!r}] is an empty mapping: give operators ({_OPS_TEXT})")
    found: list[Any] = []
    for op, value in ops.items():
        if op not in OPS:
            raise ValueError(f"where[{column!r}]: unknown operator {op!r}, expected {_OPS_TEXT}")
        if op == "in":
            if not isinstance(value, list | tuple):
                raise ValueError(f"where[{column!r}]['in'] must be a list, got {value!r}")
            value = _in_values(column, value)
        elif not isinstance(value, _SCALARS):
            raise ValueError(f"where[{column!r}][{op!r}] must be a scalar, got {value!r}")
        found.append([column, op, value])
    return found


def _in_values(column: str, values: Sequence[Any]) -> list[Any]:
    for value in values:
        if not isinstance(value, _SCALARS):
            raise ValueError(f"where[{column!r}] (in): every value must be a scalar, got {value!r}")
    return list(values)


def _wire_form(where: Any) -> list[Any]:
    if isinstance(where, str | bytes) or not isinstance(where, Sequence):
        raise ValueError(f"where must be a list of conditions or a mapping, got {where!r}")
    return [_condition(item) for item in where]


def _condition(item: Any) -> Any:
    if isinstance(item, Mapping):
        if set(item) != {"or"}:
            raise ValueError(f'a condition object must be {{"or": [where, ...]}}, got {item!r}')
        return {"or": _alternatives(item["or"])}
    if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 3:
        raise ValueError(f'a condition is [column, op, value] or {{"or": [...]}}, got {item!r}')
    column, op, value = item
    if isinstance(value, tuple):
        value = list(value)  # the values of ``in``
    return [column, op, value]
