"""Fuzzing the codec and ``where`` (bounded, derandomized: the same examples every run).

Properties: ``decode_client`` / ``decode_hub`` raise nothing but ``DecodeError`` on any
input, a frame that decodes encodes to one that decodes equal, valid frames round-trip;
``compile_where`` raises nothing but ``WhereError`` on any value, and what it compiles
never raises on any row.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol
from protocol import frames
from protocol.where import OPS, WhereError, compile_where

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"
SEEDS = [
    vector["json"]
    for name in ("client.json", "hub.json", "invalid.json")
    for vector in json.loads((VECTORS / name).read_text())["vectors"]
]

# Anything JSON can carry, and what it cannot: NaN, infinities, integers past 64 bits,
# lone surrogates, control characters.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**64 + 2)
    | st.floats()
    | st.text()
    | st.sampled_from(["\ud800", "\udfff", "\x00", "", "t", "msg", "call", "eq", "or", "%"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def deep(draw: st.DrawFn, inner: st.SearchStrategy[Any] = values) -> Any:
    """A value wrapped in up to 70 arrays and objects: around the nesting bound."""
    value = draw(inner)
    for wrap in draw(st.lists(st.booleans(), max_size=70)):
        value = [value] if wrap else {"k": value}
    return value


SLOTS = [
    '{{"t":"msg","data":{}}}',
    '{{"t":"msg","id":1,"data":[1,"]",{}]}}',
    '{{"t":"call","id":1,"method":"m","args":[{}]}}',
    '{{"t":"call","id":1,"method":"m","kwargs":{{"k":{}}}}}',
    '{{"t":"sub","id":1,"table":"x","where":[["a","eq",{}]]}}',
    '{{"t":"result","id":1,"result":{}}}',
    '{{"t":"join","socket":1,"state":{}}}',
    '{{"t":"changes","id":1,"changes":[{{"seq":1,"op":"insert","row":{{"k":{}}}}}]}}',
    '{{"t":"ping","extra":{}}}',
    "{}",
]


@st.composite
def deep_frames(draw: st.DrawFn) -> str:
    """JSON text of a frame with a value nested around the bound or far past Python's
    recursion limit (as text: such a value has no Python repr nor json.dumps)."""
    depth = draw(st.integers(0, 70) | st.integers(900, 20_000))
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"k":', "}"), ('[{"k":', "}]")]))
    inner = _dumps(draw(values))
    closed = draw(st.booleans())  # or truncated: the text ends inside the nesting
    value = opening * depth + inner + (closing * depth if closed else "")
    return draw(st.sampled_from(SLOTS)).format(value)


TYPES = sorted(
    {cls.__struct_config__.tag for cls in (*frames.ClientFrame.__args__, *frames.HubFrame.__args__)}
)
MEMBERS = [
    "t",
    "id",
    "data",
    "method",
    "args",
    "kwargs",
    "session",
    "socket",
    "result",
    "code",
    "message",
    "retryable",
    "table",
    "where",
    "columns",
    "snapshot",
    "since",
    "seq",
    "rows",
    "changes",
    "op",
    "row",
    "members",
    "state",
]
frame_like = st.dictionaries(st.sampled_from(MEMBERS), values | deep(), max_size=6).flatmap(
    lambda members: st.sampled_from(TYPES).map(lambda t: {**members, "t": t})
)


def _dumps(value: Any) -> str:
    """JSON text of ``value``, NaN and lone surrogates written as Python's json writes
    them (not valid for a strict reader: exactly the point)."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


@FUZZ
@given(deep_frames(), st.booleans())
def test_deeply_nested_frames_decode_or_are_bad_frames(text: str, as_bytes: bool) -> None:
    _decodes_or_refuses(text.encode("utf-8", "surrogatepass") if as_bytes else text)


def _decodes_or_refuses(data: str | bytes) -> None:
    """Each decoder either returns a frame that round-trips or raises ``DecodeError``."""
    for decode in (protocol.decode_client, protocol.decode_hub):
        try:
            frame = decode(data)
        except protocol.DecodeError as exc:
            assert exc.code == "bad_frame"
            continue
        assert decode(protocol.encode(frame)) == frame


