"""The token refresh event of an activation: ``websocket_auth(ws, token)``
(protocol/SPEC.md §6.5-§6.7).

Rules:

1. The handler runs like any socket handler: through the input gate, in its own
   transaction, with the event timeout. Its return value is the answer (``result``),
   sent after the commit and before anything the event sent.
2. A handler that raises ``hub.UnauthorizedError`` refused the token: the answer is
   ``unauthorized`` with its message, logged at info level (a refusal is not a fault).
   Anything else it raises is ``object_error``, logged once. Either way its writes and
   its output (a ``ws.close`` included) are dropped; the socket stays open.
3. A class without ``websocket_auth`` is answered ``method_not_found`` (the front
   checks first and does not wake the object; this covers a class replaced since).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from hub.errors import HubError, MethodNotFoundError, UnauthorizedError
from hub.runtime.rpc import to_wire

if TYPE_CHECKING:
    from hub.runtime.activation import Activation
    from hub.runtime.events import SocketAuth

__all__ = ["handle_auth", "refuse_auth"]

log = logging.getLogger("roost.runtime")


async def handle_auth(act: Activation, event: SocketAuth) -> None:
    """Run ``websocket_auth`` for one ``auth`` frame and answer it (rules 1-3)."""
    port = act.port
    name = f"{act.spec.cls.__name__}.websocket_auth"
    handler = getattr(act.instance, "websocket_auth", None)
    if handler is None:
        missing = MethodNotFoundError(f"{act.spec.cls.__name__} defines no websocket_auth")
        port.answer(event.socket_id, event.call_id, None, missing)
        return
    ws = act.websocket(event.socket_id)

    async def body() -> Any:
        result = handler(ws, event.token)
        if inspect.isawaitable(result):
            result = await result
        return to_wire(result, f"the result of {name}()")

    def answer(result: Any) -> None:
        port.answer(event.socket_id, event.call_id, result, None)

    try:
        await act.transact(body, (act.id.hex,), reply=answer, timeout_ms=act.event_timeout_ms)
    except UnauthorizedError as refused:
        log.info("%s refused a token on socket %d: %s", name, event.socket_id, refused)
        port.answer(event.socket_id, event.call_id, None, refused)
    except Exception as exc:
        error = act.as_rpc_error(exc, "websocket_auth")
        port.answer(event.socket_id, event.call_id, None, error)


def refuse_auth(act: Activation, event: SocketAuth, error: HubError) -> None:
    """Answer without running anything (activation failed, hub stopping)."""
    act.port.answer(event.socket_id, event.call_id, None, error)
