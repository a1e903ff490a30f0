"""``python -m loadtest.bench_sdk [OPTIONS]``: the same as ``python -m loadtest sdk
[OPTIONS]`` (``loadtest.sdk``), kept because RESULTS.md records runs by this name."""

from __future__ import annotations

import sys

from loadtest.cli import main

if __name__ == "__main__":
    sys.exit(main(["sdk", *sys.argv[1:]]))
