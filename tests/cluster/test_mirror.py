"""``hub.cluster.mirror.MirrorPort``: a worker's copy of its sockets, and the commands it
sends to the gateway that holds each one (``socket_id % gateways``).

Plain synchronous tests. Each gateway is stood in for by a ``Link`` that keeps what the
mirror sends it (and checks that every message could cross a real link).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hub.cluster.mirror import MirrorPort
from hub.cluster.wire import Link, Message
from hub.errors import LimitExceededError, RemoteError
from hub.limits import Limits
from hub.net.sockets import SocketTable
from hub.runtime.ports import FeedRefused, FeedResetNeeded
from hub.storage.feeds import Change

ROOM = "a" * 64
OTHER = "b" * 64
LIMITS = Limits(tags_per_socket=2, tag_bytes=8, attachment_bytes=16, sockets_per_object=3)
#: Socket ids of a 3-gateway cluster: the gateway of each is its id % 3.
G0, G0B, G0C, G1, G1B, G2 = 3, 6, 9, 4, 7, 5


class Gateway(Link):
    """Stands in for the link to one gateway: keeps every message sent to it."""

    def __init__(self) -> None:
        super().__init__(lambda link, message: None, lambda link: None)
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        msgspec.msgpack.encode(message)  # it must be able to cross a real link
        self.sent.append(message)

    def take(self) -> list[Message]:
        """What was sent since the last ``take``."""
        sent, self.sent = self.sent, []
        return sent


def mirror_of(gateways: int = 3, limits: Limits = LIMITS) -> tuple[MirrorPort, list[Gateway]]:
    mirror = MirrorPort(limits, gateways)
    links = [Gateway() for _ in range(gateways)]
    mirror.links[:] = links
    return mirror, links


def taken(links: list[Gateway]) -> list[list[Message]]:
    """What each gateway got since the last look."""
    return [link.take() for link in links]


# -- accepting and reading ---------------------------------------------------------------


def test_accept_records_the_socket_and_tells_only_its_gateway() -> None:
    mirror, links = mirror_of()
    assert mirror.accept(G1, ROOM, ["red", "blue", "red"]) == G1
    assert taken(links) == [[], [("accept", G1, ROOM, ["red", "blue"])], []]
    assert mirror.socket_ids(ROOM, None) == [G1]
    assert mirror.socket_ids(ROOM, "blue") == [G1]
    assert mirror.tags(G1) == ("red", "blue")
    assert mirror.ready_state(G1) == 1
    assert mirror.attachment(G1) is None


def test_an_unknown_socket_reads_as_closed_with_nothing() -> None:
    mirror, _links = mirror_of()
    assert mirror.ready_state(99) == 3
    assert mirror.tags(99) == ()
    assert mirror.attachment(99) is None
    assert mirror.auto_response_timestamp(99) is None
    assert mirror.socket_ids(ROOM, None) == []


def test_socket_ids_are_the_open_ones_in_accept_order() -> None:
    mirror, _links = mirror_of()
    for socket_id in (G2, G0, G1):
        mirror.accept(socket_id, ROOM, [])
    mirror.close(G0, 1000, "")
    assert mirror.socket_ids(ROOM, None) == [G2, G1]


def test_abandon_forgets_the_socket_here_and_in_its_gateway() -> None:
    mirror, links = mirror_of()
    mirror.accept(G2, ROOM, [])
    links[2].take()
    mirror.abandon(G2)
    assert taken(links) == [[], [], [("abandon", G2)]]
    assert mirror.ready_state(G2) == 3
    assert mirror.socket_ids(ROOM, None) == []


# -- limits: as the front's socket table -------------------------------------------------

BAD_TAGS: list[Any] = [
    pytest.param(["a", "b", "c"], id="too many"),
    pytest.param(["x" * 9], id="too long"),
    pytest.param(["é" * 5], id="too long in UTF-8"),
    pytest.param([""], id="empty"),
    pytest.param("ab", id="a str, not a list"),
    pytest.param([1], id="not a str"),
]


def front_refusal(action: Any) -> BaseException:
    """What the front's socket table raises for ``action(table)``."""
    table = SocketTable(LIMITS)
    table.add(ROOM, [], 100)
    with pytest.raises(Exception) as refused:
        action(table)
    return refused.value