@FUZZ
@given(values | deep() | frame_like, st.booleans())
def test_any_json_value_decodes_or_is_a_bad_frame(value: Any, as_bytes: bool) -> None:
    text = _dumps(value)
    data: str | bytes = text.encode("utf-8", "surrogatepass") if as_bytes else text
    _decodes_or_refuses(data)


@FUZZ
@given(st.text() | st.binary(), st.sampled_from(SEEDS))
def test_any_text_or_bytes_after_a_frame_prefix_is_a_bad_frame_at_worst(
    tail: str | bytes, seed: str
) -> None:
    prefix = seed[: len(seed) // 2]
    if isinstance(tail, str):
        _decodes_or_refuses(prefix + tail)
    else:
        _decodes_or_refuses(prefix.encode() + tail)


MUTATIONS = [b"[", b"{", b"]", b"}", b'"', b"\\", b",", b":", b"\xff", b"1e999", b"-", b"null"]


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_vectors_decode_or_are_bad_frames(seed: str, data: st.DataObject) -> None:
    raw = bytearray(seed.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw)))
        chunk = data.draw(st.sampled_from(MUTATIONS))
        if data.draw(st.booleans()) or not raw:
            raw[position:position] = chunk
        else:
            del raw[position : position + len(chunk)]
    _decodes_or_refuses(bytes(raw))


# Valid frames: every type, with data up to the nesting bound.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
ids = st.integers(min_value=0, max_value=frames.MAX_ID)
sessions = st.from_regex(r"\A[A-Za-z0-9_-]{1,128}\Z")
rows = st.dictionaries(st.text(), json_values, max_size=4)


@st.composite
def data_at_depth(draw: st.DrawFn) -> Any:
    """A value nested at most 63 deep: as deep as a frame's ``data`` may go."""
    value = draw(json_values)
    for wrap in draw(st.lists(st.booleans(), max_size=protocol.MAX_NESTING - 5)):
        value = [value] if wrap else {"k": value}
    return value


client_frames = st.one_of(
    st.builds(frames.Hello, session=sessions),
    st.builds(frames.ClientMessage, data=json_values | data_at_depth()),
    st.builds(frames.ClientMessage, data=json_values, id=ids),
    st.builds(
        frames.Call,
        id=ids,
        method=st.text(),
        args=st.lists(json_values, max_size=3),
        kwargs=st.dictionaries(st.text(), json_values, max_size=3),
    ),
    st.builds(frames.Auth, id=ids, token=st.text(min_size=1)),
    st.just(frames.Ping()),
    st.builds(
        frames.Sub,
        id=ids,
        table=st.text(),
        where=st.lists(json_values, max_size=3),
        columns=st.lists(st.text(), max_size=3),
        snapshot=st.booleans(),
    ),
    st.builds(frames.Sub, id=ids, table=st.text(), since=ids),
    st.builds(frames.Unsub, id=ids),
    st.just(frames.PresenceSub()),
    st.just(frames.PresenceUnsub()),
)
hub_frames = st.one_of(
    st.builds(frames.Welcome, session=sessions, socket=ids),
    st.builds(frames.HubMessage, data=st.text()),
    st.builds(frames.Ack, id=ids),
    st.builds(frames.Result, id=ids, result=json_values | data_at_depth()),
    st.builds(
        frames.Error,
        id=st.none() | ids,
        code=st.sampled_from(sorted(protocol.ERRORS)),
        message=st.text(),
        retryable=st.booleans(),
    ),
    st.just(frames.Pong()),
    st.builds(frames.Snapshot, id=ids, seq=ids, rows=st.lists(rows, max_size=3)),
    st.builds(
        frames.Changes,
        id=ids,
        changes=st.lists(
            st.builds(
                frames.ChangeItem,
                seq=ids,
                op=st.sampled_from(["insert", "update", "delete"]),
                row=rows,
            ),
            max_size=3,
        ),
    ),
    st.builds(frames.Subscribed, id=ids, seq=ids),
    st.builds(frames.Reset, id=ids),
    st.builds(
        frames.Presence,
        members=st.lists(st.builds(frames.Member, socket=ids, state=json_values), max_size=3),
    ),
    st.builds(frames.Join, socket=ids, state=json_values),
    st.builds(frames.Update, socket=ids, state=json_values),
    st.builds(frames.Leave, socket=ids),
)


