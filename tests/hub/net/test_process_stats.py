"""``process_*`` figures read from this process's ``/proc``."""

from __future__ import annotations

import os
import resource
import sys
import time

import pytest

from hub.net import process_stats


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_read_this_process() -> None:
    stats = process_stats.read()
    assert stats is not None
    assert stats.open_fds >= 3  # stdin, stdout, stderr at least
    assert stats.max_fds == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert stats.resident_memory_bytes > 1_000_000  # an interpreter with pytest loaded
    assert stats.virtual_memory_bytes >= stats.resident_memory_bytes
    assert 0 < stats.cpu_seconds <= time.process_time() + 1
    assert stats.start_time_seconds <= time.time()
    assert stats.start_time_seconds > time.time() - 24 * 3600  # this test run's process
    opened = os.open(os.devnull, os.O_RDONLY)
    try:
        more = process_stats.read()
        assert more is not None and more.open_fds == stats.open_fds + 1
    finally:
        os.close(opened)


def test_no_proc_no_figures(tmp_path: object) -> None:
    from pathlib import Path

    assert process_stats.read(Path(str(tmp_path))) is None