@pytest.mark.parametrize("tags", BAD_TAGS)
def test_accept_refuses_tags_as_the_front_does_and_sends_nothing(tags: Any) -> None:
    expected = front_refusal(lambda table: table.add(ROOM, tags, 101))
    mirror, links = mirror_of()
    with pytest.raises(type(expected)) as refused:
        mirror.accept(G0, ROOM, tags)
    assert str(refused.value) == str(expected)
    assert taken(links) == [[], [], []]
    assert mirror.ready_state(G0) == 3


@pytest.mark.parametrize("tags", BAD_TAGS)
def test_set_tags_refuses_tags_as_the_front_does_and_changes_nothing(tags: Any) -> None:
    expected = front_refusal(lambda table: table.set_tags(100, tags))
    mirror, links = mirror_of()
    mirror.accept(G0, ROOM, ["keep"])
    links[0].take()
    with pytest.raises(type(expected)) as refused:
        mirror.set_tags(G0, tags)
    assert str(refused.value) == str(expected)
    assert taken(links) == [[], [], []]
    assert mirror.tags(G0) == ("keep",)


def test_accept_refuses_a_socket_over_the_objects_limit_as_the_front_does() -> None:
    mirror, links = mirror_of()
    for socket_id in (G0, G1, G2):
        mirror.accept(socket_id, ROOM, [])
    taken(links)
    with pytest.raises(LimitExceededError, match="expected at most 3"):
        mirror.accept(G0B, ROOM, [])
    assert taken(links) == [[], [], []]
    assert mirror.socket_ids(ROOM, None) == [G0, G1, G2]
    mirror.accept(G0B, OTHER, [])  # another object has room


def test_set_tags_replaces_the_tags_and_tells_the_gateway() -> None:
    mirror, links = mirror_of()
    mirror.accept(G2, ROOM, ["old"])
    links[2].take()
    mirror.set_tags(G2, ["new", "new", "two"])
    assert taken(links) == [[], [], [("tags", G2, ["new", "two"])]]
    assert mirror.socket_ids(ROOM, "new") == [G2]
    assert mirror.socket_ids(ROOM, "old") == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"x" * 17, id="too large"),
        pytest.param("text", id="not bytes"),
    ],
)
def test_set_attachment_refuses_as_the_front_does_and_changes_nothing(data: Any) -> None:
    expected = front_refusal(lambda table: table.set_attachment(100, data))
    mirror, links = mirror_of()
    mirror.accept(G1, ROOM, [])
    mirror.set_attachment(G1, b"kept")
    links[1].take()
    with pytest.raises(type(expected)) as refused:
        mirror.set_attachment(G1, data)
    assert str(refused.value) == str(expected)
    assert taken(links) == [[], [], []]
    assert mirror.attachment(G1) == b"kept"


def test_set_attachment_stores_and_clears_it_and_tells_the_gateway() -> None:
    mirror, links = mirror_of()
    mirror.accept(G1, ROOM, [])
    links[1].take()
    mirror.set_attachment(G1, b"x" * 16)  # exactly the limit
    assert mirror.attachment(G1) == b"x" * 16
    mirror.set_attachment(G1, None)
    assert mirror.attachment(G1) is None
    assert taken(links) == [[], [("attachment", G1, b"x" * 16), ("attachment", G1, None)], []]


def test_changing_an_unknown_socket_is_a_key_error_as_in_the_front() -> None:
    mirror, links = mirror_of()
    with pytest.raises(KeyError):
        mirror.set_tags(G0, ["a"])
    with pytest.raises(KeyError):
        mirror.set_attachment(G0, b"a")
    assert taken(links) == [[], [], []]


# -- commands to one gateway ------------------------------------------------------------


def test_send_goes_to_the_sockets_gateway_only() -> None:
    mirror, links = mirror_of()
    mirror.accept(G2, ROOM, [])
    links[2].take()
    mirror.send(G2, "text")
    mirror.send(G2, b"bytes")
    assert taken(links) == [[], [], [("send", G2, "text"), ("send", G2, b"bytes")]]


def test_acknowledge_goes_to_the_sockets_gateway_with_its_error() -> None:
    mirror, links = mirror_of()
    mirror.acknowledge(G1, 7, None)
    mirror.acknowledge(G1, 8, RemoteError("ValueError", "bad"))
    assert taken(links) == [
        [],
        [("ack", G1, 7, None), ("ack", G1, 8, ("object_error", "bad", "ValueError"))],
        [],
    ]


