"""The files of a running cluster, in its run directory (a fresh temporary directory)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["gateway_path", "gateway_ready_path", "worker_ready_path"]


def gateway_path(run_dir: Path, index: int) -> Path:
    """The Unix socket on which gateway ``index`` takes workers."""
    return run_dir / f"gateway-{index}.sock"


def gateway_ready_path(run_dir: Path, index: int) -> Path:
    """Created by gateway ``index`` once it listens (every partition has a worker)."""
    return run_dir / f"gateway-{index}.ready"


def worker_ready_path(run_dir: Path, index: int, generation: int) -> Path:
    """Created by a worker once it is connected to every gateway: from then on, the
    worker it replaces is retiring."""
    return run_dir / f"worker-{index}-{generation}.ready"
