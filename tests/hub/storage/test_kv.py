"""``ctx.storage.kv``: JSON values under string keys in UTF-8 byte order."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import LimitExceededError, NotSerializableError, StorageError
from hub.limits import Limits
from hub.storage.database import ObjectDatabase
from hub.storage.kv import KvStorage

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def test_get_put_delete_one_key(kv: KvStorage) -> None:
    assert kv.get("missing") is None
    kv.put("a", {"n": 1, "tags": ["x"]})
    assert kv.get("a") == {"n": 1, "tags": ["x"]}
    assert kv.delete("a") is True
    assert kv.delete("a") is False
    assert kv.get("a") is None


def test_batches_return_only_found_keys(kv: KvStorage) -> None:
    kv.put({"a": 1, "b": 2, "c": 3})
    assert kv.get(["a", "c", "zz"]) == {"a": 1, "c": 3}
    assert kv.delete(["a", "b", "zz"]) == 2
    assert kv.list() == {"c": 3}


@given(json_values)
def test_json_values_round_trip(value: object) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        db = ObjectDatabase(Path(directory) / "o.sqlite3")
        try:
            kv = KvStorage(db, Limits())
            kv.put("k", value)
            assert kv.get("k") == value
        finally:
            db.close()


def test_tuples_come_back_as_lists_and_nan_as_none(kv: KvStorage) -> None:
    kv.put("t", (1, 2))
    kv.put("n", float("nan"))
    assert kv.get("t") == [1, 2]
    assert kv.get("n") is None


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2024, 1, 1),
        Point(1),
        b"bytes",
        {1, 2},
        {1: "non-str key"},
        2**64,
        object(),
    ],
)
def test_values_that_would_not_round_trip_are_refused(kv: KvStorage, value: object) -> None:
    with pytest.raises(NotSerializableError, match="value for key 'k' is not JSON-serializable"):
        kv.put("k", value)
    assert kv.get("k") is None


def test_a_refused_value_in_a_batch_writes_nothing(kv: KvStorage) -> None:
    with pytest.raises(NotSerializableError):
        kv.put({"good": 1, "bad": object()})
    assert kv.list() == {}


def test_list_orders_by_utf8_bytes_and_filters(kv: KvStorage) -> None:
    keys = ["b", "a", "ab", "abc", "ac", "é", "z", "\U0001f600"]
    kv.put({key: key for key in keys})
    assert list(kv.list()) == ["a", "ab", "abc", "ac", "b", "z", "é", "\U0001f600"]
    assert list(kv.list(prefix="ab")) == ["ab", "abc"]
    assert list(kv.list(start="ab", end="b")) == ["ab", "abc", "ac"]
    assert list(kv.list(start_after="ab", limit=2)) == ["abc", "ac"]
    assert list(kv.list(reverse=True, limit=2)) == ["\U0001f600", "é"]
    assert list(kv.list(prefix="zz")) == []


def test_prefix_of_high_bytes_has_no_upper_bound_problem(kv: KvStorage) -> None:
    kv.put({"\U0010ffff": 1, "\U0010ffffa": 2, "a": 3})
    assert list(kv.list(prefix="\U0010ffff")) == ["\U0010ffff", "\U0010ffffa"]


def test_list_argument_errors(kv: KvStorage) -> None:
    with pytest.raises(StorageError, match="start or start_after, not both"):
        kv.list(start="a", start_after="b")
    with pytest.raises(StorageError, match="limit must be a positive int"):
        kv.list(limit=0)


def test_keys_must_be_strings_within_the_limit(db: ObjectDatabase) -> None:
    kv = KvStorage(db, Limits(kv_key_bytes=4, kv_value_bytes=10, kv_batch_keys=2))
    kv.put("ééé"[:2], 1)  # 4 bytes
    with pytest.raises(LimitExceededError, match="key too large: 5 bytes, expected at most 4"):
        kv.put("abcde", 1)
    with pytest.raises(LimitExceededError, match="too large: 12 bytes, expected at most 10"):
        kv.put("k", "x" * 10)
    with pytest.raises(LimitExceededError, match="batch too large: 3 keys"):
        kv.get(["a", "b", "c"])
    with pytest.raises(StorageError, match="keys must be str"):
        kv.get([1])  # type: ignore[list-item]
    with pytest.raises(StorageError, match="expected a list of keys"):
        kv.delete(b"k")  # type: ignore[arg-type]