def test_close_marks_the_socket_closing_here_and_tells_its_gateway() -> None:
    mirror, links = mirror_of()
    mirror.accept(G0, ROOM, ["t"])
    mirror.accept(G1, ROOM, ["t"])
    taken(links)
    mirror.close(G0, 4000, "bye")
    assert taken(links) == [[("close", G0, 4000, "bye")], [], []]
    assert mirror.ready_state(G0) == 2
    assert mirror.socket_ids(ROOM, None) == [G1]
    assert mirror.socket_ids(ROOM, "t") == [G1]
    assert mirror.tags(G0) == ("t",)  # still readable while closing


def test_a_feed_answer_goes_to_the_subscribers_gateway_only() -> None:
    mirror, links = mirror_of()
    mirror.feed_answer(FeedResetNeeded(G2, 1))
    mirror.feed_answer(FeedRefused(G0, 2, LimitExceededError("too many")))
    assert taken(links) == [
        [("feed_answer", ("refused", G0, 2, ("limit_exceeded", "too many", None)))],
        [],
        [("feed_answer", ("reset", G2, 1))],
    ]


def test_a_gateway_that_is_not_connected_gets_nothing_and_breaks_nothing() -> None:
    mirror, links = mirror_of()
    mirror.accept(G1, ROOM, [])
    mirror.links[1] = None
    mirror.send(G1, "lost")
    mirror.close(G1, 1000, "")
    mirror.feed_ended(ROOM, "log")
    assert mirror.ready_state(G1) == 2
    assert [links[0].take(), links[2].take()] == [
        [("feed_ended", ROOM, "log")],
        [("feed_ended", ROOM, "log")],
    ]


# -- broadcast ---------------------------------------------------------------------------


def broadcast_room() -> tuple[MirrorPort, list[Gateway]]:
    """ROOM: G0, G0B, G0C (gateway 0, G0C closing), G1 (gateway 1); OTHER: G2."""
    mirror, links = mirror_of(limits=Limits())
    mirror.accept(G0, ROOM, ["red"])
    mirror.accept(G1, ROOM, ["red"])
    mirror.accept(G0B, ROOM, [])
    mirror.accept(G0C, ROOM, ["red"])
    mirror.accept(G2, OTHER, ["red"])
    mirror.close(G0C, 1000, "")
    taken(links)
    return mirror, links


def test_broadcast_is_one_command_per_gateway_holding_a_recipient() -> None:
    mirror, links = broadcast_room()
    assert mirror.broadcast(ROOM, "hi", None, []) == 3
    message: Message = ("broadcast", ROOM, "hi", None, [])
    assert taken(links) == [[message], [message], []]


def test_broadcast_with_a_tag_counts_and_reaches_only_tagged_sockets() -> None:
    mirror, links = broadcast_room()
    mirror.accept(G1B, ROOM, [])
    links[1].take()
    assert mirror.broadcast(ROOM, b"\x00", "red", []) == 2  # G0, G1: G0C is closing
    message: Message = ("broadcast", ROOM, b"\x00", "red", [])
    assert taken(links) == [[message], [message], []]
    mirror.set_tags(G0, [])
    links[0].take()
    assert mirror.broadcast(ROOM, "x", "red", []) == 1
    assert taken(links) == [[], [("broadcast", ROOM, "x", "red", [])], []]


def test_broadcast_leaves_out_excluded_sockets_and_gateways_left_with_none() -> None:
    mirror, links = broadcast_room()
    assert mirror.broadcast(ROOM, "hi", None, {G1}) == 2
    assert taken(links) == [[("broadcast", ROOM, "hi", None, [G1])], [], []]
    assert mirror.broadcast(ROOM, "hi", None, [G0, G0B]) == 1
    assert taken(links) == [[], [("broadcast", ROOM, "hi", None, [G0, G0B])], []]


def test_broadcast_to_an_object_without_open_sockets_sends_nothing() -> None:
    mirror, links = broadcast_room()
    assert mirror.broadcast("c" * 64, "hi", None, []) == 0
    assert mirror.broadcast(ROOM, "hi", "blue", []) == 0
    assert taken(links) == [[], [], []]


# -- commands to every gateway -----------------------------------------------------------


