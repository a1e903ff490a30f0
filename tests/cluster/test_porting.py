"""Porting features across the front/host seam of ``roost serve --workers``: a folder of
objects, ``stub.fetch`` between workers, ``request.client`` from the gateway (behind a
trusted proxy too), RPC from an HTML form, and ``ctx.abort`` in a worker."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx

from hub.ids import id_from_name
from hub.runtime.host import partition_of
from tests.cluster.conftest import StartCluster
from tests.conftest import within

ROOM = textwrap.dedent(
    """
    import os

    import hub


    class Room(hub.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.pid = os.getpid()

        async def fetch(self, request):
            if request.path.startswith("/objects/room/"):
                # Passed on to the desk of the same name (another worker, by choice).
                target = request.query["desk"]
                return await self.env.DESK.get_by_name(target).fetch(request)
            return hub.Response.json(
                {"pid": self.pid, "client": request.client_address, "url": request.url}
            )

        def sign(self, name: str, age: int, news: bool = False) -> list:
            return [name, age, news, self.pid]

        def reset(self) -> None:
            self.ctx.abort("test reset")

        def who(self) -> int:
            return self.pid
    """
)
DESK = textwrap.dedent(
    """
    import os

    import hub


    class Desk(hub.DurableObject):
        async def fetch(self, request):
            return hub.Response.json(
                {
                    "pid": os.getpid(),
                    "client": request.client_address,
                    "method": request.method,
                    "body": (await request.body()).decode(),
                },
                status=201,
            )
    """
)


def _name_in(binding: str, partition: int, count: int = 2) -> str:
    for n in range(1000):
        name = f"{binding.lower()}-{n}"
        if partition_of(id_from_name(binding, name).hex, count) == partition:
            return name
    raise AssertionError("no name found")


async def test_folder_objects_fetch_across_workers_with_the_client_form_rpc_and_abort(
    cluster: StartCluster, tmp_path: Path
) -> None:
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "room.py").write_text(ROOM)
    (folder / "desk.py").write_text(DESK)
    running = await cluster(2, 1, "--trusted-proxies", "127.0.0.1", target=str(folder) + "/")
    room, desk = _name_in("ROOM", 0), _name_in("DESK", 1)
    async with httpx.AsyncClient(timeout=30) as client:
        # stub.fetch from a worker-0 object to a worker-1 object, through the gateway.
        response = await within(
            client.post(
                f"{running.url}/objects/room/{room}?desk={desk}",
                content=b"hello",
                headers={"x-forwarded-for": "203.0.113.5"},
            )
        )
        assert response.status_code == 201, response.text
        desk_said = response.json()
        assert desk_said["method"] == "POST" and desk_said["body"] == "hello"
        assert desk_said["client"] == "203.0.113.5"  # from the gateway's trusted peer
        direct = await within(client.get(f"{running.url}/objects/desk/{desk}/x"))
        assert direct.json()["pid"] == desk_said["pid"]
        room_pid = (await client.post(f"{running.url}/objects/room/{room}/rpc/who")).json()
        assert room_pid["result"] != desk_said["pid"]  # two workers: it crossed

        # RPC from an HTML form, coerced in the worker.
        form = await client.post(
            f"{running.url}/objects/room/{room}/rpc/sign",
            content=b"name=Ada&age=36&news=on",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form.json()["result"][:3] == ["Ada", 36, True]
        bad = await client.post(
            f"{running.url}/objects/room/{room}/rpc/sign",
            content=b"name=Ada&age=old",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_arguments"

        # ctx.abort in a worker: the call fails retryable; the next one runs.
        reset = await client.post(f"{running.url}/objects/room/{room}/rpc/reset")
        assert reset.status_code == 503
        assert reset.json()["error"] == {
            "code": "object_aborted",
            "message": "the object was reset by ctx.abort(): test reset",
            "retryable": True,
        }
        again = await client.post(f"{running.url}/objects/room/{room}/rpc/who")
        assert again.json()["result"] == room_pid["result"]
