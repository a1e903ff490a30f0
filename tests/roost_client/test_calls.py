"""Calls in flight: ids apart from message ids, answered once, lost with their socket."""

from __future__ import annotations

import pytest
import roost_client
from roost_client.calls import Calls

import protocol


async def test_call_ids_count_down_from_the_largest_safe_integer() -> None:
    calls = Calls()
    assert [calls.add()[0] for _ in range(3)] == [protocol.MAX_ID - n for n in range(3)]
    assert calls.next_id == protocol.MAX_ID - 3


async def test_subscription_ids_come_from_the_same_counter_and_await_nothing() -> None:
    calls = Calls()
    assert calls.add()[0] == protocol.MAX_ID
    assert calls.reserve() == protocol.MAX_ID - 1
    assert protocol.MAX_ID - 1 not in calls
    assert calls.add()[0] == protocol.MAX_ID - 2


async def test_a_call_is_answered_once_and_late_answers_are_dropped() -> None:
    calls = Calls()
    call_id, future = calls.add()
    assert calls.resolve(call_id, {"ok": True})
    assert future.result() == {"ok": True}
    assert not calls.resolve(call_id, "again")
    assert not calls.fail(call_id, roost_client.ObjectError("late"))
    assert call_id not in calls


async def test_only_calls_written_on_the_lost_socket_fail_with_connection_lost() -> None:
    calls = Calls()
    written_id, written = calls.add()
    unwritten_id, unwritten = calls.add()
    assert calls.written(written_id)
    calls.socket_lost(1012)
    error = written.exception()
    assert isinstance(error, roost_client.ConnectionLost)
    assert (error.retryable, error.close_code, error.id) == (True, 1012, written_id)
    assert not unwritten.done()
    assert unwritten_id in calls
    calls.socket_lost(1006)  # a later socket: the unwritten call was never on it
    assert not unwritten.done()


async def test_a_forgotten_call_is_not_written() -> None:
    calls = Calls()
    call_id, _ = calls.add()
    calls.forget(call_id)
    assert not calls.written(call_id)


async def test_closing_fails_every_waiting_call() -> None:
    calls = Calls()
    futures = [calls.add()[1] for _ in range(3)]
    calls.fail_all(roost_client.ConnectionClosed("closed"))
    for future in futures:
        with pytest.raises(roost_client.ConnectionClosed):
            future.result()