def test_feed_changes_and_ends_go_to_every_gateway() -> None:
    mirror, links = mirror_of()
    change = Change(3, "log", "update", {"id": 1}, {"id": 1, "n": 2}, 1.5, {"id": 1, "n": 1})
    mirror.feed_changes(ROOM, [change])
    mirror.feed_ended(ROOM, "log")
    mirror.feed_ended(ROOM, None)
    expected = [
        (
            "feed_changes",
            ROOM,
            [(3, "log", "update", {"id": 1}, {"id": 1, "n": 2}, 1.5, {"id": 1, "n": 1})],
        ),
        ("feed_ended", ROOM, "log"),
        ("feed_ended", ROOM, None),
    ]
    assert taken(links) == [expected, expected, expected]


def test_an_auto_response_is_kept_and_goes_to_every_gateway() -> None:
    mirror, links = mirror_of()
    mirror.set_auto_response(ROOM, "ping", "pong")
    assert mirror.auto_response(ROOM) == ("ping", "pong")
    mirror.set_auto_response(ROOM, None, None)
    assert mirror.auto_response(ROOM) is None
    expected = [("auto_response", ROOM, "ping", "pong"), ("auto_response", ROOM, None, None)]
    assert taken(links) == [expected, expected, expected]


def test_half_an_auto_response_is_refused_and_sent_nowhere() -> None:
    mirror, links = mirror_of()
    with pytest.raises(ValueError, match="both a request and a response"):
        mirror.set_auto_response(ROOM, "ping", None)
    with pytest.raises(LimitExceededError):
        mirror.set_auto_response(ROOM, "ping", "x" * 2049)
    assert taken(links) == [[], [], []]
    assert mirror.auto_response(ROOM) is None


def test_the_time_of_an_auto_response_comes_from_the_gateway() -> None:
    mirror, _links = mirror_of()
    mirror.accept(G0, ROOM, [])
    assert mirror.auto_response_timestamp(G0) is None
    mirror.auto_at(G0, 1_700_000_000.5)
    assert mirror.auto_response_timestamp(G0) == 1_700_000_000.5
    mirror.auto_at(99, 1.0)  # a socket already gone: nothing to keep
    assert mirror.auto_response_timestamp(99) is None


# -- presence ----------------------------------------------------------------------------


def test_presence_keeps_join_order_and_goes_to_every_gateway() -> None:
    mirror, links = mirror_of()
    for socket_id in (G1, G0, G2):
        mirror.accept(socket_id, ROOM, [])
    taken(links)
    mirror.set_presence(G1, b'{"n":1}')
    mirror.set_presence(G0, b'{"n":0}')
    mirror.set_presence(G2, b'{"n":2}')
    mirror.set_presence(G1, b'{"n":11}')  # an update keeps its place
    assert mirror.presence_members(ROOM) == [(G1, b'{"n":11}'), (G0, b'{"n":0}'), (G2, b'{"n":2}')]
    mirror.set_presence(G0, None)
    assert mirror.presence_members(ROOM) == [(G1, b'{"n":11}'), (G2, b'{"n":2}')]
    expected = [
        ("presence", ROOM, G1, b'{"n":1}'),
        ("presence", ROOM, G0, b'{"n":0}'),
        ("presence", ROOM, G2, b'{"n":2}'),
        ("presence", ROOM, G1, b'{"n":11}'),
        ("presence", ROOM, G0, None),
    ]
    assert taken(links) == [expected, expected, expected]


def test_presence_of_a_socket_that_is_not_open_is_ignored() -> None:
    mirror, links = mirror_of()
    mirror.accept(G0, ROOM, [])
    mirror.close(G0, 1000, "")
    taken(links)
    mirror.set_presence(G0, b"1")
    mirror.set_presence(99, b"1")
    assert mirror.presence_members(ROOM) == []
    assert taken(links) == [[], [], []]


def test_forget_returns_the_last_tags_and_attachment() -> None:
    mirror, _links = mirror_of()
    mirror.accept(G2, ROOM, ["a", "b"])
    mirror.set_attachment(G2, b"att")
    assert mirror.forget(G2) == (("a", "b"), b"att")
    assert mirror.ready_state(G2) == 3
    assert mirror.forget(G2) is None


