"""Object classes from a folder (hub/folder.py): ``Hub.from_folder`` and ``roost serve
objects/``, with real files, a real hub, and a real ``roost`` process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

import hub
from hub.reloader import watched_folder
from tests.conftest import within

CHAT_ROOM = textwrap.dedent(
    """
    import hub
    from _shared import greeting


    class ChatRoom(hub.DurableObject):
        def hello(self, who: str) -> str:
            return greeting(who)
    """
)
COUNTER = textwrap.dedent(
    """
    import hub
    from chat_room import ChatRoom  # imported: not this file's class


    class _Base(hub.DurableObject):
        step = 1


    class Counter(_Base):
        async def bump(self) -> int:
            n = int(await self.ctx.storage.get("n") or 0) + self.step
            await self.ctx.storage.put("n", n)
            return n

        async def relay(self, who: str) -> str:
            return await self.env.CHAT_ROOM.get_by_name("lobby").hello(who)
    """
)
SHARED = 'def greeting(who):\n    return f"hello {who} (v1)"\n'
ROUTER = textwrap.dedent(
    """
    import hub


    def router(request):
        if request.path == "/health":
            return hub.Response("folder ok")
        return None
    """
)


def make_folder(root: Path, name: str = "objects", *, router: bool = True) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "chat_room.py").write_text(CHAT_ROOM)
    (folder / "counter.py").write_text(COUNTER)
    (folder / "_shared.py").write_text(SHARED)
    if router:
        (folder / "_router.py").write_text(ROUTER)
    return folder


async def test_each_file_is_one_binding_named_after_it(tmp_path: Path) -> None:
    app = hub.Hub.from_folder(make_folder(tmp_path), data_dir=tmp_path / "data")
    assert sorted(app.host.namespaces) == ["CHAT_ROOM", "COUNTER"]
    assert app.router is not None
    async with app:
        counter = app.env.COUNTER.get_by_name("c")
        assert await counter.bump() == 1
        assert await counter.bump() == 2
        assert await counter.relay("ada") == "hello ada (v1)"


async def test_a_folder_hub_serves_its_routes_and_urls_in_kebab_case(tmp_path: Path) -> None:
    app = hub.Hub.from_folder(make_folder(tmp_path), data_dir=tmp_path / "data")
    async with app.serve(port=0) as server, httpx.AsyncClient(timeout=30) as client:
        health = await within(client.get(server.url + "/health"))
        assert health.text == "folder ok"
        rpc = await within(
            client.post(server.url + "/objects/chat-room/lobby/rpc/hello", json={"args": ["bo"]})
        )
        assert rpc.json() == {"result": "hello bo (v1)"}


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"empty_one.py": "import hub\n"}, "empty_one.py: defines 0 hub.DurableObject"),
        (
            {"two_rooms.py": "import hub\nclass A(hub.DurableObject): pass\n"
             "class B(hub.DurableObject): pass\n"},
            "two_rooms.py: defines 2 hub.DurableObject subclasses (A, B)",
        ),
        ({"ChatRoom.py": "import hub\nclass A(hub.DurableObject): pass\n"}, "ChatRoom.py: "),
        ({"broken_room.py": "import hub\nclass A(:\n"}, "broken_room.py: cannot be imported"),
        ({"raising_room.py": "raise RuntimeError('no')\n"}, "RuntimeError: no"),
        ({"json.py": "import hub\nclass A(hub.DurableObject): pass\n"}, "json.py: the module"),
        (
            {"fine_room.py": "import hub\nclass A(hub.DurableObject): pass\n",
             "_router.py": "x = 1\n"},
            "_router.py: must define router(request)",
        ),
        ({"_helper.py": "x = 1\n"}, "has no object files"),
    ],
)  # fmt: skip
def test_a_bad_folder_is_one_configuration_error_naming_the_file(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    folder = tmp_path / "objs"
    for name, text in files.items():
        _write(folder, name, text)
    with pytest.raises(hub.ConfigurationError) as caught:
        hub.Hub.from_folder(folder)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    # Nothing is left behind: its json.py must not shadow the standard library's for
    # the rest of the process, nor for the processes it spawns (they inherit sys.path).
    assert str(folder.resolve()) not in sys.path


def test_a_missing_folder_and_a_router_given_twice_are_configuration_errors(
    tmp_path: Path,
) -> None:
    with pytest.raises(hub.ConfigurationError, match="is not a folder"):
        hub.Hub.from_folder(tmp_path / "nowhere")
    with pytest.raises(hub.ConfigurationError, match="router given twice"):
        hub.Hub.from_folder(make_folder(tmp_path), router=lambda request: None)


async def test_two_folders_with_the_same_file_names_load_their_own_classes(
    tmp_path: Path,
) -> None:
    first = hub.Hub.from_folder(make_folder(tmp_path, "one"))
    second_folder = make_folder(tmp_path, "two")
    (second_folder / "_shared.py").write_text(SHARED.replace("v1", "v2"))
    second = hub.Hub.from_folder(second_folder)
    one = first.host.spec("CHAT_ROOM").cls
    two = second.host.spec("CHAT_ROOM").cls
    assert one is not two
    assert Path(sys.modules[two.__module__].__file__ or "").parent == second_folder.resolve()
    assert one(None, None).hello("a") == "hello a (v1)"  # type: ignore[attr-defined, arg-type]
    assert two(None, None).hello("a") == "hello a (v2)"  # type: ignore[attr-defined, arg-type]


def test_reload_watches_the_folder_itself(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    assert watched_folder(str(folder) + "/") == folder.resolve()
    assert watched_folder(str(folder)) == folder.resolve()
    assert watched_folder(str(folder / "counter.py")) == folder.resolve()


async def _roost(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


async def _serving(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = (await within(process.stdout.readline(), factor=2)).decode()
    assert line.startswith("roost: serving on "), line
    return line.split()[3]


async def test_roost_serve_a_folder_reloads_when_a_file_in_it_changes(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    process = await _roost(
        str(folder) + "/", "--reload", "--port", "0", "--data-dir", str(tmp_path / "data")
    )
    try:
        url = await _serving(process)
        call = url + "/objects/chat-room/lobby/rpc/hello"
        async with httpx.AsyncClient(timeout=30) as client:
            assert (await client.post(call, json={"args": ["x"]})).json()["result"].endswith("(v1)")

            async def edited() -> str:
                restarted = asyncio.ensure_future(_serving(process))
                while not restarted.done():  # the watcher may start after a first edit
                    (folder / "_shared.py").write_text(SHARED.replace("v1", "v2"))
                    await asyncio.wait([restarted], timeout=0.5)
                return restarted.result()

            assert await within(edited(), factor=2) == url
            result = (await client.post(call, json={"args": ["x"]})).json()["result"]
            assert result == "hello x (v2)"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await within(process.wait()) == 0


async def test_roost_serve_a_bad_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    _write(tmp_path / "bad", "two_rooms.py", "import hub\nclass A(hub.DurableObject): pass\n"
           "class B(hub.DurableObject): pass\n")  # fmt: skip
    process = await _roost(str(tmp_path / "bad") + "/", "--port", "0")
    _, err = await within(process.communicate())
    assert process.returncode == 2
    text = err.decode()
    assert text.startswith("roost: two_rooms.py: defines 2") and text.count("\n") == 1
