"""``roost``: the command line.

``roost serve app.py`` (or ``package.module:attr``) serves the module's ``Hub`` (the
attribute ``app``, or the only ``Hub`` in the module). uvloop is chosen here, and only
here, when it is installed. SIGTERM and SIGINT stop gracefully (sockets closed with
1001 going away); SIGHUP stops with 1012 (service restart), for a supervisor that
restarts the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from hub.app import Hub

__all__ = ["load_app", "main"]

log = logging.getLogger("roost.cli")


class TargetError(Exception):
    """The serve target cannot be loaded."""


def load_app(target: str) -> Hub:
    """The ``Hub`` named by ``path/to/app.py[:attr]`` or ``package.module[:attr]``."""
    spec, _, attr = target.partition(":")
    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise TargetError(f"no such file: {spec!r}")
        sys.path.insert(0, str(path.parent))
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise TargetError(f"cannot import {spec!r}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        module_spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise TargetError(f"cannot import {spec!r}: {exc}") from exc
    if attr:
        app = getattr(module, attr, None)
        if not isinstance(app, Hub):
            raise TargetError(f"{target!r} is not a hub.Hub, got {type(app).__name__}")
        return app
    if isinstance(getattr(module, "app", None), Hub):
        return module.app  # type: ignore[no-any-return]
    hubs = [value for value in vars(module).values() if isinstance(value, Hub)]
    if len(hubs) != 1:
        raise TargetError(
            f"{spec!r} must define `app = hub.Hub(...)` (found {len(hubs)} Hub objects);"
            " or name one with module:attr"
        )
    return hubs[0]


async def _serve(app: Hub, args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[int] = loop.create_future()

    def request_stop(code: int) -> None:
        if not stop.done():
            stop.set_result(code)

    for signum, code in ((signal.SIGTERM, 1001), (signal.SIGINT, 1001), (signal.SIGHUP, 1012)):
        loop.add_signal_handler(signum, request_stop, code)
    async with app.serve(
        args.host, args.port, admin_key=args.admin_key, compression=args.compression
    ) as server:
        print(f"roost: serving on {server.url} (data in {app.data_dir})", flush=True)
        code = await stop
        log.info("stopping with close code %d", code)
        await server.stop(code)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roost`` command."""
    parser = argparse.ArgumentParser(prog="roost", description="Roost real-time hub")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a hub over WebSockets and HTTP")
    serve.add_argument("target", help="path/to/app.py or package.module, optionally :attr")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    serve.add_argument("--data-dir", help="where objects' SQLite files live (default ./.roost)")
    serve.add_argument("--idle-timeout", type=float, help="seconds before an idle object leaves")
    serve.add_argument(
        "--admin-key",
        default=os.environ.get("ROOST_ADMIN_KEY"),
        help="bearer key for /_roost/ (default: $ROOST_ADMIN_KEY; none: open)",
    )
    serve.add_argument("--compression", action="store_true", help="offer permessage-deflate")
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        app = load_app(args.target)
        app.configure(data_dir=args.data_dir, idle_timeout=args.idle_timeout)
    except TargetError as exc:
        print(f"roost: {exc}", file=sys.stderr)
        return 2
    _run(_serve(app, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
