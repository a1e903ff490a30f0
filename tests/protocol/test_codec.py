"""The roost.v1 codec against the shared vectors, and properties over any input."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol
from protocol import frames

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def _load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())["vectors"]
    return vectors


def _frame(frame: protocol.ClientFrame | protocol.HubFrame) -> dict[str, Any]:
    """Every member of a decoded frame, absent optional ones left out (the vectors' form)."""
    members: dict[str, Any] = {"t": type(frame).__struct_config__.tag}
    for name in frame.__struct_fields__:
        value = getattr(frame, name)
        if value is not msgspec.UNSET:
            members[name] = msgspec.to_builtins(value)
    return members


@pytest.mark.parametrize("vector", _load("client.json"), ids=lambda v: v["name"])
def test_valid_client_frames_decode_and_encode_as_the_vectors_say(vector: dict[str, Any]) -> None:
    frame = protocol.decode_client(vector["json"])
    assert _frame(frame) == vector["frame"]
    assert protocol.encode(frame).decode() == vector["encoded"]
    assert protocol.decode_client(vector["json"].encode()) == frame


@pytest.mark.parametrize("vector", _load("hub.json"), ids=lambda v: v["name"])
def test_valid_hub_frames_decode_and_encode_as_the_vectors_say(vector: dict[str, Any]) -> None:
    frame = protocol.decode_hub(vector["json"])
    assert _frame(frame) == vector["frame"]
    assert protocol.encode(frame).decode() == vector["encoded"]


@pytest.mark.parametrize("vector", _load("invalid.json"), ids=lambda v: v["name"])
def test_invalid_frames_raise_decode_error_with_the_code(vector: dict[str, Any]) -> None:
    decode = protocol.decode_client if vector["direction"] == "client" else protocol.decode_hub
    with pytest.raises(protocol.DecodeError) as caught:
        decode(vector["json"])
    assert caught.value.code == vector["code"]
    assert isinstance(caught.value, protocol.ProtocolError)


def test_every_frame_type_has_vectors() -> None:
    client = {vector["frame"]["t"] for vector in _load("client.json")}
    hub = {vector["frame"]["t"] for vector in _load("hub.json")}
    tags = lambda union: {cls.__struct_config__.tag for cls in union.__args__}  # noqa: E731
    assert client == tags(frames.ClientFrame)
    assert hub == tags(frames.HubFrame)


@given(st.binary())
def test_any_bytes_raise_only_decode_error(data: bytes) -> None:
    for decode in (protocol.decode_client, protocol.decode_hub):
        with contextlib.suppress(protocol.DecodeError):
            decode(data)


@given(st.text())
def test_any_text_raises_only_decode_error(text: str) -> None:
    for decode in (protocol.decode_client, protocol.decode_hub):
        with contextlib.suppress(protocol.DecodeError):
            decode(text)


# Round trips of every frame type over generated frames: tests/protocol/test_fuzz.py.


def test_message_text_is_what_websocket_message_receives() -> None:
    assert protocol.message_text("plain") == "plain"
    assert protocol.message_text({"a": [1, None]}) == '{"a":[1,null]}'
    assert protocol.message_text(3) == "3"


def test_the_error_table_is_the_one_in_the_spec() -> None:
    spec = (VECTORS.parent / "SPEC.md").read_text()
    rows = re.findall(
        r"^\| `([a-z_0-9]+)` \| (.*) \| (\d{3}) \| (true|false) \| (—|\d{4}) \|$", spec, re.M
    )
    assert len(rows) == len(protocol.ERRORS)
    for code, meaning, status, retryable, close in rows:
        row = protocol.ERRORS[code]
        assert row.status == int(status), code
        assert row.retryable is (retryable == "true"), code
        assert row.close == (None if close == "—" else int(close)), code
        assert row.in_frames is not meaning.startswith("*(not in frames)*"), code
    assert protocol.CLOSE_CODES[1008] == ("slow consumer", True)


def _nested(depth: int, inner: str = "1") -> str:
    """A JSON value ``depth`` arrays and objects deep, alternating from an array."""
    text = inner
    for level in range(depth):
        text = f"[{text}]" if level % 2 == 0 else f'{{"k":{text}}}'
    return text


@pytest.mark.parametrize(
    ("decode", "frame"),
    [
        (protocol.decode_client, '{{"t":"msg","data":{}}}'),
        (protocol.decode_client, '{{"t":"call","id":1,"method":"m","args":[{}]}}'),
        (protocol.decode_client, '{{"t":"call","id":1,"method":"m","kwargs":{{"a":{}}}}}'),
        (protocol.decode_client, '{{"t":"sub","id":1,"table":"x","where":[{}]}}'),
        (protocol.decode_hub, '{{"t":"result","id":1,"result":{}}}'),
        (protocol.decode_hub, '{{"t":"join","socket":1,"state":{}}}'),
    ],
)
@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_frames_are_bad_frames(decode: Any, frame: str, depth: int) -> None:
    text = frame.format(_nested(depth))
    for data in (text, text.encode()):
        with pytest.raises(protocol.DecodeError, match="nests"):
            decode(data)


def test_nesting_up_to_the_bound_decodes() -> None:
    # The frame object is level 1, so its data may nest MAX_NESTING - 1 deep (SPEC §2.6).
    deepest = f'{{"t":"msg","data":{_nested(protocol.MAX_NESTING - 1)}}}'
    frame = protocol.decode_client(deepest)
    assert protocol.decode_client(protocol.encode(frame)) == frame
    with pytest.raises(protocol.DecodeError):
        protocol.decode_client(f'{{"t":"msg","data":{_nested(protocol.MAX_NESTING)}}}')


@pytest.mark.parametrize(
    "text",
    [
        # Brackets inside strings do not nest, escaped quotes and backslashes included.
        '{"t":"msg","data":"' + "[" * 200 + '"}',
        '{"t":"msg","data":["\\"' + "[" * 200 + '", "\\\\", "{{{{"]}',
        '{"t":"msg","data":{"' + "{" * 200 + '":["' + "]" * 300 + '"]}}',
        '{"t":"msg","data":[' + '"[",' * 200 + "1]}",
    ],
)
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    frame = protocol.decode_client(text)
    assert frame == protocol.decode_client(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        '{"t":"msg","data":"\\' + "[" * 200,  # truncated inside an escape
        '{"t":"msg","data":"' + "\\\\" * 100 + '"' + "[" * 200,  # quote closes, then [[[
        '{"t":"msg","data":' + '"a",' * 100 + "[" * 200 + "]" * 200 + "}",
        "\\" + "[" * 200,
        '"' * 201 + "[" * 200,
    ],
)
def test_malformed_deep_text_is_a_bad_frame(text: str) -> None:
    for decode in (protocol.decode_client, protocol.decode_hub):
        for data in (text, text.encode()):
            with pytest.raises(protocol.DecodeError):
                decode(data)


@pytest.mark.parametrize(
    "data",
    [
        bytearray(b'{"t":"ping"}'),
        memoryview(b'{"t":"ping"}'),
        memoryview(b"[" * 100_000),
        '{"t":"msg","data":"\ud800"}',
        '{"t":"msg","data":"\ud800' + "[" * 100 + '"}',
        b'{"t":"msg","data":"\xff' + b"[" * 100 + b'"}',
        b'{"t":"msg","data":1' + b"0" * 400 + b"}",
        b'{"t":"msg","data":1e400}',
        b'{"t":"msg","data":NaN}',
        b'{"t":"msg","data":[' + b"1," * 100 + b"]}",
    ],
)
def test_odd_inputs_decode_or_raise_decode_error(data: Any) -> None:
    for decode in (protocol.decode_client, protocol.decode_hub):
        with contextlib.suppress(protocol.DecodeError):
            decode(data)
