"""``hub.DatabaseSettings``: the limits of database objects (docs/databases.md)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BINDING", "DatabaseSettings"]

#: The reserved binding of the built-in database class (URL prefix ``/db/``).
BINDING = "DATABASE"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """Limits of database objects; ``Hub(databases=DatabaseSettings(...))``."""

    #: Rows one statement (or one ``select``) may return.
    max_result_rows: int = 10_000
    #: Estimated JSON bytes of one answer's rows.
    max_result_bytes: int = 8 * 2**20

    def __post_init__(self) -> None:
        for name in ("max_result_rows", "max_result_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
