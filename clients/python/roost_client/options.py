"""What a connection is made with: its settings, checked once, and the ``Sleep`` seam.

Pure: no I/O, no event loop.

Rules:

1. Everything ``connect`` takes about the session and its sockets is checked here, before
   anything is made: a bad value raises ``ValueError`` and nothing starts. (The outbox and
   the inbox check their own bounds, ``max_buffered`` and ``max_queue``; ``token.Token``
   checks the token.)
2. A connection's settings never change once it is made (``Options`` is frozen); the
   supervisor (``supervisor.py``) opens every socket with them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from roost_client import wire
from roost_client.address import redacted
from roost_client.backoff import Backoff

__all__ = ["Options", "Sleep"]

#: ``await sleep(seconds)``: how the connection waits between attempts and pings.
Sleep = Callable[[float], Awaitable[None]]

_SESSION_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True, slots=True)
class Options:
    """A connection's settings, checked (rule 1); made with ``Options.checked``."""

    #: The ``ws://`` URL every socket opens; each adds the current token (``token.py``).
    url: str
    #: The session id sent in every ``hello`` (SPEC §3.1).
    session: str
    #: The ``hello`` frame of the session, encoded once.
    hello: str
    reconnect: bool
    backoff: Backoff
    #: Seconds a socket must stay welcomed before the retry count starts over.
    min_uptime: float
    #: ``send`` / ``call`` refuse a frame over this many bytes (None: no check).
    max_message_size: int | None
    open_timeout: float
    ping_interval: float | None
    #: The ``compression`` argument of ``websockets``' ``connect``.
    compression: str | None
    headers: dict[str, str]
    sleep: Sleep

    @classmethod
    def checked(
        cls,
        url: str,
        *,
        session: str | None,
        reconnect: bool,
        backoff: Backoff | None,
        min_uptime: float,
        max_message_size: int | None,
        open_timeout: float,
        ping_interval: float | None,
        compression: bool,
        headers: Mapping[str, str] | None,
        sleep: Sleep,
    ) -> Options:
        """The settings ``connect`` was given, checked, with their defaults filled in.

        Raises ``ValueError`` for a malformed session, a URL that is not ``ws(s)://`` or
        a negative ``min_uptime``.
        """
        if not min_uptime >= 0:
            raise ValueError(f"min_uptime must be at least 0 seconds, got {min_uptime!r}")
        if session is None:
            session = secrets.token_urlsafe(24)  # 192 random bits, URL-safe (SPEC §3.1)
        elif not _SESSION_RE.fullmatch(session):
            raise ValueError(f"session must be 1-128 of [A-Za-z0-9_-], got {session!r}")
        try:
            parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(f"expected a ws:// or wss:// URL, got {redacted(url)!r}") from exc
        return cls(
            url=url,
            session=session,
            hello=wire.hello(session),
            reconnect=reconnect,
            backoff=backoff or Backoff(),
            min_uptime=float(min_uptime),
            max_message_size=max_message_size,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            compression="deflate" if compression else None,
            headers=dict(headers or {}),
            sleep=sleep,
        )
