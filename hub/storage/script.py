"""Several statements in one ``sql.exec`` text: telling sqlite3's refusal of them apart,
and splitting the text into statements (also used by ``hub.databases.migrations``).

Pure text work: no connection here.
"""

from __future__ import annotations

import re
import sqlite3

__all__ = ["is_multi_statement", "split_statements"]

_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.DOTALL)


def is_multi_statement(exc: BaseException) -> bool:
    """True when sqlite3 refused a text because it holds several statements."""
    # Warning before Python 3.12, ProgrammingError since.
    return isinstance(exc, sqlite3.Warning | sqlite3.ProgrammingError) and (
        "one statement at a time" in str(exc)
    )


def split_statements(script: str) -> list[str]:
    """Split at each ``;`` that ends a complete statement (not inside strings/comments)."""
    statements: list[str] = []
    start = 0
    index = script.find(";")
    while index != -1:
        candidate = script[start : index + 1]
        if sqlite3.complete_statement(candidate):
            if candidate.strip(" \t\r\n;"):
                statements.append(candidate)
            start = index + 1
        index = script.find(";", index + 1)
    tail = script[start:]
    if _COMMENT_RE.sub("", tail).strip():
        statements.append(tail)
    return statements
