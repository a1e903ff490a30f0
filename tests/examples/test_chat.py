"""The chat example, end to end: real sockets first, then two users in headless Chromium.

The socket tests read every frame in order, so "not sent to the sender" is checked by
what the sender gets next. The hibernation tests force the room out of memory between
two messages and expect the same chat afterwards: history, users and typing all come
from SQLite and the sockets' attachments, never from the instance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import websockets
from websockets.exceptions import InvalidStatus

import hub
from tests.conftest import within
from tests.examples.conftest import ChatServer, Pages, chat, http_get, needs_chromium

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

# -- joining and history ------------------------------------------------------------------


async def test_a_newcomer_gets_the_history_and_everyone_the_new_presence(
    chat_server: ChatServer,
) -> None:
    ada = await chat_server.join("ada")
    assert ada.welcome["messages"] == []
    await ada.say("first")
    first = await ada.expect("message")
    await ada.say("second")
    second = await ada.expect("message")

    bob = await chat_server.join("bob")  # ada's presence frame is checked by join()
    assert [(m["user"], m["text"]) for m in bob.welcome["messages"]] == [
        ("ada", "first"),
        ("ada", "second"),
    ]
    assert [{"type": "message", **m} for m in bob.welcome["messages"]] == [first, second]
    assert first["id"] < second["id"]
    assert isinstance(first["sent_at"], int)


async def test_history_is_the_last_50_messages_oldest_first(chat_server: ChatServer) -> None:
    ada = await chat_server.join("ada")
    for n in range(55):
        await ada.say(f"message {n}")
        assert (await ada.expect("message"))["text"] == f"message {n}"
    bob = await chat_server.join("bob")
    texts = [m["text"] for m in bob.welcome["messages"]]
    assert texts == [f"message {n}" for n in range(5, 55)]


async def test_rooms_are_separate(chat_server: ChatServer) -> None:
    ada = await chat_server.join("ada", room="lobby")
    bob = await chat_server.join("bob", room="kitchen")  # ada gets no presence frame
    await ada.say("only in the lobby")
    assert (await ada.expect("message"))["text"] == "only in the lobby"
    await bob.say("only in the kitchen")
    assert (await bob.expect("message"))["text"] == "only in the kitchen"  # not the lobby's
    carol = await chat_server.join("carol", room="kitchen")
    assert [m["text"] for m in carol.welcome["messages"]] == ["only in the kitchen"]


# -- messages, typing, presence ---------------------------------------------------------


async def test_a_message_reaches_everyone_in_the_room_with_its_sender(
    chat_server: ChatServer,
) -> None:
    ada = await chat_server.join("ada")
    bob = await chat_server.join("bob")
    await bob.say("hello ada, <b>not bold</b>")
    seen = [await client.expect("message") for client in (ada, bob)]
    assert seen[0] == seen[1]
    assert (seen[0]["user"], seen[0]["text"]) == ("bob", "hello ada, <b>not bold</b>")


async def test_typing_goes_to_the_others_only_and_is_not_stored(chat_server: ChatServer) -> None:
    ada = await chat_server.join("ada")
    bob = await chat_server.join("bob")
    await ada.send({"type": "typing"})
    assert await bob.next() == {"type": "typing", "user": "ada"}
    await ada.say("done typing")
    # Had the typing frame gone to ada too, it would come before her own message.
    assert (await ada.next())["type"] == "message"
    assert (await bob.expect("message"))["text"] == "done typing"
    carol = await chat_server.join("carol")
    assert [m["text"] for m in carol.welcome["messages"]] == ["done typing"]


async def test_presence_lists_users_on_join_and_leave(chat_server: ChatServer) -> None:
    ada = await chat_server.join("ada")
    assert ada.users == ["ada"]
    bob = await chat_server.join("bob")  # join() checks that ada got the same list
    assert bob.users == ["ada", "bob"]
    second_bob = await chat_server.join("bob")  # a second tab: bob is listed once
    assert second_bob.users == ["ada", "bob"]
    carol = await chat_server.join("carol")
    assert carol.users == ["ada", "bob", "carol"]
    await ada.say("who is here?")
    for client in (ada, bob, second_bob, carol):
        await client.expect("message")
    assert await chat_server.leave(carol) == ["ada", "bob"]
    assert await chat_server.leave(bob) == ["ada", "bob"]  # bob's other tab is open
    assert await chat_server.leave(second_bob) == ["ada"]


async def test_the_name_comes_from_the_url_not_from_the_message(chat_server: ChatServer) -> None:
    ada = await chat_server.join("ada")
    await ada.send({"type": "message", "text": "hi", "user": "mallory"})
    assert (await ada.expect("message"))["user"] == "ada"


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_message"),
        ("[1, 2]", "bad_message"),
        ('{"type": "shout", "text": "hi"}', "bad_message"),
        ('{"type": "message"}', "bad_message"),
        ('{"type": "message", "text": 42}', "bad_message"),
        ('{"type": "message", "text": "   "}', "bad_message"),
        (b'{"type": "message", "text": "binary"}', "bad_message"),
        ('{"type": "message", "text": "' + "x" * (chat.MAX_TEXT + 1) + '"}', "too_long"),
        ("x" * (chat.MAX_FRAME + 1), "too_long"),
    ],
)
async def test_a_bad_frame_gets_an_error_to_its_sender_only_and_the_socket_stays_open(
    chat_server: ChatServer, frame: str | bytes, code: str
) -> None:
    ada = await chat_server.join("ada")
    bob = await chat_server.join("bob")
    await ada.conn.send(frame)
    error = await ada.expect("error")
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    await ada.say("x" * chat.MAX_TEXT)  # the longest text allowed, on the same socket
    for client in (ada, bob):  # bob's next frame is the message, not the error
        message = await client.expect("message")
        assert (message["user"], len(message["text"])) == ("ada", chat.MAX_TEXT)
    carol = await chat_server.join("carol")
    assert [len(m["text"]) for m in carol.welcome["messages"]] == [chat.MAX_TEXT]


@pytest.mark.parametrize(
    "user",
    ["", "x" * (chat.MAX_NAME + 1), " ada", "ada\n", "tab\there"],
)
async def test_a_bad_user_name_is_refused_at_the_upgrade(
    chat_server: ChatServer, user: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await chat_server.connect(user)
    assert refused.value.response.status_code == 400
    assert b"bad user name" in refused.value.response.body


async def test_names_are_any_printable_text_up_to_the_limit(chat_server: ChatServer) -> None:
    zoe = await chat_server.join("Zoë 🐦 the bird", room="café / 2")
    longest = await chat_server.join("x" * chat.MAX_NAME, room="café / 2")
    assert longest.users == ["Zoë 🐦 the bird", "x" * chat.MAX_NAME]
    await zoe.say("hi")
    assert (await longest.expect("message"))["user"] == "Zoë 🐦 the bird"


async def test_a_socket_without_a_user_is_refused(chat_server: ChatServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await within(websockets.connect(chat_server.server.ws_url + "/objects/chat-room/lobby"))
    assert refused.value.response.status_code == 400


async def test_a_long_room_name_never_reaches_an_object(chat_server: ChatServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await chat_server.connect("ada", room="r" * (chat.MAX_NAME + 1))
    assert refused.value.response.status_code == 400
    assert b"bad room name" in refused.value.response.body
    assert b'"invalid_id"' in refused.value.response.body
    too_long = "/objects/chat-room/" + "r" * (chat.MAX_NAME + 1)
    status, _, body = await http_get(chat_server.server.url + too_long)
    assert (status, b"bad room name" in body) == (400, True)
    assert chat_server.app.stats().activations == 0
    ok = await chat_server.join("ada", room="r" * chat.MAX_NAME)
    assert ok.welcome["room"] == "r" * chat.MAX_NAME


async def test_keepalive_ping_is_answered_pong(chat_server: ChatServer) -> None:
    ada = await chat_server.join("ada")
    await ada.conn.send("ping")
    assert await within(ada.conn.recv()) == "pong"


# -- hibernation and restarts ------------------------------------------------------------


async def test_the_chat_goes_on_after_the_room_hibernates(chat_server: ChatServer) -> None:
    app = chat_server.app
    ada = await chat_server.join("ada")
    bob = await chat_server.join("bob")
    await ada.say("before the nap")
    before, seen_by_bob = [await client.expect("message") for client in (ada, bob)]
    assert before == seen_by_bob

    assert await app.hibernate("CHAT_ROOM", "lobby")
    assert not app.is_active("CHAT_ROOM", "lobby")
    await ada.conn.send("ping")  # answered by the front: the room sleeps on
    assert await within(ada.conn.recv()) == "pong"
    assert not app.is_active("CHAT_ROOM", "lobby")

    await bob.send({"type": "typing"})  # wakes the room: bob's name is in his socket
    assert await ada.next() == {"type": "typing", "user": "bob"}
    assert app.is_active("CHAT_ROOM", "lobby")
    await bob.say("after the nap")
    after, seen_by_ada = [await client.expect("message") for client in (bob, ada)]
    assert after == seen_by_ada
    assert (after["user"], after["text"]) == ("bob", "after the nap")
    assert after["id"] > before["id"]

    assert await app.hibernate("CHAT_ROOM", "lobby")
    carol = await chat_server.join("carol")  # presence read from the parked sockets
    assert [(m["user"], m["text"]) for m in carol.welcome["messages"]] == [
        ("ada", "before the nap"),
        ("bob", "after the nap"),
    ]

    assert await app.hibernate("CHAT_ROOM", "lobby")
    assert await chat_server.leave(bob) == ["ada", "carol"]  # the close wakes it too


async def test_presence_after_hibernation_lists_every_parked_user(
    chat_server: ChatServer,
) -> None:
    app = chat_server.app
    await chat_server.join("ada")
    await chat_server.join("bob")
    assert await app.hibernate("CHAT_ROOM", "lobby")
    carol = await chat_server.join("carol")  # join() checks ada and bob got the same
    assert carol.users == ["ada", "bob", "carol"]
    assert carol.welcome["messages"] == []


async def test_messages_survive_a_hub_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for run, text in enumerate(["from the first run", "from the second run"]):
        app = hub.Hub(objects={"CHAT_ROOM": chat.ChatRoom}, data_dir=data, router=chat.route)
        async with app.serve(port=0) as server:
            served = ChatServer(app, server)
            ada = await served.join("ada")
            assert [m["text"] for m in ada.welcome["messages"]] == [
                "from the first run",
                "from the second run",
            ][:run]
            await ada.say(text)
            await ada.expect("message")
            await within(ada.conn.close())


# -- HTTP ----------------------------------------------------------------------------------


async def test_the_root_redirects_to_the_lobby_page(chat_server: ChatServer) -> None:
    status, headers, _ = await http_get(chat_server.server.url + "/")
    assert (status, headers["location"]) == (302, "/objects/chat-room/lobby")
    status, headers, body = await http_get(chat_server.server.url + "/objects/chat-room/lobby")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    for hook in (b'id="messages"', b'id="text"', b'id="send"', b'id="typing"', b'id="users"'):
        assert hook in body
    # One self-contained file: no URL, no src= or href= to load anything from.
    assert (b"://" in body, b"src=" in body, b"href=" in body) == (False, False, False)


async def test_other_paths_and_methods_of_a_room_are_refused(chat_server: ChatServer) -> None:
    status, _, _ = await http_get(chat_server.server.url + "/objects/chat-room/lobby/nothing")
    assert status == 404
    status, _, body = await http_get(chat_server.server.url + "/objects/chat-room/lobby?user=")
    assert (status, body.startswith(b"bad user name")) == (400, True)


# -- the page, in headless Chromium ------------------------------------------------------


async def _say(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send")


@needs_chromium
async def test_two_people_chat_in_chromium_across_hibernation(
    chat_server: ChatServer, browser: Browser
) -> None:
    from playwright.async_api import expect

    app = chat_server.app
    pages = Pages(browser, chat_server.server.url)

    # ada comes through the front door: / -> the lobby's join form -> the room.
    ada = await pages.open("/")
    await ada.fill("#name", "ada")
    await ada.click("#join-button")
    await expect(ada).to_have_url(pages.base + "/objects/chat-room/lobby?user=ada")
    await expect(ada.locator("#status")).to_have_attribute("data-state", "open")
    await expect(ada.locator("#room")).to_have_text("#lobby")
    bob = await pages.open("/objects/chat-room/lobby?user=bob")
    await expect(bob.locator("#status")).to_have_attribute("data-state", "open")
    for page in (ada, bob):
        await expect(page.locator("#users li")).to_have_text(["ada", "bob"])
    await expect(ada.locator("#messages .system")).to_have_text(["bob joined"])

    await _say(ada, "hello bob <b>not bold</b>")
    await bob.locator("#text").press_sequentially("hi")
    await expect(ada.locator("#typing")).to_have_text("bob is typing…")
    await bob.fill("#text", "hi ada")
    await bob.click("#send")
    texts = ["hello bob <b>not bold</b>", "hi ada"]
    for page in (ada, bob):
        await expect(page.locator("#messages li.message .text")).to_have_text(texts)
        await expect(page.locator("#messages li.message .user")).to_have_text(["ada", "bob"])
        await expect(page.locator("#messages b")).to_have_count(0)  # text, never HTML
    await expect(ada.locator("#typing")).to_have_text("")  # bob's message ends his typing
    await expect(bob.locator("#typing")).to_have_text("")  # bob never sees his own

    assert await app.hibernate("CHAT_ROOM", "lobby")
    assert not app.is_active("CHAT_ROOM", "lobby")

    await _say(bob, "still there after the nap?")
    await expect(ada.locator("#messages li.message .text").last).to_have_text(
        "still there after the nap?"
    )
    assert app.is_active("CHAT_ROOM", "lobby")
    await _say(ada, "yes, still here")
    texts += ["still there after the nap?", "yes, still here"]
    for page in (ada, bob):
        await expect(page.locator("#messages li.message .text")).to_have_text(texts)
        await expect(page.locator("#messages li.message .user")).to_have_text(
            ["ada", "bob", "bob", "ada"]
        )

    # bob leaves while the room sleeps and ada sees it; bob's new tab gets the history.
    assert await app.hibernate("CHAT_ROOM", "lobby")
    await bob.context.close()
    await expect(ada.locator("#users li")).to_have_text(["ada"])
    await expect(ada.locator("#messages .system")).to_have_text(["bob joined", "bob left"])
    bob = await pages.open("/objects/chat-room/lobby?user=bob")
    await expect(bob.locator("#messages li.message .text")).to_have_text(texts)
    await expect(ada.locator("#users li")).to_have_text(["ada", "bob"])
    assert pages.errors == []


@needs_chromium
async def test_the_page_talks_roost_v1_through_the_client_the_hub_serves(
    chat_server: ChatServer, browser: Browser
) -> None:
    from playwright.async_api import Response, WebSocket, expect

    pages = Pages(browser, chat_server.server.url)
    clients: list[Response] = []  # the page's loads of /_roost/client.js
    sent: list[str] = []  # what ada's page wrote on its WebSocket
    received: list[str] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: sent.append(str(payload)))
        ws.on("framereceived", lambda payload: received.append(str(payload)))

    ada = await pages.new()
    ada.on("response", lambda r: clients.append(r) if r.url.endswith("/_roost/client.js") else None)
    ada.on("websocket", watch)
    await ada.goto(chat_server.server.url + "/objects/chat-room/lobby?user=ada")
    bob = await pages.open("/objects/chat-room/lobby?user=bob")
    for page in (ada, bob):
        await expect(page.locator("#status")).to_have_attribute("data-state", "open")
        await expect(page.locator("#users li")).to_have_text(["ada", "bob"])
    await _say(ada, "hi bob")
    await _say(bob, "hi ada")
    for page in (ada, bob):
        await expect(page.locator("#messages li.message .text")).to_have_text(["hi bob", "hi ada"])

    (client,) = clients
    assert client.status == 200
    headers = await client.all_headers()
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["content-encoding"] == "gzip"  # Chromium accepts gzip
    assert (
        await client.body()
        == (Path(hub.__file__).parent / "static" / "roost-client.js").read_bytes()
    )

    # roost.v1 on the wire: hello first, the message exactly once (numbered, acknowledged).
    frames = [json.loads(text) for text in sent]
    assert frames[0]["t"] == "hello"
    assert {"t": "msg", "data": {"type": "message", "text": "hi bob"}, "id": 1} in frames
    assert {"t": "ack", "id": 1} in [json.loads(text) for text in received]
    assert pages.errors == []
