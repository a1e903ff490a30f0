"""``async with`` for the SDK's HTTP clients: the block ends with ``aclose()``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Closing"]


class Closing:
    """A base giving ``async with client:`` to a class that defines ``aclose``."""

    async def aclose(self) -> None:
        """Release what the client holds (connections)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
