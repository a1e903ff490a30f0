"""An application type-checks against Roost with ``mypy --strict``: the packages ship
``py.typed`` (PEP 561), so mypy reads their annotations instead of refusing the import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import hub
import protocol

APP = textwrap.dedent(
    """
    import hub


    class Counter(hub.DurableObject):
        async def increment(self, by: int = 1) -> int:
            value = int(await self.ctx.storage.get("value") or 0) + by
            await self.ctx.storage.put("value", value)
            return value


    app = hub.Hub(objects={"COUNTER": Counter})
    """
)


def test_the_packages_are_marked_typed() -> None:
    for package in (hub, protocol):
        assert package.__file__ is not None
        assert (Path(package.__file__).parent / "py.typed").is_file(), package.__name__


def test_an_app_subclassing_durable_object_passes_mypy_strict(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
