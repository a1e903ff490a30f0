"""RPC calls and HTTP requests of an activation: ``RpcCall`` and ``FetchCall`` events.

Rules:

1. A call's arguments are checked against the method before it runs (form fields
   coerced first, ``hub.runtime.forms``); a mismatch answers ``InvalidArgumentsError``
   and nothing runs.
2. The answer (the call's result, the response) leaves after the event committed,
   before the event's other output (``Activation.transact``'s ``reply``); an error is
   answered as the caller's ``RpcError``.
3. A call that ran (or was refused by its arguments) is timed from its queueing to its
   answer in the binding's RPC histogram (``roost_rpc_duration_seconds``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import TYPE_CHECKING, Any

from hub.errors import FetchNotImplementedError, HubStoppingError, RpcError
from hub.http import Response
from hub.runtime.forms import form_kwargs
from hub.runtime.rpc import to_wire

if TYPE_CHECKING:
    from hub.runtime.activation import Activation
    from hub.runtime.events import FetchCall, RpcCall

__all__ = ["handle_call", "handle_fetch", "refuse_call", "refuse_fetch", "settle"]


async def handle_call(act: Activation, call: RpcCall) -> None:
    """Run one RPC call in its transaction; its reply gets the result or the error."""
    try:
        method = act.spec.method(call.method)
        if call.form:
            args, kwargs = method.bind([], form_kwargs(method, call.kwargs))
        else:
            args, kwargs = method.bind(call.args, call.kwargs)
    except RpcError as exc:
        _answered(act, call, exc)
        return

    async def body() -> Any:
        result = getattr(act.instance, call.method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return to_wire(result, f"the result of {call.method}()")

    def reply(payload: Any) -> None:
        if not call.reply.done():
            call.reply.set_result(payload)
        act.rpc_latency.observe(time.monotonic() - call.queued_at)

    chain = (*call.chain, act.id.hex)
    try:
        await act.transact(body, chain, reply=reply)
    except Exception as exc:
        _answered(act, call, act.as_rpc_error(exc, call.method))
    except BaseException:
        settle(call.reply, HubStoppingError("the hub stopped during the call"))
        raise


async def handle_fetch(act: Activation, call: FetchCall) -> None:
    """Run ``fetch(request)`` in its transaction; ``respond`` gets the response first."""
    request = call.request
    fetch = getattr(act.instance, "fetch", None)

    async def body() -> Response:
        if fetch is None:
            if not request.is_websocket:
                raise FetchNotImplementedError(
                    f"{act.spec.cls.__name__} has no fetch() to answer HTTP requests"
                )
            return Response.websocket(act.accept_websocket(request, []))
        response = fetch(request)
        if inspect.isawaitable(response):
            response = await response
        if not isinstance(response, Response):
            raise TypeError(f"fetch() must return a Response, got {type(response).__name__}")
        return response

    try:
        await act.transact(body, (*call.chain, act.id.hex), reply=call.respond)
    except Exception as exc:
        call.respond(act.as_rpc_error(exc, "fetch"))
    except BaseException:
        call.respond(HubStoppingError("the hub stopped during the request"))
        raise


def refuse_call(act: Activation, call: RpcCall, error: RpcError) -> None:
    """Answer the call with ``error`` without running it."""
    settle(call.reply, error)


def refuse_fetch(act: Activation, call: FetchCall, error: RpcError) -> None:
    """Answer the request with ``error`` without running it."""
    call.respond(error)


def _answered(act: Activation, call: RpcCall, error: RpcError) -> None:
    """Fail a call that ran (or was refused by its arguments), and time it."""
    settle(call.reply, error)
    act.rpc_latency.observe(time.monotonic() - call.queued_at)


def settle(reply: asyncio.Future[Any], error: RpcError) -> None:
    """Fail ``reply`` with ``error`` unless it is answered already."""
    if not reply.done():
        reply.set_exception(error)
