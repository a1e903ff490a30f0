"""Token refresh (protocol/SPEC.md §6.5) with ``roost serve --workers 2``: the ``auth``
frame crosses from the gateway to the worker running the object, and its answer back."""

from __future__ import annotations

import pytest
import roost_client
from roost_client import State

from tests.cluster.conftest import StartCluster
from tests.cluster.test_cluster import rooms
from tests.conftest import within


async def test_set_auth_reaches_the_objects_worker_in_each_partition(
    cluster: StartCluster,
) -> None:
    running = await cluster(2)
    workers = {child.index: child.pid for child in running.workers()}
    for partition in (0, 1):
        (name,) = rooms(1, partition)
        connect = roost_client.connect(host=running.host, binding="ROOM", name=name)
        async with connect as conn:
            assert await within(conn.set_auth("ada")) == ["ada", workers[partition]]
            conn.send("who")
            assert await within(conn.recv()) == "v1 who {'name': 'ada'}"
            with pytest.raises(roost_client.Unauthorized, match="bad-token refused"):
                await within(conn.set_auth("bad-token"))
            conn.send("who")  # the refusal changed nothing; the socket goes on
            assert await within(conn.recv()) == "v1 who {'name': 'ada'}"
            assert conn.state is State.OPEN
