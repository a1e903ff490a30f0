"""The token of a connection: a fixed string, or a function called before each socket.

Pure but for awaiting the function: no I/O of its own.

Rules:

1. ``token`` is None, a non-empty ``str``, or a function (sync or async) returning a
   non-empty ``str``; anything else is refused when the connection is made.
2. A function is called before every socket the connection opens (the first connect
   and each reconnect) and by ``set_auth()`` without a token; its value is the token of
   that socket's URL (the ``token=`` query item, ``address.py`` rule 3) or of that
   ``auth`` frame. A fixed string is used as it is.
3. ``set_auth(token)`` with a string the object accepted makes it the connection's
   token for later sockets too, like ``token=`` given to ``connect``: a function given
   before is no longer called. A refused token changes nothing.
4. A function that raises fails the connect attempt like a network error would
   (``ConnectFailed``, retried with backoff); one that returns anything but a non-empty
   string is a bug that would fail again, and ends the connection (``BadToken``).
5. The token never appears in messages or logs (``address.redacted``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from roost_client.address import with_token

__all__ = ["BadToken", "Token", "TokenSource", "checked_token"]

#: What ``connect(token=...)`` takes (rule 1).
TokenSource = str | Callable[[], str | Awaitable[str]]


class BadToken(TypeError):
    """A token function returned something other than a non-empty string (rule 4)."""


def checked_token(value: object, what: str = "token") -> str:
    """``value`` if it is a non-empty ``str``; ``BadToken`` naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise BadToken(f"{what} must be a str, got {type(value).__name__}")
    if not value:
        raise BadToken(f"{what} must not be empty")
    return value


class Token:
    """Where a connection's token comes from, and the one it used last."""

    def __init__(self, source: TokenSource | None) -> None:
        if source is not None and not isinstance(source, str) and not callable(source):
            raise TypeError(
                f"token must be a str or a function returning one, got {type(source).__name__}"
            )
        if isinstance(source, str):
            checked_token(source)
        self._source = source
        #: The token of the latest socket or ``auth`` frame (None before a function's
        #: first call, or without a token).
        self.current: str | None = source if isinstance(source, str) else None

    @property
    def is_function(self) -> bool:
        """True while a function gives the token (rule 2)."""
        return callable(self._source)

    def set(self, token: str) -> None:
        """Make ``token`` the connection's token from now on (rule 3)."""
        self._source = self.current = checked_token(token)

    async def fresh(self) -> str | None:
        """The token for a new socket: the function's new value, or the fixed token.

        Raises what the function raises, and ``BadToken`` for a bad value (rule 4).
        """
        source = self._source
        if source is None or isinstance(source, str):
            return source
        value = source()
        if inspect.isawaitable(value):
            value = await value
        self.current = checked_token(value, "the token function's value")
        return self.current

    def url(self, base: str) -> str:
        """``base`` with the current token (what ``Connection.url`` shows)."""
        return with_token(base, self.current)
