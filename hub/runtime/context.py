"""``ctx``: what an object sees of its own runtime (the anchor's ``DurableObjectState``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import asyncio

    from hub.ids import ObjectId
    from hub.runtime.activation import Activation
    from hub.storage.storage import Storage

__all__ = ["DurableObjectState"]

T = TypeVar("T")


class DurableObjectState:
    """The object's id, storage and input-gate controls, passed to its constructor."""

    __slots__ = ("_activation",)

    def __init__(self, activation: Activation) -> None:
        self._activation = activation

    @property
    def id(self) -> ObjectId:
        """This object's id; ``ctx.id.name`` is its name whenever it was addressed by one."""
        return self._activation.id

    @property
    def storage(self) -> Storage:
        """This object's SQL, key-value storage, transactions and alarm."""
        return self._activation.storage

    def block_concurrency_while(self, fn: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """Run ``fn()`` now and deliver no other event to this object until it finishes.

        Typical use is a migration in the constructor, which cannot ``await``: the call
        starts the work and the object takes its first event only after it. Awaiting the
        returned task gives ``fn``'s result. If ``fn`` raises in the constructor, the
        activation fails and the next event runs the constructor again.
        """
        return self._activation.block_concurrency_while(fn)
