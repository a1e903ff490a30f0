"""The JS client the hub serves (``/_roost/client.js``) ships inside the Python package,
and is what ``clients/js/src`` builds to today.

``hub/static/roost-client.{js,cjs}`` are committed build outputs: a change to the JS
sources without ``npm run bundle:hub`` would serve a stale client, which the first test
catches by building the sources again (esbuild, pinned by clients/js/package-lock.json,
installed by ``npm ci --prefix clients/js`` in scripts/test).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "clients" / "js"
STATIC = REPO / "hub" / "static"
BUNDLES = ("roost-client.js", "roost-client.cjs")

needs_esbuild = pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "esbuild").is_dir(),
    reason="needs Node and clients/js/node_modules (npm ci --prefix clients/js)",
)


@needs_esbuild
def test_the_committed_bundles_are_a_fresh_build_of_the_js_sources(tmp_path: Path) -> None:
    subprocess.run(
        ["node", str(JS / "scripts" / "bundle.mjs"), "--outdir", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in BUNDLES:
        fresh = (tmp_path / name).read_bytes()
        committed = (STATIC / name).read_bytes()
        assert fresh == committed, (
            f"hub/static/{name} differs from a build of clients/js/src: "
            "run `npm run bundle:hub` in clients/js and commit the result"
        )


def test_the_installed_hub_package_holds_the_bundles() -> None:
    for name in BUNDLES:
        data = (resources.files("hub") / "static" / name).read_bytes()
        assert data.startswith(b"/* roost-client "), name
        assert b"Connection" in data


def test_the_wheel_and_the_sdist_hold_the_bundles(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("roost-*.whl")
    (sdist,) = tmp_path.glob("roost-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        for name in BUNDLES:
            assert archive.read(f"hub/static/{name}") == (STATIC / name).read_bytes(), name
    with tarfile.open(sdist) as archive:
        names = {member.name.split("/", 1)[1] for member in archive.getmembers()}
    for name in BUNDLES:
        assert f"hub/static/{name}" in names