@FUZZ
@given(client_frames)
def test_every_client_frame_type_round_trips(frame: protocol.ClientFrame) -> None:
    encoded = protocol.encode(frame)
    assert protocol.decode_client(encoded) == frame
    assert protocol.decode_client(encoded.decode()) == frame


@FUZZ
@given(hub_frames)
def test_every_hub_frame_type_round_trips(frame: protocol.HubFrame) -> None:
    encoded = protocol.encode(frame)
    assert protocol.decode_hub(encoded) == frame
    assert protocol.decode_hub(encoded.decode()) == frame


# -- where -------------------------------------------------------------------------------

columns = st.sampled_from(["a", "b", "", "x" * 70]) | st.text(max_size=3)
ops = (
    st.sampled_from(sorted(OPS))
    | values
    | st.lists(st.sampled_from(sorted(OPS)))
    | deep(st.just("eq"))
)
conditions = st.recursive(
    st.tuples(columns | values, ops, values | deep() | st.lists(scalars, max_size=5)).map(list),
    lambda inner: (
        st.fixed_dictionaries({"or": st.lists(st.lists(inner, max_size=3), max_size=3)})
        | st.dictionaries(st.sampled_from(["or", "and", ""]), values, max_size=2)
        | st.lists(inner, max_size=4)
    ),
    max_leaves=8,
)
wheres = st.lists(conditions, max_size=5) | values | deep()
any_rows = st.dictionaries(
    st.sampled_from(["a", "b", "c"]) | st.text(max_size=2), values, max_size=4
)


@FUZZ
@given(
    wheres, st.none() | st.sets(st.sampled_from(["a", "b", "c"])), st.lists(any_rows, max_size=5)
)
def test_compile_where_raises_only_where_error_and_its_predicate_never_raises(
    where: Any, known: set[str] | None, rows: list[dict[str, Any]]
) -> None:
    try:
        test = compile_where(where, known)
    except WhereError as exc:
        assert exc.code == "bad_subscription"
        return
    for row in rows:
        assert isinstance(test(row), bool)


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(sorted(OPS)), scalars).map(list),
        max_size=4,
    ),
    st.lists(any_rows, max_size=5),
)
def test_well_formed_conditions_compile_and_never_raise(
    where: Any, rows: list[dict[str, Any]]
) -> None:
    with contextlib.suppress(WhereError):  # e.g. like with a number, lt with null
        test = compile_where(where)
        for row in rows:
            assert isinstance(test(row), bool)


def _like_as_one_regex(pattern: str) -> re.Pattern[str]:
    """The obvious translation of a ``like`` pattern: right, but slow on some inputs."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(regex, re.ASCII | re.IGNORECASE | re.DOTALL)


@FUZZ
@given(st.text("aAb%_.\n", max_size=8), st.text("aAbB.\n", max_size=10))
def test_like_agrees_with_one_regex_on_short_values(pattern: str, value: str) -> None:
    expected = _like_as_one_regex(pattern).fullmatch(value) is not None
    assert compile_where([["c", "like", pattern]])({"c": value}) is expected


class _Deep:
    """A value nested ``depth`` deep, built in the test (hypothesis cannot repr it)."""

    def __init__(self, depth: int, lists: bool) -> None:
        self.depth, self.lists = depth, lists

    def build(self, inner: Any) -> Any:
        value = inner
        for _ in range(self.depth):
            value = [value] if self.lists else {"or": value}
        return value

    def __repr__(self) -> str:
        return f"_Deep({self.depth}, lists={self.lists})"


@FUZZ
@given(
    st.builds(_Deep, st.integers(0, 70) | st.integers(900, 20_000), st.booleans()),
    st.sampled_from(["where", "condition", "column", "op", "value", "in", "or"]),
    st.sampled_from(["eq", "in", "like", "lt", 1, None]),
)
def test_deep_values_anywhere_in_a_where_are_bad_subscriptions_at_worst(
    deep: _Deep, where: str, inner: Any
) -> None:
    nested = deep.build(inner)
    shapes: dict[str, Any] = {
        "where": nested,
        "condition": [nested],
        "column": [[nested, "eq", 1]],
        "op": [["a", nested, 1]],
        "value": [["a", "eq", nested]],
        "in": [["a", "in", [1, nested]]],
        "or": [{"or": [[nested]]}],
    }
    with contextlib.suppress(WhereError):
        test = compile_where(shapes[where])
        assert isinstance(test({"a": 1}), bool)
