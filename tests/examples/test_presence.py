"""The presence example, end to end: real ``roost.v1`` sockets, then two people in Chromium.

Who is online is the hub's presence list (protocol/SPEC.md §10), so these tests read
what a watcher gets, frame by frame and in order: a ``join`` for each newcomer, an
``update`` for each status change, a ``leave`` for each socket gone (however it went),
and the same list over HTTP while the room sleeps.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import within
from tests.examples.conftest import (
    V1,
    Pages,
    Served,
    http_get,
    http_json,
    needs_chromium,
    presence,
    serving,
)
from tests.examples.gate import Gate

if TYPE_CHECKING:
    from playwright.async_api import Browser

BINDING = "PRESENCE_ROOM"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The presence example on 127.0.0.1:0."""
    async with serving({BINDING: presence.PresenceRoom}, presence.route, tmp_path) as served:
        yield served


def room_path(room: str = "lobby", name: str | None = None) -> str:
    path = f"/objects/presence-room/{quote(room, safe='')}"
    return path if name is None else f"{path}?name={quote(name, safe='')}"


async def join(served: Served, name: str, room: str = "lobby") -> tuple[V1, list[Any]]:
    """``name`` joins ``room`` and watches its presence: the socket and the first list."""
    client = await served.open(room_path(room, name))
    await client.send({"t": "presence_sub"})
    members: list[Any] = (await client.expect("presence"))["members"]
    return client, members


def member(client: V1, name: str, status: str = "online") -> dict[str, Any]:
    return {"socket": client.socket, "state": {"name": name, "status": status}}


async def set_status(client: V1, status: object) -> None:
    await client.send({"t": "msg", "data": {"status": status}})


# -- join, update, leave -----------------------------------------------------------------


async def test_two_people_see_each_other_join_change_status_and_leave(served: Served) -> None:
    ada, ada_list = await join(served, "ada")
    assert ada_list == [member(ada, "ada")]
    bob, bob_list = await join(served, "bob")
    assert bob_list == [member(ada, "ada"), member(bob, "bob")]
    assert await ada.next() == {"t": "join", **member(bob, "bob")}

    await set_status(bob, "away")
    update = {"t": "update", **member(bob, "bob", "away")}
    assert await ada.next() == update
    assert await bob.next() == update  # the sender watches too
    await set_status(ada, "busy")
    update = {"t": "update", **member(ada, "ada", "busy")}
    assert [await ada.next(), await bob.next()] == [update, update]

    await set_status(bob, "away")  # the same state again: nothing to tell
    await bob.nothing_pending()
    await ada.nothing_pending()

    # A fresh list keeps the join order, with the current states.
    await bob.send({"t": "presence_sub"})
    assert (await bob.expect("presence"))["members"] == [
        member(ada, "ada", "busy"),
        member(bob, "bob", "away"),
    ]

    await within(bob.conn.close())
    assert await ada.next() == {"t": "leave", "socket": bob.socket}
    status, listed = await http_json(served.server.url + room_path() + "/presence")
    assert (status, listed) == (200, {"count": 1, "members": [member(ada, "ada", "busy")]})


async def test_a_dropped_socket_leaves_at_once(served: Served) -> None:
    ada, _ = await join(served, "ada")
    bob, _ = await join(served, "bob")
    assert await ada.next() == {"t": "join", **member(bob, "bob")}
    bob.conn.transport.abort()  # no close frame: the network went away
    assert await ada.next() == {"t": "leave", "socket": bob.socket}
    _, listed = await http_json(served.server.url + room_path() + "/presence")
    assert listed == {"count": 1, "members": [member(ada, "ada")]}


async def test_the_same_name_twice_is_two_members(served: Served) -> None:
    first, _ = await join(served, "ada")
    second, second_list = await join(served, "ada")  # a second tab
    assert second_list == [member(first, "ada"), member(second, "ada")]
    assert first.socket != second.socket


async def test_rooms_are_separate(served: Served) -> None:
    ada, _ = await join(served, "ada", room="lobby")
    bob, bob_list = await join(served, "bob", room="kitchen")
    assert bob_list == [member(bob, "bob")]
    await set_status(bob, "busy")
    assert (await bob.next())["t"] == "update"
    await ada.nothing_pending()  # no join, no update from the kitchen


# -- the room sleeps ---------------------------------------------------------------------


