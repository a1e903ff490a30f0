"""Run the first step of an object's event right away, in the name of its task.

An activation's task handles its events one at a time. When the object is idle (its
task parked, nothing queued), queueing an event only to wake the task costs a queue
hop, a future, a loop callback and a loop turn per event: the bulk of what an echo
through a handler costs above a bare server. ``step`` runs the event's coroutine at
once instead, exactly as asyncio's eager tasks (Python 3.12 ``eager_start``) run a
task's first step: most events (a message answered with ``ws.send``, an RPC that
touches SQLite) finish in that step and never reach the loop.

Rules:

1. A step runs only from a plain loop callback (a protocol's ``data_received``, a
   timer), never inside a task: a task that awaits a call still yields to the loop at
   each call, as when every event was queued, so no caller can starve the loop.
2. A step runs in the activation's ``contextvars.Context`` and with the activation's
   task as ``asyncio.current_task()``, so ``asyncio.timeout``, ``TaskGroup`` and
   context variables in a handler behave as in the task itself.
3. A coroutine that suspends is handed to the task, which goes on with it through
   ``resume``: from then on it is the task's, as if the task had run it from the start.
4. The caller decides when a step is allowed (``Activation.submit``: the task parked,
   nothing queued, no event running, ``may_step``); this module only runs it.
"""

from __future__ import annotations

import asyncio
import contextvars
import types

# The functions asyncio's own tasks (and 3.12's eager start) use to say which task runs.
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any

__all__ = ["Suspended", "may_step", "resume", "step"]


@dataclass(slots=True)
class Suspended:
    """A coroutine whose first step suspended: what it yielded, for its task (rule 3)."""

    coro: Coroutine[Any, Any, None]
    yielded: Any


def may_step(loop: asyncio.AbstractEventLoop) -> bool:
    """True when no task is running: the caller is a plain loop callback (rule 1)."""
    return asyncio.current_task(loop) is None


def step(
    loop: asyncio.AbstractEventLoop,
    task: asyncio.Task[Any],
    context: contextvars.Context,
    coro: Coroutine[Any, Any, None],
) -> Suspended | None:
    """Run ``coro`` up to its first suspension as ``task`` (rule 2); None when it ended.

    Only where ``may_step`` (rule 1). An exception ``coro`` raises propagates (its task
    would have seen it too).
    """
    _enter_task(loop, task)
    try:
        yielded = context.run(coro.send, None)
    except StopIteration:
        return None
    finally:
        _leave_task(loop, task)
    return Suspended(coro, yielded)


@types.coroutine
def resume(suspended: Suspended, thrown: BaseException | None = None) -> Generator[Any, Any, None]:
    """Go on with a suspended coroutine in the awaiting task (rule 3); ``thrown`` (a
    cancellation that reached the task before it took over) is raised into it first."""
    coro, value = suspended.coro, suspended.yielded
    try:
        if thrown is not None:
            value = coro.throw(thrown)
        while True:
            try:
                sent = yield value  # the task waits on what the coroutine waits on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation: the coroutine's to handle
                value = coro.throw(exc)
            else:
                value = coro.send(sent)
    except StopIteration:
        return
