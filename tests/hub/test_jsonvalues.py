"""What ``hub.jsonvalues`` hands out: JSON bytes that cost what they hold."""

from __future__ import annotations

import tracemalloc

import orjson
import pytest

from hub.errors import LimitExceededError, NotSerializableError
from hub.jsonvalues import decode_value, encode_value


def traced_bytes(make: object) -> int:
    """Bytes still allocated, per value, after making 200 values with ``make``."""
    assert callable(make)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make(k) for k in range(200)]
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == 200
    return grown // 200


def test_an_encoded_value_keeps_no_spare_buffer() -> None:
    # An attachment lives as long as its socket: 64 JSON bytes must not hold orjson's
    # 4 KiB output buffer (issue 15).
    value = {"user": "u-1", "pad": "x" * 41}
    assert len(encode_value(value, "attachment", 16384)) == 64
    assert traced_bytes(lambda k: orjson.dumps({**value, "k": k})) > 1024  # what it was
    assert traced_bytes(lambda k: encode_value({**value, "k": k}, "attachment", 16384)) < 200


def test_a_large_value_keeps_only_its_size() -> None:
    value = "x" * 4000
    per_value = traced_bytes(lambda k: encode_value([value, k], "attachment", 16384))
    assert 4000 < per_value < 4300


def test_values_round_trip_and_refusals_name_what() -> None:
    value = {"a": [1, 2.5, None, True, "é"]}
    assert decode_value(encode_value(value, "attachment", 100)) == value
    with pytest.raises(NotSerializableError, match="attachment is not JSON-serializable"):
        encode_value({1, 2}, "attachment", 100)
    with pytest.raises(LimitExceededError):
        encode_value("x" * 200, "attachment", 100)