async def test_the_http_list_answers_while_the_room_is_hibernated(served: Served) -> None:
    app = served.app
    ada, _ = await join(served, "ada")
    bob, _ = await join(served, "bob")
    await set_status(bob, "away")
    assert (await ada.next())["t"] == "join"
    away = {"t": "update", **member(bob, "bob", "away")}
    assert [await ada.next(), await bob.next()] == [away, away]

    assert await app.hibernate(BINDING, "lobby")
    assert not app.is_active(BINDING, "lobby")
    status, listed = await http_json(served.server.url + room_path() + "/presence")
    assert (status, listed) == (
        200,
        {"count": 2, "members": [member(ada, "ada"), member(bob, "bob", "away")]},
    )
    carol, carol_list = await join(served, "carol", room="elsewhere")  # another room's list
    assert carol_list == [member(carol, "carol")]
    await bob.send({"t": "presence_sub"})  # a watcher's fresh list does not wake it either
    assert len((await bob.expect("presence"))["members"]) == 2
    assert not app.is_active(BINDING, "lobby")

    # The front tells the watchers at once; the close is then handed to the room (and
    # wakes it), so force it back to sleep to see a status change wake it.
    bob.conn.transport.abort()
    assert await ada.next() == {"t": "leave", "socket": bob.socket}
    await app.hibernate(BINDING, "lobby")
    assert not app.is_active(BINDING, "lobby")
    await set_status(ada, "busy")  # the name comes from the socket's attachment
    assert await ada.next() == {"t": "update", **member(ada, "ada", "busy")}
    assert app.is_active(BINDING, "lobby")


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"status": "asleep"},
        {"status": None},
        {"mood": "away"},
        ["away"],
        "away",
        "not json",
        {"status": "away" * 100},
    ],
)
async def test_a_bad_status_gets_an_error_to_its_sender_only(
    served: Served, message: object
) -> None:
    ada, _ = await join(served, "ada")
    bob, _ = await join(served, "bob")
    assert (await ada.next())["t"] == "join"
    await bob.send({"t": "msg", "data": message})
    error = await bob.expect("msg")
    assert isinstance(error["data"], str)
    assert json.loads(error["data"]) == {
        "type": "error",
        "code": "bad_status",
        "message": 'expected {"status": "online" | "away" | "busy"}',
    }
    await set_status(bob, "busy")  # the socket stays open, and still works
    update = {"t": "update", **member(bob, "bob", "busy")}
    assert [await ada.next(), await bob.next()] == [update, update]  # ada saw no error


async def test_the_name_comes_from_the_url_not_from_a_message(served: Served) -> None:
    ada, _ = await join(served, "ada")
    await ada.send({"t": "msg", "data": {"status": "away", "name": "mallory"}})
    assert await ada.next() == {"t": "update", **member(ada, "ada", "away")}


