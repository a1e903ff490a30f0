"""WebSocket upgrades waiting for their object's answer, and which of them it accepted.

An upgrade request is submitted to its object as a ``FetchCall``; its socket id is
reserved with the request (``SocketTable.reserve_id``), so the object accepts it
(``SocketPort.accept``) with no round trip, and the connection completes or rejects the
handshake when the object's answer comes.

Rules:

1. One owner: an upgrade becomes pending, accepted and answered only through
   ``PendingUpgrades`` (the front holds the one instance, ``Front.upgrades``).
2. An upgrade is accepted at most once, and only while it is pending.
3. The object's answer ends it: ``answered`` says whether it was accepted, and the
   caller completes the socket or abandons it.
4. A connection that goes away takes its pending upgrades with it (a later ``accept``
   is refused); an acceptance already made stays until the answer, which then finds
   the connection closing and forgets the socket.

Pure: no asyncio, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.net.connection import Connection

__all__ = ["PendingUpgrades"]


class PendingUpgrades:
    """Upgrades submitted to their object and not answered yet, by reserved socket id."""

    __slots__ = ("_accepted", "_pending")

    def __init__(self) -> None:
        self._pending: dict[int, Connection] = {}
        #: Those of them an object accepted (its answer has not come yet).
        self._accepted: set[int] = set()

    def submitted(self, upgrade_id: int, conn: Connection) -> None:
        """``conn``'s upgrade, with socket id ``upgrade_id``, went to its object."""
        self._pending[upgrade_id] = conn

    def check_acceptable(self, upgrade_id: int) -> None:
        """``ValueError`` unless the upgrade is pending and not accepted yet."""
        if upgrade_id not in self._pending:
            raise ValueError(f"upgrade {upgrade_id} is no longer pending")
        if upgrade_id in self._accepted:
            raise ValueError("this request was already accepted")

    def accepted(self, upgrade_id: int) -> None:
        """The object accepted the upgrade (after ``check_acceptable``)."""
        self._accepted.add(upgrade_id)

    def abandoned(self, upgrade_id: int) -> None:
        """The acceptance is void: the event that made it did not complete."""
        self._accepted.discard(upgrade_id)

    def answered(self, upgrade_id: int) -> bool:
        """The object answered the upgrade: no longer pending; True if it was accepted."""
        self._pending.pop(upgrade_id, None)
        accepted = upgrade_id in self._accepted
        self._accepted.discard(upgrade_id)
        return accepted

    def connection_lost(self, conn: Connection) -> None:
        """``conn`` is gone: its upgrades are no longer pending."""
        for upgrade_id, pending in list(self._pending.items()):
            if pending is conn:
                del self._pending[upgrade_id]