def test_forget_of_a_member_tells_the_other_gateways_it_left() -> None:
    mirror, links = mirror_of()
    mirror.accept(G1, ROOM, [])
    mirror.accept(G2, ROOM, [])
    mirror.set_presence(G1, b"1")
    mirror.set_presence(G2, b"2")
    taken(links)
    mirror.forget(G1)
    # Gateway 1 dropped the socket itself (and told its own watchers).
    left = ("presence", ROOM, G1, None)
    assert taken(links) == [[left], [], [left]]
    assert mirror.presence_members(ROOM) == [(G2, b"2")]


def test_forget_of_a_socket_that_is_no_member_tells_nobody() -> None:
    mirror, links = mirror_of()
    mirror.accept(G1, ROOM, [])
    taken(links)
    mirror.forget(G1)
    assert taken(links) == [[], [], []]


# -- facts from gateways: sync and drop --------------------------------------------------


def populated() -> tuple[MirrorPort, list[Gateway]]:
    """ROOM: G0 and G0B (gateway 0), G1 (gateway 1), all members; OTHER: G2."""
    mirror, links = mirror_of(limits=Limits())
    mirror.accept(G0, ROOM, ["a"])
    mirror.accept(G1, ROOM, ["b"])
    mirror.accept(G0B, ROOM, [])
    mirror.accept(G2, OTHER, [])
    mirror.set_attachment(G0, b"zero")
    for socket_id in (G0, G1, G0B):
        mirror.set_presence(socket_id, b"%d" % socket_id)
    taken(links)
    return mirror, links


def test_sync_replaces_exactly_the_sockets_of_that_gateway() -> None:
    mirror, links = populated()
    records = [
        # socket id, binding, key, name, tags, attachment, closing, auto-response time
        [G0C, "ROOM", ROOM, "lobby", ["x", "y"], b"nine", False, 12.5],
        [12, "ROOM", OTHER, None, [], None, True, None],
    ]
    mirror.sync(0, records, [[ROOM, G0C, b"9"]])
    assert mirror.socket_ids(ROOM, None) == [G1, G0C]
    assert mirror.ready_state(G0) == mirror.ready_state(G0B) == 3
    assert mirror.tags(G0C) == ("x", "y")
    assert mirror.attachment(G0C) == b"nine"
    assert mirror.auto_response_timestamp(G0C) == 12.5
    assert mirror.ready_state(12) == 2
    assert mirror.socket_ids(OTHER, None) == [G2]
    assert (mirror.tags(G1), mirror.ready_state(G1)) == (("b",), 1)
    assert mirror.presence_members(ROOM) == [(G1, b"4"), (G0C, b"9")]
    known = mirror.objects[ROOM]
    assert (known.binding, known.hex, known.name) == ("ROOM", ROOM, "lobby")
    assert taken(links) == [[], [], []]  # facts, not commands: nothing goes back


def test_sync_of_a_gateway_with_no_sockets_empties_its_part() -> None:
    mirror, _links = populated()
    mirror.sync(0, [], [])
    assert mirror.socket_ids(ROOM, None) == [G1]
    assert mirror.presence_members(ROOM) == [(G1, b"4")]


def test_drop_gateway_returns_and_removes_only_that_gateways_sockets() -> None:
    mirror, _links = populated()
    dropped = mirror.drop_gateway(0)
    assert sorted(dropped) == [(G0, ROOM, ("a",), b"zero"), (G0B, ROOM, (), None)]
    assert mirror.socket_ids(ROOM, None) == [G1]
    assert mirror.socket_ids(OTHER, None) == [G2]
    assert mirror.presence_members(ROOM) == [(G1, b"4")]
    assert mirror.drop_gateway(0) == []


def test_members_lost_with_a_gateway_leave_the_other_gateways_presence() -> None:
    mirror, links = populated()
    mirror.links[0] = None  # the gateway went away
    mirror.drop_gateway(0)
    assert taken(links)[1] == [("presence", ROOM, G0, None), ("presence", ROOM, G0B, None)]


def test_a_gateway_that_joins_learns_the_members_the_others_hold() -> None:
    mirror, _links = populated()
    assert mirror.members_elsewhere(0) == [(ROOM, G1, b"%d" % G1)]
    assert mirror.members_elsewhere(1) == [(ROOM, G0, b"%d" % G0), (ROOM, G0B, b"%d" % G0B)]
