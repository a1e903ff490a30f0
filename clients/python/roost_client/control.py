"""The control frames of subscriptions and presence, on their way to the outbox.

Pure: no I/O, no event loop.

Rules:

1. ``sub``, ``unsub``, ``presence_sub`` and ``presence_unsub`` go out through the
   outbox, in issue order with the app's messages and calls, but do not count against
   ``max_buffered``: there are a few per subscription, and the SDK sends them by itself
   (after a reconnect, a ``reset``), where ``BufferFull`` would have no one to tell.
2. A frame is queued only while a socket is open (``online``); one still unwritten
   when its socket ended can be taken back (``discard``) before it is sent again, so
   the hub never gets a request twice.
"""

from __future__ import annotations

from collections.abc import Callable

from roost_client.outbox import Entry, Outbox

__all__ = ["Control"]


class Control:
    """Queues control frames (rule 1) and knows whether a socket is open (rule 2)."""

    def __init__(self, outbox: Outbox, wake: Callable[[], None]) -> None:
        self._outbox = outbox
        self._wake = wake
        #: A socket is open and welcomed (set by the connection).
        self.online = False

    def send(self, text: str) -> Entry:
        """Queue ``text``; the entry, to ``discard`` it while unwritten."""
        entry = self._outbox.add(text, bounded=False)
        self._wake()
        return entry

    def discard(self, entry: Entry | None) -> bool:
        """Take ``entry`` out of the outbox; True if it was not written yet."""
        return entry is not None and self._outbox.discard(entry)
