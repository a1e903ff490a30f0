"""Object ids: deterministic from names, random when unique, strict when parsed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import InvalidIdError
from hub.ids import MAX_NAME_BYTES, id_from_name, new_unique_id, parse_id


def test_same_name_gives_the_same_64_hex_id() -> None:
    first = id_from_name("COUNTER", "visits")
    again = id_from_name("COUNTER", "visits")
    assert first == again
    assert re.fullmatch(r"[0-9a-f]{64}", first.hex)
    assert str(first) == first.hex
    assert first.name == "visits"


def test_id_of_a_name_is_stable_across_versions() -> None:
    # A golden value: changing the derivation would orphan every stored object.
    assert id_from_name("COUNTER", "visits").hex == (
        "ef8ed3ef14949fc45e976306e4c339cde679852374a910c87ce22b94d2737596"
    )


def test_bindings_and_names_separate_ids() -> None:
    assert id_from_name("A", "x") != id_from_name("B", "x")
    assert id_from_name("A", "x") != id_from_name("A", "y")
    assert id_from_name("A", "x").hex != id_from_name("B", "x").hex


def test_unique_ids_are_distinct_and_nameless() -> None:
    ids = {new_unique_id("ROOM").hex for _ in range(100)}
    assert len(ids) == 100
    assert new_unique_id("ROOM").name is None


@given(st.text())
def test_any_string_is_a_name_and_round_trips_through_parse(name: str) -> None:
    object_id = id_from_name("ROOM", name)
    parsed = parse_id("ROOM", object_id.hex)
    assert parsed == object_id
    assert parsed.name is None  # a parsed id does not know its name outside the object


def test_lone_surrogates_and_path_characters_are_just_data() -> None:
    for name in ["\ud800", "../../etc/passwd", "a/b\\c", "\x00", "😀" * 10]:
        assert re.fullmatch(r"[0-9a-f]{64}", id_from_name("ROOM", name).hex)


def test_names_over_the_limit_are_refused() -> None:
    id_from_name("ROOM", "x" * MAX_NAME_BYTES)
    with pytest.raises(InvalidIdError, match="object name too long: 2049 bytes"):
        id_from_name("ROOM", "x" * (MAX_NAME_BYTES + 1))


@pytest.mark.parametrize(
    "text",
    ["", "abc", "g" * 64, "A" * 64, "0" * 63, "0" * 65, " " + "0" * 63, "../" + "0" * 61],
)
def test_malformed_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdError, match="malformed object id"):
        parse_id("ROOM", text)


def test_an_id_of_another_binding_is_refused() -> None:
    other = id_from_name("OTHER", "x")
    with pytest.raises(InvalidIdError, match="does not belong to binding 'ROOM'"):
        parse_id("ROOM", other.hex)


def test_a_typo_in_an_id_is_caught_by_its_tag() -> None:
    good = id_from_name("ROOM", "x").hex
    typo = ("1" if good[5] != "1" else "2").join([good[:5], good[6:]])
    with pytest.raises(InvalidIdError):
        parse_id("ROOM", typo)


def test_non_string_input_is_refused() -> None:
    with pytest.raises(InvalidIdError, match="must be a str"):
        parse_id("ROOM", 12)  # type: ignore[arg-type]
    with pytest.raises(InvalidIdError, match="must be a str"):
        id_from_name("ROOM", None)  # type: ignore[arg-type]


def test_short_names_are_cached_long_ones_computed_alike() -> None:
    from hub.ids import _CACHED_NAME_CHARS, _id_of

    short, long = "room-1", "r" * (_CACHED_NAME_CHARS + 1)
    assert id_from_name("ROOM", short) is id_from_name("ROOM", short)  # the cache
    assert id_from_name("ROOM", short) == _id_of("ROOM", short)
    assert id_from_name("ROOM", short).name == short
    assert id_from_name("ROOM", long) is not id_from_name("ROOM", long)  # computed
    assert id_from_name("ROOM", long) == _id_of("ROOM", long)
    assert id_from_name("ROOM", short) != id_from_name("OTHER", short)  # keyed by binding
