"""Rebuilding a database file from a base image and the commits that followed it.

Rules:

1. A commit's pages are written at ``(page - 1) * page_size``, in the order the commit
   wrote them; then the file is cut to the commit's size, so a commit that shrank the
   database (``VACUUM``, ``auto_vacuum``) leaves no stale page behind.
2. The result is the database exactly as it was after the last commit applied, page for
   page: SQLite itself wrote these images. It is a WAL-mode file with no log beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hub.backup.wal import Commit

__all__ = ["apply_commits"]


def apply_commits(path: Path, commits: Iterable[Commit], page_size: int) -> int:
    """Apply ``commits`` in order to the database file at ``path``; return how many."""
    applied = 0
    with open(path, "r+b") as file:
        for commit in commits:
            for page, image in commit.pages:
                file.seek((page - 1) * page_size)
                file.write(image)
            file.truncate(commit.db_pages * page_size)
            applied += 1
    return applied
