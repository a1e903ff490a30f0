"""The ``process_*`` metrics of the serving process, read from ``/proc`` (Linux).

The same names and meanings as prometheus_client's process collector, so dashboards
made for it work: CPU seconds, resident and virtual memory, open and maximum file
descriptors, start time. Elsewhere (no ``/proc``) there are none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessStats", "read"]

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcessStats:
    """One reading of the process."""

    cpu_seconds: float
    resident_memory_bytes: int
    virtual_memory_bytes: int
    open_fds: int
    max_fds: int | None
    start_time_seconds: float


def read(proc: Path = _PROC) -> ProcessStats | None:
    """This process's figures, or None without a readable ``/proc``."""
    try:
        stat = (proc / "self" / "stat").read_text()
        boot = _boot_time(proc)
        open_fds = len(os.listdir(proc / "self" / "fd"))
        limits = (proc / "self" / "limits").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces), from field 3 (state) on.
    fields = stat.rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return ProcessStats(
        cpu_seconds=(int(fields[11]) + int(fields[12])) / ticks,
        resident_memory_bytes=int(fields[21]) * os.sysconf("SC_PAGE_SIZE"),
        virtual_memory_bytes=int(fields[20]),
        open_fds=open_fds,
        max_fds=_max_open_files(limits),
        start_time_seconds=boot + int(fields[19]) / ticks,
    )


def _boot_time(proc: Path) -> float:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _max_open_files(limits: str) -> int | None:
    for line in limits.splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            return None if soft == "unlimited" else int(soft)
    return None