@pytest.mark.parametrize("name", ["", "x" * (presence.MAX_NAME + 1), " ada", "ada ", "tab\there"])
async def test_a_bad_name_is_refused_with_400(served: Served, name: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(room_path(name=name))
    assert refused.value.response.status_code == 400
    assert refused.value.response.body == b"bad name: expected 1 to 32 printable characters"
    status, _, body = await http_get(served.server.url + room_path(name=name))
    assert (status, body) == (400, b"bad name: expected 1 to 32 printable characters")
    _, listed = await http_json(served.server.url + room_path() + "/presence")
    assert listed == {"count": 0, "members": []}


async def test_a_socket_without_a_name_is_refused(served: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(room_path())
    assert refused.value.response.status_code == 400
    assert refused.value.response.body == b"missing ?name=NAME"


async def test_names_are_any_printable_text_up_to_the_limit(served: Served) -> None:
    zoe, _ = await join(served, "Zoë 🐦 <b>bird</b>", room="café / 2")
    longest, longest_list = await join(served, "x" * presence.MAX_NAME, room="café / 2")
    assert longest_list == [
        member(zoe, "Zoë 🐦 <b>bird</b>"),
        member(longest, "x" * presence.MAX_NAME),
    ]


async def test_a_bad_room_name_never_reaches_an_object(served: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(room_path("r" * (presence.MAX_NAME + 1), "ada"))
    assert refused.value.response.status_code == 400
    assert b'"invalid_id"' in refused.value.response.body
    assert served.app.stats().activations == 0


# -- HTTP ----------------------------------------------------------------------------------


async def test_the_root_redirects_to_the_lobby_page(served: Served) -> None:
    status, headers, _ = await http_get(served.server.url + "/")
    assert (status, headers["location"]) == (302, "/objects/presence-room/lobby")
    status, headers, body = await http_get(served.server.url + room_path(name="ada"))
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"connect-src 'self'" in body  # the strict CSP, as chat's
    for hook in (b'id="members"', b'id="my-status"', b'id="status"', b'id="join"'):
        assert hook in body
    # One self-contained file: no URL, no src= or href= to load anything from.
    assert (b"://" in body, b"src=" in body, b"href=" in body) == (False, False, False)
    status, _, _ = await http_get(served.server.url + room_path() + "/other")
    assert status == 404


# -- the page, in headless Chromium ------------------------------------------------------


@needs_chromium
async def test_two_people_see_each_other_in_chromium(served: Served, browser: Browser) -> None:
    from playwright.async_api import expect

    app = served.app
    pages = Pages(browser, served.server.url)

    # ada comes through the front door: / -> the lobby's join form -> the room.
    ada = await pages.open("/")
    await ada.fill("#name", "ada")
    await ada.click("#join-button")
    await expect(ada).to_have_url(pages.base + "/objects/presence-room/lobby?name=ada")
    await expect(ada.locator("#status")).to_have_attribute("data-state", "open")
    await expect(ada.locator("#members li .name")).to_have_text(["ada"])
    bob = await pages.open(room_path(name="bob <i>"))
    for page, you in ((ada, "ada"), (bob, "bob <i>")):
        await expect(page.locator("#members li .name")).to_have_text(["ada", "bob <i>"])
        await expect(page.locator("#members li .state")).to_have_text(["online", "online"])
        await expect(page.locator("#members li:has(.you) .name")).to_have_text([you])
        await expect(page.locator("#members i")).to_have_count(0)  # text, never HTML

    await bob.select_option("#my-status", "busy")
    for page in (ada, bob):
        await expect(page.locator("#members li").nth(1)).to_have_attribute("data-status", "busy")
        await expect(page.locator("#members li .state")).to_have_text(["online", "busy"])

    assert await app.hibernate(BINDING, "lobby")
    _, listed = await http_json(served.server.url + room_path() + "/presence")
    names = [(m["state"]["name"], m["state"]["status"]) for m in listed["members"]]
    assert names == [("ada", "online"), ("bob <i>", "busy")]

    assert not app.is_active(BINDING, "lobby")  # reading the list did not wake it
    await bob.context.close()  # bob goes away: he leaves at once
    await expect(ada.locator("#members li .name")).to_have_text(["ada"])
    await expect(ada.locator("#members li .you")).to_have_count(1)
    assert pages.errors == []


@needs_chromium
async def test_a_page_that_lost_its_connection_comes_back_with_a_fresh_list(
    served: Served, browser: Browser
) -> None:
    from playwright.async_api import expect

    pages = Pages(browser, served.server.url)
    gate = Gate(served.server.port)  # bob's network, which the test cuts
    await gate.start()
    try:
        ada = await pages.open(room_path(name="ada"))
        bob = await pages.open(room_path(name="bob"), base=gate.url)
        await expect(ada.locator("#members li .name")).to_have_text(["ada", "bob"])
        await bob.select_option("#my-status", "away")
        await expect(ada.locator("#members li .state")).to_have_text(["online", "away"])
        before = await bob.locator("#members li:has(.you)").get_attribute("data-socket")

        gate.close()
        await expect(ada.locator("#members li .name")).to_have_text(["ada"])  # at once
        await expect(bob.locator("#status")).not_to_have_attribute("data-state", "open")
        carol = await pages.open(room_path(name="carol"))  # joins while bob is away
        await expect(carol.locator("#members li .name")).to_have_text(["ada", "carol"])

        gate.open()  # bob's page reconnects by itself, as a new member, still away
        for page in (ada, bob, carol):
            await expect(page.locator("#members li .name")).to_have_text(["ada", "carol", "bob"])
            await expect(page.locator("#members li .state")).to_have_text(
                ["online", "online", "away"]
            )
        await expect(bob.locator("#status")).to_have_attribute("data-state", "open")
        await expect(bob.locator("#members li:has(.you) .name")).to_have_text(["bob"])
        after = await bob.locator("#members li:has(.you)").get_attribute("data-socket")
        assert after != before
        assert pages.errors == []
    finally:
        await gate.stop()
