"""The client's frames are the shared vectors' bytes (protocol/vectors/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import roost_client
from roost_client import errors, wire

import protocol

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def _load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())["vectors"]
    return vectors


def _client_encoding(frame: dict[str, Any]) -> str:
    """What this client writes for the frame the vector describes."""
    kind = frame["t"]
    if kind == "hello":
        return wire.hello(frame["session"])
    if kind == "msg":
        return wire.message(frame["data"], frame.get("id"))
    if kind == "call":
        return wire.call(frame["id"], frame["method"], frame["args"], frame["kwargs"])
    if kind == "auth":
        return wire.auth(frame["id"], frame["token"])
    if kind == "sub":
        return wire.sub(
            frame["id"],
            frame["table"],
            where=frame["where"],
            columns=frame.get("columns"),
            snapshot=frame["snapshot"],
            since=frame.get("since"),
        )
    if kind == "unsub":
        return wire.unsub(frame["id"])
    if kind == "presence_sub":
        return wire.presence_sub()
    if kind == "presence_unsub":
        return wire.presence_unsub()
    assert kind == "ping"
    return wire.ping()


@pytest.mark.parametrize("vector", _load("client.json"), ids=lambda v: v["name"])
def test_the_client_writes_each_client_vector_exactly(vector: dict[str, Any]) -> None:
    assert _client_encoding(vector["frame"]) == vector["encoded"]


@pytest.mark.parametrize("vector", _load("hub.json"), ids=lambda v: v["name"])
def test_the_client_reads_each_hub_vector(vector: dict[str, Any]) -> None:
    frame = wire.decode(vector["json"])
    assert frame == protocol.decode_hub(vector["encoded"])
    if isinstance(frame, protocol.Error):
        error = errors.from_frame(frame)
        assert type(error) is roost_client.CODES[vector["frame"]["code"]]
        assert (error.id, error.message) == (vector["frame"]["id"], vector["frame"]["message"])


@pytest.mark.parametrize(
    "vector",
    [v for v in _load("invalid.json") if v["direction"] == "hub"],
    ids=lambda v: v["name"],
)
def test_an_invalid_hub_frame_is_a_bad_frame_error(vector: dict[str, Any]) -> None:
    with pytest.raises(roost_client.BadFrame) as info:
        wire.decode(vector["json"])
    assert info.value.code == vector["code"]
    assert not info.value.retryable


def test_unencodable_data_is_a_type_error_before_anything_is_sent() -> None:
    with pytest.raises(TypeError):
        wire.message(object(), 1)
