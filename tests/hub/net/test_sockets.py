"""The socket table: tags, attachments, states, auto-responses and their limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hub.errors import LimitExceededError
from hub.limits import Limits
from hub.net.sockets import SocketRecord, SocketState, SocketTable

ROOM = "a" * 64
OTHER = "b" * 64
T0 = 1_700_000_000.0


def ids(records: list[SocketRecord]) -> list[int]:
    """The socket ids of ``records``, in order."""
    return [record.socket_id for record in records]


# -- adding sockets ----------------------------------------------------------------------


def test_add_records_an_open_socket_with_no_attachment() -> None:
    table = SocketTable()
    record = table.add(ROOM, ["player"])
    assert record == SocketRecord(
        socket_id=1,
        object_key=ROOM,
        tags=("player",),
        attachment=None,
        state=SocketState.OPEN,
        auto_response_at=None,
    )
    assert table.get(1) == record
    assert len(table) == 1


def test_socket_ids_count_up_from_one_and_are_never_reused() -> None:
    table = SocketTable()
    first = table.add(ROOM, [])
    second = table.add(OTHER, [])
    table.remove(second.socket_id)
    third = table.add(ROOM, [])
    assert [first.socket_id, second.socket_id, third.socket_id] == [1, 2, 3]


def test_socket_states_have_the_ready_state_values() -> None:
    assert [int(SocketState.OPEN), int(SocketState.CLOSING), int(SocketState.CLOSED)] == [1, 2, 3]


def test_records_are_snapshots_that_holders_cannot_change() -> None:
    table = SocketTable()
    held = table.add(ROOM, ["a"])
    table.set_tags(held.socket_id, ["b"])
    table.mark_closing(held.socket_id)
    assert held.tags == ("a",)
    assert held.state is SocketState.OPEN
    with pytest.raises(dataclasses.FrozenInstanceError):
        held.tags = ("c",)  # type: ignore[misc]
    assert table.get(held.socket_id).tags == ("b",)


# -- tags ----------------------------------------------------------------------------------


def test_duplicate_tags_are_dropped_keeping_order() -> None:
    table = SocketTable()
    record = table.add(ROOM, ["b", "a", "b", "c", "a"])
    assert record.tags == ("b", "a", "c")
    assert ids(table.open_sockets(ROOM, "b")) == [record.socket_id]


def test_eleventh_tag_is_refused() -> None:
    table = SocketTable()
    ten = [f"t{i}" for i in range(10)]
    assert table.add(ROOM, ten).tags == tuple(ten)
    with pytest.raises(LimitExceededError) as caught:
        table.add(ROOM, [*ten, "t10"])
    assert str(caught.value) == "too many tags: 11 tags, expected at most 10"
    assert table.count(ROOM) == 1


def test_duplicates_do_not_count_towards_the_tag_limit() -> None:
    table = SocketTable()
    ten = [f"t{i}" for i in range(10)]
    assert len(table.add(ROOM, [*ten, *ten, "t0"]).tags) == 10


def test_tag_of_257_bytes_is_refused_and_256_accepted() -> None:
    table = SocketTable()
    assert table.add(ROOM, ["x" * 256]).tags == ("x" * 256,)
    with pytest.raises(LimitExceededError) as caught:
        table.add(ROOM, ["x" * 257])
    assert str(caught.value) == "tag too large: 257 bytes, expected at most 256"


def test_tag_limit_counts_utf8_bytes_not_characters() -> None:
    table = SocketTable()
    assert table.add(ROOM, ["é" * 128]).tags == ("é" * 128,)  # 256 bytes
    with pytest.raises(LimitExceededError) as caught:
        table.add(ROOM, ["é" * 128 + "x"])  # 129 characters, 257 bytes
    assert str(caught.value) == "tag too large: 257 bytes, expected at most 256"
    with pytest.raises(LimitExceededError):
        table.add(ROOM, ["€" * 86])  # 86 characters, 258 bytes


def test_tag_limits_are_configurable() -> None:
    table = SocketTable(Limits(tags_per_socket=2, tag_bytes=4))
    assert table.add(ROOM, ["abcd", "efgh"]).tags == ("abcd", "efgh")
    with pytest.raises(LimitExceededError, match="too many tags: 3 tags, expected at most 2"):
        table.add(ROOM, ["a", "b", "c"])
    with pytest.raises(LimitExceededError, match="tag too large: 5 bytes, expected at most 4"):
        table.add(ROOM, ["abcde"])


def test_non_str_tag_is_a_type_error() -> None:
    table = SocketTable()
    with pytest.raises(TypeError, match="tag must be a str, got int 7"):
        table.add(ROOM, ["ok", 7])  # type: ignore[list-item]
    assert len(table) == 0


def test_a_single_string_is_not_taken_as_a_list_of_tags() -> None:
    table = SocketTable()
    with pytest.raises(TypeError, match="tags must be an iterable of str, got a single str 'room'"):
        table.add(ROOM, "room")
    assert len(table) == 0


def test_empty_tag_is_refused() -> None:
    table = SocketTable()
    with pytest.raises(ValueError, match="empty tag"):
        table.add(ROOM, ["ok", ""])
    assert len(table) == 0


def test_open_sockets_by_tag_after_set_tags() -> None:
    table = SocketTable()
    alice = table.add(ROOM, ["lobby", "red"]).socket_id
    bob = table.add(ROOM, ["lobby"]).socket_id
    record = table.set_tags(alice, ["game", "red", "game"])
    assert record.tags == ("game", "red")
    assert table.get(alice).tags == ("game", "red")
    assert ids(table.open_sockets(ROOM, "lobby")) == [bob]
    assert ids(table.open_sockets(ROOM, "game")) == [alice]
    assert ids(table.open_sockets(ROOM, "red")) == [alice]
    table.set_tags(alice, [])
    assert table.open_sockets(ROOM, "game") == []
    assert table.open_sockets(ROOM, "red") == []
    assert ids(table.open_sockets(ROOM)) == [alice, bob]


def test_open_sockets_by_tag_stay_in_accept_order_when_an_older_socket_gains_a_tag() -> None:
    table = SocketTable()
    first = table.add(ROOM, []).socket_id
    second = table.add(ROOM, ["game"]).socket_id
    third = table.add(ROOM, ["game"]).socket_id
    table.set_tags(first, ["game"])
    assert ids(table.open_sockets(ROOM, "game")) == [first, second, third]


def test_refused_set_tags_changes_nothing() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, ["lobby"]).socket_id
    with pytest.raises(LimitExceededError):
        table.set_tags(socket_id, ["game", "x" * 257])
    assert table.get(socket_id).tags == ("lobby",)
    assert ids(table.open_sockets(ROOM, "lobby")) == [socket_id]
    assert table.open_sockets(ROOM, "game") == []


def test_set_tags_on_a_closing_socket_keeps_it_out_of_open_sockets() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, ["lobby"]).socket_id
    table.mark_closing(socket_id)
    table.set_tags(socket_id, ["game"])
    assert table.get(socket_id).tags == ("game",)
    assert table.open_sockets(ROOM, "game") == []
    assert table.open_sockets(ROOM, "lobby") == []


# -- states and the object index -----------------------------------------------------------


def test_open_sockets_are_per_object_in_accept_order() -> None:
    table = SocketTable()
    a1 = table.add(ROOM, ["x"]).socket_id
    b1 = table.add(OTHER, ["x"]).socket_id
    a2 = table.add(ROOM, []).socket_id
    assert ids(table.open_sockets(ROOM)) == [a1, a2]
    assert ids(table.open_sockets(OTHER)) == [b1]
    assert ids(table.open_sockets(ROOM, "x")) == [a1]
    assert table.open_sockets("c" * 64) == []
    assert table.open_sockets(ROOM, "nobody") == []


def test_open_sockets_excludes_closing_sockets() -> None:
    table = SocketTable()
    leaving = table.add(ROOM, ["x"]).socket_id
    staying = table.add(ROOM, ["x"]).socket_id
    record = table.mark_closing(leaving)
    assert record.state is SocketState.CLOSING
    assert table.get(leaving).state is SocketState.CLOSING
    assert ids(table.open_sockets(ROOM)) == [staying]
    assert ids(table.open_sockets(ROOM, "x")) == [staying]
    assert table.count(ROOM) == 2
    assert len(table) == 2


def test_mark_closing_is_idempotent() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, ["x"]).socket_id
    table.mark_closing(socket_id)
    assert table.mark_closing(socket_id).state is SocketState.CLOSING
    assert table.count(ROOM) == 1
    assert table.open_sockets(ROOM) == []


def test_sockets_per_object_limit() -> None:
    table = SocketTable(Limits(sockets_per_object=3))
    sockets = [table.add(ROOM, []).socket_id for _ in range(3)]
    with pytest.raises(LimitExceededError) as caught:
        table.add(ROOM, [])
    assert str(caught.value) == (
        f"too many sockets on object {ROOM!r}: 4 sockets, expected at most 3"
    )
    assert table.count(ROOM) == 3
    table.add(OTHER, [])  # the limit is per object
    table.mark_closing(sockets[0])  # a closing socket still counts
    with pytest.raises(LimitExceededError):
        table.add(ROOM, [])
    table.remove(sockets[0])
    assert table.add(ROOM, []).state is SocketState.OPEN


def test_remove_cleans_every_index() -> None:
    table = SocketTable()
    gone = table.add(ROOM, ["x", "y"]).socket_id
    table.set_attachment(gone, b"state")
    record = table.remove(gone)
    assert record.state is SocketState.CLOSED
    assert record.tags == ("x", "y")
    assert record.attachment == b"state"
    assert table.find(gone) is None
    assert table.open_sockets(ROOM) == []
    assert table.open_sockets(ROOM, "x") == []
    assert table.open_sockets(ROOM, "y") == []
    assert table.count(ROOM) == 0
    assert table.objects() == []
    assert len(table) == 0


def test_remove_of_a_closing_socket_cleans_every_index() -> None:
    table = SocketTable()
    gone = table.add(ROOM, ["x"]).socket_id
    kept = table.add(ROOM, ["x"]).socket_id
    table.mark_closing(gone)
    assert table.remove(gone).state is SocketState.CLOSED
    assert table.count(ROOM) == 1
    assert ids(table.open_sockets(ROOM, "x")) == [kept]
    assert table.objects() == [ROOM]
    with pytest.raises(KeyError):
        table.remove(gone)


def test_objects_are_those_with_a_socket() -> None:
    table = SocketTable()
    a = table.add(ROOM, []).socket_id
    b = table.add(OTHER, []).socket_id
    assert sorted(table.objects()) == [ROOM, OTHER]
    table.mark_closing(b)
    assert sorted(table.objects()) == [ROOM, OTHER]
    table.remove(a)
    assert table.objects() == [OTHER]


def test_drop_object_removes_only_that_objects_sockets() -> None:
    table = SocketTable()
    a1 = table.add(ROOM, ["x"]).socket_id
    b1 = table.add(OTHER, ["x"]).socket_id
    a2 = table.add(ROOM, ["x"]).socket_id
    table.mark_closing(a2)
    table.set_auto_response(ROOM, "ping", "pong")
    table.set_auto_response(OTHER, "ping", "pong")
    dropped = table.drop_object(ROOM)
    assert ids(dropped) == [a1, a2]
    assert {record.state for record in dropped} == {SocketState.CLOSED}
    assert table.find(a1) is None
    assert table.find(a2) is None
    assert table.count(ROOM) == 0
    assert table.open_sockets(ROOM, "x") == []
    assert table.auto_response(ROOM) is None
    assert table.objects() == [OTHER]
    assert ids(table.open_sockets(OTHER, "x")) == [b1]
    assert table.auto_response(OTHER) == ("ping", "pong")
    assert table.drop_object(ROOM) == []


def test_unknown_socket_id_raises_key_error() -> None:
    table = SocketTable()
    known = table.add(ROOM, []).socket_id
    table.remove(known)
    with pytest.raises(KeyError, match="unknown socket id: 1"):
        table.get(known)
    calls: list[Callable[[], object]] = [
        lambda: table.set_tags(known, []),
        lambda: table.set_attachment(known, b""),
        lambda: table.attachment(known),
        lambda: table.mark_closing(known),
        lambda: table.remove(known),
        lambda: table.match_auto_response(known, "ping", T0),
        lambda: table.auto_response_timestamp(known),
        lambda: table.get(99),
    ]
    for call in calls:
        with pytest.raises(KeyError):
            call()
    assert table.find(known) is None
    assert table.find(99) is None


# -- attachments ---------------------------------------------------------------------------


def test_attachment_is_stored_as_given_and_can_be_cleared() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, []).socket_id
    assert table.attachment(socket_id) is None
    assert table.set_attachment(socket_id, b'{"name":"ada"}').attachment == b'{"name":"ada"}'
    assert table.attachment(socket_id) == b'{"name":"ada"}'
    table.mark_closing(socket_id)  # a closing socket keeps its attachment
    assert table.attachment(socket_id) == b'{"name":"ada"}'
    table.set_attachment(socket_id, None)
    assert table.attachment(socket_id) is None


def test_attachment_of_16_kib_is_accepted_and_one_byte_more_refused() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, []).socket_id
    table.set_attachment(socket_id, b"x" * 16384)
    with pytest.raises(LimitExceededError) as caught:
        table.set_attachment(socket_id, b"y" * 16385)
    assert str(caught.value) == "attachment too large: 16385 bytes, expected at most 16384"
    assert table.attachment(socket_id) == b"x" * 16384


def test_attachment_limit_is_configurable() -> None:
    one_mib = 1024 * 1024
    table = SocketTable(Limits(attachment_bytes=one_mib))
    socket_id = table.add(ROOM, []).socket_id
    table.set_attachment(socket_id, b"x" * one_mib)
    assert table.attachment(socket_id) == b"x" * one_mib
    with pytest.raises(LimitExceededError, match="expected at most 1048576"):
        table.set_attachment(socket_id, b"x" * (one_mib + 1))
    small = SocketTable(Limits(attachment_bytes=4))
    other = small.add(ROOM, []).socket_id
    with pytest.raises(LimitExceededError, match="attachment too large: 5 bytes"):
        small.set_attachment(other, b"12345")


def test_attachment_accepts_bytes_like_values_and_stores_bytes() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, []).socket_id
    table.set_attachment(socket_id, bytearray(b"abc"))  # type: ignore[arg-type]
    assert type(table.attachment(socket_id)) is bytes
    assert table.attachment(socket_id) == b"abc"


def test_attachment_must_be_bytes() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, []).socket_id
    with pytest.raises(TypeError, match="attachment must be bytes or None, got str"):
        table.set_attachment(socket_id, "text")  # type: ignore[arg-type]


# -- the socket limits in Limits -----------------------------------------------------------


def test_socket_limits_default_to_the_anchors() -> None:
    limits = Limits()
    assert limits.tags_per_socket == 10
    assert limits.tag_bytes == 256
    assert limits.attachment_bytes == 16 * 1024
    assert limits.sockets_per_object == 32_768
    assert limits.message_bytes == 1024 * 1024
    assert limits.close_reason_bytes == 123
    assert limits.auto_response_bytes == 2048


def test_limits_refuse_values_past_their_ceilings() -> None:
    Limits(attachment_bytes=1024 * 1024, message_bytes=32 * 1024 * 1024)
    with pytest.raises(ValueError, match="attachment_bytes must be at most 1048576"):
        Limits(attachment_bytes=1024 * 1024 + 1)
    with pytest.raises(ValueError, match="message_bytes must be at most 33554432"):
        Limits(message_bytes=32 * 1024 * 1024 + 1)
    with pytest.raises(ValueError, match="close_reason_bytes must be at most 123"):
        Limits(close_reason_bytes=124)


@pytest.mark.parametrize(
    "name",
    [
        "tags_per_socket",
        "tag_bytes",
        "attachment_bytes",
        "sockets_per_object",
        "message_bytes",
        "close_reason_bytes",
        "auto_response_bytes",
    ],
)
def test_socket_limits_must_be_positive_ints(name: str) -> None:
    with pytest.raises(ValueError, match=f"limit {name} must be a positive int, got 0"):
        Limits(**{name: 0})


# -- auto-response -------------------------------------------------------------------------


def test_auto_response_matches_only_exact_text_and_records_time() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, []).socket_id
    table.set_auto_response(ROOM, "ping", "pong")
    assert table.auto_response(ROOM) == ("ping", "pong")
    for miss in ("ping ", "Ping", "pin", "", b"ping"):
        assert table.match_auto_response(socket_id, miss, T0 + 1) is None
    assert table.auto_response_timestamp(socket_id) is None
    assert table.match_auto_response(socket_id, "ping", T0 + 2) == "pong"
    assert table.auto_response_timestamp(socket_id) == T0 + 2
    assert table.get(socket_id).auto_response_at == T0 + 2
    assert table.match_auto_response(socket_id, "ping", T0 + 5) == "pong"
    assert table.auto_response_timestamp(socket_id) == T0 + 5


def test_auto_response_not_sent_on_closing_socket() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, []).socket_id
    table.set_auto_response(ROOM, "ping", "pong")
    table.mark_closing(socket_id)
    assert table.match_auto_response(socket_id, "ping", T0 + 1) is None
    assert table.auto_response_timestamp(socket_id) is None


def test_auto_response_is_per_object_and_timestamps_per_socket() -> None:
    table = SocketTable()
    here = table.add(ROOM, []).socket_id
    there = table.add(OTHER, []).socket_id
    neighbour = table.add(ROOM, []).socket_id
    table.set_auto_response(ROOM, "ping", "pong")
    assert table.auto_response(OTHER) is None
    assert table.match_auto_response(there, "ping", T0 + 1) is None
    assert table.match_auto_response(here, "ping", T0 + 1) == "pong"
    assert table.auto_response_timestamp(neighbour) is None


def test_auto_response_can_be_replaced_and_cleared() -> None:
    table = SocketTable()
    socket_id = table.add(ROOM, []).socket_id
    table.set_auto_response(ROOM, "ping", "pong")
    table.set_auto_response(ROOM, "hb", "ok")
    assert table.match_auto_response(socket_id, "ping", T0) is None
    assert table.match_auto_response(socket_id, "hb", T0) == "ok"
    table.set_auto_response(ROOM, None, None)
    assert table.auto_response(ROOM) is None
    assert table.match_auto_response(socket_id, "hb", T0 + 1) is None
    assert table.auto_response_timestamp(socket_id) == T0


def test_auto_response_needs_both_strings() -> None:
    table = SocketTable()
    table.set_auto_response(ROOM, "ping", "pong")
    with pytest.raises(ValueError, match="got request='ping' and response=None"):
        table.set_auto_response(ROOM, "ping", None)
    with pytest.raises(ValueError, match="needs both a request and a response"):
        table.set_auto_response(ROOM, None, "pong")
    with pytest.raises(TypeError, match="auto-response request must be a str, got bytes"):
        table.set_auto_response(ROOM, b"ping", "pong")  # type: ignore[arg-type]
    assert table.auto_response(ROOM) == ("ping", "pong")


def test_auto_response_strings_are_limited_to_2048_bytes() -> None:
    table = SocketTable()
    table.set_auto_response(ROOM, "q" * 2048, "r" * 2048)
    with pytest.raises(LimitExceededError) as caught:
        table.set_auto_response(ROOM, "ping", "é" * 1025)
    assert str(caught.value) == (
        "auto-response response too large: 2050 bytes, expected at most 2048"
    )
    with pytest.raises(LimitExceededError, match="auto-response request too large: 2049"):
        table.set_auto_response(ROOM, "q" * 2049, "pong")
    assert table.auto_response(ROOM) == ("q" * 2048, "r" * 2048)


# -- property: indexes agree with a brute-force scan of the records -------------------------

KEYS = [ROOM, OTHER, "c" * 64]
TAGS = ["red", "green", "blue", "gold"]


class IndexesAgreeWithRecords(RuleBasedStateMachine):
    """Random add / set_tags / mark_closing / remove / drop_object sequences.

    A model (socket id -> object key, tags, state) is kept beside the table; after each
    step the table's records must match the model, and every indexed read must equal
    the same read done by scanning all records.
    """

    def __init__(self) -> None:
        super().__init__()
        self.table = SocketTable(Limits(tags_per_socket=3, sockets_per_object=4))
        self.model: dict[int, tuple[str, tuple[str, ...], SocketState]] = {}
        self.removed: set[int] = set()

    def _pick(self, data: st.DataObject) -> int:
        # Stale ids are drawn on purpose: they must raise KeyError and change nothing.
        known = sorted(self.model.keys() | self.removed) or [1]
        return data.draw(st.sampled_from(known))

    @rule(key=st.sampled_from(KEYS), tags=st.lists(st.sampled_from(TAGS), max_size=6))
    def add(self, key: str, tags: list[str]) -> None:
        distinct = tuple(dict.fromkeys(tags))
        live = sum(1 for k, _, _ in self.model.values() if k == key)
        if len(distinct) > 3 or live >= 4:
            with pytest.raises(LimitExceededError):
                self.table.add(key, tags)
            return
        record = self.table.add(key, tags)
        assert record.socket_id > max(self.model.keys() | self.removed, default=0)
        self.model[record.socket_id] = (key, distinct, SocketState.OPEN)

    @rule(data=st.data(), tags=st.lists(st.sampled_from(TAGS), max_size=6))
    def set_tags(self, data: st.DataObject, tags: list[str]) -> None:
        socket_id = self._pick(data)
        distinct = tuple(dict.fromkeys(tags))
        if socket_id not in self.model:
            with pytest.raises(KeyError):
                self.table.set_tags(socket_id, tags)
        elif len(distinct) > 3:
            with pytest.raises(LimitExceededError):
                self.table.set_tags(socket_id, tags)
        else:
            self.table.set_tags(socket_id, tags)
            key, _, state = self.model[socket_id]
            self.model[socket_id] = (key, distinct, state)

    @rule(data=st.data())
    def mark_closing(self, data: st.DataObject) -> None:
        socket_id = self._pick(data)
        if socket_id not in self.model:
            with pytest.raises(KeyError):
                self.table.mark_closing(socket_id)
            return
        self.table.mark_closing(socket_id)
        key, tags, _ = self.model[socket_id]
        self.model[socket_id] = (key, tags, SocketState.CLOSING)

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        socket_id = self._pick(data)
        if socket_id not in self.model:
            with pytest.raises(KeyError):
                self.table.remove(socket_id)
            return
        assert self.table.remove(socket_id).state is SocketState.CLOSED
        del self.model[socket_id]
        self.removed.add(socket_id)

    @rule(key=st.sampled_from(KEYS))
    def drop_object(self, key: str) -> None:
        expected = [sid for sid, (k, _, _) in self.model.items() if k == key]
        assert ids(self.table.drop_object(key)) == expected
        for socket_id in expected:
            del self.model[socket_id]
            self.removed.add(socket_id)

    @invariant()
    def records_match_the_model(self) -> None:
        assert len(self.table) == len(self.model)
        for socket_id, (key, tags, state) in self.model.items():
            record = self.table.get(socket_id)
            assert (record.object_key, record.tags, record.state) == (key, tags, state)
        for socket_id in self.removed:
            assert self.table.find(socket_id) is None

    @invariant()
    def indexes_match_a_scan_of_the_records(self) -> None:
        records = [self.table.get(socket_id) for socket_id in sorted(self.model)]
        assert sorted(self.table.objects()) == sorted({r.object_key for r in records})
        for key in KEYS:
            mine = [r for r in records if r.object_key == key]
            opened = [r for r in mine if r.state is SocketState.OPEN]
            assert self.table.count(key) == len(mine)
            assert self.table.open_sockets(key) == opened
            for tag in TAGS:
                tagged = [r for r in opened if tag in r.tags]
                assert self.table.open_sockets(key, tag) == tagged


TestIndexesAgreeWithRecords = IndexesAgreeWithRecords.TestCase
TestIndexesAgreeWithRecords.settings = settings(max_examples=200, stateful_step_count=40)
