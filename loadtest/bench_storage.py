"""``python -m loadtest.bench_storage [OPTIONS]``: the same as ``python -m loadtest storage
[OPTIONS]`` (``loadtest.storage``), kept because RESULTS.md records runs by this name."""

from __future__ import annotations

import sys

from loadtest.cli import main

if __name__ == "__main__":
    sys.exit(main(["storage", *sys.argv[1:]]))
