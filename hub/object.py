"""``hub.DurableObject``: the base class of every object class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from hub.storage.feeds import FeedRetention

if TYPE_CHECKING:
    from hub.runtime.context import DurableObjectState
    from hub.runtime.stub import Env

__all__ = ["DurableObject"]


class DurableObject:
    """Base class of an object class, like the anchor's ``DurableObject``.

    The constructor runs on every activation, a wake from hibernation included; keep it
    quick, and run migrations in ``ctx.block_concurrency_while``. Public methods are
    RPC; ``_private`` methods and the hooks the hub calls never are: the lifecycle
    methods (``fetch``, ``alarm``, ``websocket_message``, ``websocket_auth``,
    ``websocket_close``, ``websocket_error``) and ``feed_allowed`` (the list is
    ``hub.runtime.rpc.HOOKS``; calling one over HTTP, ``roost.v1`` or a stub is
    ``method_not_found``).

    Define ``async def alarm(self, info)`` to use ``ctx.storage.set_alarm``.

    Define ``async def websocket_auth(self, ws, token)`` to take fresh tokens on open
    ``roost.v1`` sockets (the SDKs' ``set_auth``; protocol/SPEC.md §6.5): it runs as a
    socket event, its return value is the client's answer, and raising
    ``hub.UnauthorizedError`` refuses the token (the socket stays open unless it calls
    ``ws.close``). Without it, ``auth`` frames get ``method_not_found``.

    ``feeds`` names the tables whose inserts, updates and deletes are captured in the
    object's change log (created by the constructor; enabled after it, on every
    activation, so a migration that adds a column is picked up). Clients subscribe to
    them over ``roost.v1``; ``feed_retention`` bounds the log. Define
    ``feed_allowed(self, ws, table) -> bool`` to refuse some subscriptions.

    ``presence_from_attachment``: when True, a socket's attachment is also its presence
    state (``ws.serialize_attachment`` publishes it); otherwise use ``ctx.presence``.
    """

    feeds: ClassVar[Sequence[str]] = ()
    feed_retention: ClassVar[FeedRetention] = FeedRetention()
    presence_from_attachment: ClassVar[bool] = False

    def __init__(self, ctx: DurableObjectState, env: Env) -> None:
        self.ctx = ctx
        self.env = env
