"""``roost``: the command line.

``roost serve app.py`` (or ``package.module:attr``) serves the module's ``Hub`` (the
attribute ``app``, or the only ``Hub`` in the module); ``roost serve objects/`` serves
the object classes of a folder, one per file (``hub.folder``). uvloop is chosen here, and only
here, when it is installed.

Rules:

1. The port is bound before the application starts. When it cannot be (a port in use),
   one line goes to stderr and the exit status is 1: no traceback, nothing to stop.
2. SIGTERM and SIGINT stop gracefully and exit 0: the server drains (requests and
   events in flight finish and are answered, up to ``--shutdown-timeout``), then
   sockets close with 1001 (going away). See ``hub.net.server``.
3. SIGHUP restarts: the same drain, sockets close with 1012 (service restart), then the
   process replaces itself (``os.execve``, same pid) with a fresh ``python -m hub.cli``
   given the same arguments, so new code is loaded. The listening socket is handed
   over (an inheritable duplicate named by ``ROOST_LISTEN_FDS``): connections made
   during the restart wait in the backlog and are served by the new process.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from hub import __version__
from hub.app import Hub
from hub.backup import cli as backup_cli
from hub.databases import command as database_command
from hub.errors import ConfigurationError
from hub.folder import is_folder_target
from hub.logs import FORMATS
from hub.logs import configure as configure_logging
from hub.net.server import ListenError
from hub.reloader import watch

__all__ = ["load_app", "main", "run_loop"]

T = TypeVar("T")

log = logging.getLogger("roost.cli")


class TargetError(Exception):
    """The serve target cannot be loaded."""


def load_app(target: str) -> Hub:
    """The ``Hub`` named by ``path/to/app.py[:attr]`` or ``package.module[:attr]``, or
    made from the folder ``path/to/objects/`` (``Hub.from_folder``)."""
    spec, _, attr = target.partition(":")
    if is_folder_target(spec):
        if attr:
            raise TargetError(f"a folder of objects takes no :attr, got {target!r}")
        try:
            return Hub.from_folder(spec)
        except ConfigurationError as exc:
            raise TargetError(str(exc)) from exc
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


#: Accepted by ``--log-level`` (and ``ROOST_LOG_LEVEL``).
LOG_LEVELS = ("debug", "info", "warning", "error")
#: In the data directory: the pid of the serving process, which ``roost reload`` signals.
PID_FILE = "roost.pid"
#: Environment variable naming the listening sockets a restarted process adopts.
LISTEN_FDS = "ROOST_LISTEN_FDS"
#: Close code of SIGHUP's restart (1012 service restart); SIGTERM / SIGINT: 1001.
RESTART = 1012


def _adopted_sockets() -> list[socket.socket]:
    """The listening sockets handed over by the process this one replaced (if any)."""
    value = os.environ.pop(LISTEN_FDS, "")
    fds = [int(fd) for fd in value.split(",") if fd]
    for fd in fds:
        os.set_inheritable(fd, False)  # the next restart hands over a fresh duplicate
    return [socket.socket(fileno=fd) for fd in fds]


async def _serve(app: Hub, args: argparse.Namespace) -> list[int]:
    """Serve until a signal; the inheritable fds to hand over when it was SIGHUP."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[int] = loop.create_future()

    def request_stop(code: int) -> None:
        if not stop.done():
            stop.set_result(code)

    for signum, code in (
        (signal.SIGTERM, 1001),
        (signal.SIGINT, 1001),
        (signal.SIGHUP, RESTART),
    ):
        loop.add_signal_handler(signum, request_stop, code)
    handover: list[int] = []
    async with app.serve(
        args.host,
        args.port,
        admin_key=args.admin_key,
        health_requires_key=args.health_requires_key,
        compression=args.compression,
        shutdown_timeout=args.shutdown_timeout,
        sockets=_adopted_sockets(),
    ) as server:
        pid_file = app.data_dir / PID_FILE
        pid_file.write_text(f"{os.getpid()}\n")  # before the line that says it serves
        print(f"roost: serving on {server.url} (data in {app.data_dir})", flush=True)
        watching = (
            asyncio.ensure_future(watch(args.target, lambda: request_stop(RESTART)))
            if args.reload
            else None
        )
        try:
            code = await stop
        finally:
            pid_file.unlink(missing_ok=True)
            if watching is not None:
                watching.cancel()
        log.info("%s with close code %d", "restarting" if code == RESTART else "stopping", code)
        if code == RESTART:
            handover = server.inheritable_fds()
        await server.stop(code)
    return handover


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop when it is installed, else on asyncio's loop (every roost
    process, the cluster's included, starts its loop here)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    else:
        return uvloop.run(coro)


def _restart(argv: Sequence[str], fds: list[int]) -> None:
    """Replace this process with a fresh ``roost`` given ``argv`` and the sockets."""
    env = {**os.environ, LISTEN_FDS: ",".join(map(str, fds))}
    # Ignored (unlike handled) signals stay ignored across exec: a second SIGHUP before
    # the new process installs its handlers must not kill it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "hub.cli", *argv], env)


class _Parser(argparse.ArgumentParser):
    """Errors are one line: ``roost: <what is wrong>``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"roost: {message} (see {self.prog} --help)\n")


def _env(name: str, default: str | None = None) -> str | None:
    """The default of a setting: ``ROOST_<NAME>`` from the environment, else ``default``."""
    return os.environ.get(f"ROOST_{name}", default)


def _flag(name: str, default: bool = False) -> bool:
    value = (_env(name) or "").strip().lower()
    if not value:
        return default
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    print(
        f"roost: ROOST_{name} must be 1/true/yes/on or 0/false/no/off, got {value!r}",
        file=sys.stderr,
    )
    raise SystemExit(2)


def _one_of(what: str, choices: Sequence[str]) -> Callable[[str], str]:
    """An argument type: one of ``choices``, any case (``--log-level``, ``--log-format``)."""

    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise argparse.ArgumentTypeError(
                f"{what} must be one of {', '.join(choices)}, got {text!r}"
            )
        return value

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roost`` command.

    Every ``serve`` option may also come from the environment: ``ROOST_`` and the
    option's name in capitals (``ROOST_PORT=9000``, ``ROOST_COMPRESSION=1``); an option
    given on the command line wins.
    """
    parser = _Parser(prog="roost", description="Roost real-time hub")
    parser.add_argument("--version", action="version", version=f"roost {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", help="serve a hub over WebSockets and HTTP")
    serve.add_argument(
        "target",
        help="path/to/app.py or package.module, optionally :attr; or a folder of objects/",
    )
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address (127.0.0.1)")
    serve.add_argument("--port", type=int, default=_env("PORT", "8787"), help="port (8787)")
    serve.add_argument(
        "--data-dir", default=_env("DATA_DIR"), help="objects' SQLite files (./.roost)"
    )
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=_env("IDLE_TIMEOUT"),
        help="seconds before an idle object leaves memory (10)",
    )
    serve.add_argument(
        "--admin-key",
        default=_env("ADMIN_KEY"),
        help="bearer key for /_roost/ (none: open)",
    )
    serve.add_argument(
        "--compression",
        action="store_true",
        default=_flag("COMPRESSION"),
        help="offer permessage-deflate",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=float,
        default=_env("SHUTDOWN_TIMEOUT", "10"),
        help="seconds requests and events in flight get to finish on stop/restart (10)",
    )
    serve.add_argument(
        "--log-level",
        type=_one_of("log level", LOG_LEVELS),
        default=_env("LOG_LEVEL", "info"),
        help=f"{', '.join(LOG_LEVELS)} (info)",
    )
    serve.add_argument(
        "--log-format",
        type=_one_of("log format", FORMATS),
        default=_env("LOG_FORMAT", "text"),
        help="text, or json: one JSON object a line (text)",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        default=_flag("ACCESS_LOG", default=True),
        help="do not log a line per HTTP request (ROOST_ACCESS_LOG=0)",
    )
    serve.add_argument(
        "--health-requires-key",
        action="store_true",
        default=_flag("HEALTH_REQUIRES_KEY"),
        help="/_roost/health needs the admin key too (default: open to probes)",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=_env("WORKERS"),
        help="run objects in N worker processes behind gateway processes that keep"
        " sockets open across `roost reload` (default: one process)",
    )
    serve.add_argument(
        "--gateways",
        type=_positive,
        default=_env("GATEWAYS"),
        help="gateway processes sharing the port (with --workers; default 1)",
    )
    serve.add_argument(
        "--trusted-proxies",
        default=_env("TRUSTED_PROXIES"),
        help="comma-separated addresses or CIDR networks of proxies whose X-Forwarded-For"
        " gives request.client (none)",
    )
    serve.add_argument(
        "--reload",
        action="store_true",
        default=_flag("RELOAD"),
        help="reload when a .py file under the app's folder changes (development):"
        " with --workers, sockets stay open",
    )
    serve.add_argument(
        "--databases",
        action="store_true",
        default=_flag("DATABASES"),
        help="serve database objects under /db/ (docs/databases.md)",
    )
    backup_cli.add_serve_options(serve, _env, _flag)
    backup_cli.add_restore_command(commands, _env)
    reload = commands.add_parser(
        "reload", help="load new code: workers are replaced, sockets stay open"
    )
    reload.add_argument(
        "--data-dir", default=_env("DATA_DIR", ".roost"), help="the served hub's data directory"
    )
    database_command.add_parser(commands)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command == "reload":
        return _reload(Path(args.data_dir))
    if args.command == "db":
        return database_command.run(args)
    if args.command == "restore":
        return backup_cli.run_restore(args)
    if args.gateways is not None and args.workers is None:
        parser.error("--gateways needs --workers")
    configure_logging(
        args.log_level,
        args.log_format,
        access_log=args.access_log,
        process="supervisor" if args.workers is not None else None,
    )
    try:
        app = load_app(args.target)
        app.configure(
            data_dir=args.data_dir,
            idle_timeout=args.idle_timeout,
            databases=True if args.databases else None,
            trusted_proxies=args.trusted_proxies,
            backup=backup_cli.settings_from(args),
        )
    except (TargetError, ConfigurationError) as exc:
        print(f"roost: {exc}", file=sys.stderr)
        return 2
    try:
        if args.workers is not None:
            return _run_cluster(app, args)
        handover = run_loop(_serve(app, args))
    except ListenError as exc:
        print(f"roost: {exc}", file=sys.stderr)
        return 1
    if handover:
        _restart(argv, handover)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a count of at least 1, got {value}")
    return value


def _run_cluster(app: Hub, args: argparse.Namespace) -> int:
    """``--workers``: supervise gateway and worker processes (``hub.cluster``)."""
    from hub.cluster.processes import ProcessConfig
    from hub.cluster.supervisor import Supervisor

    config = ProcessConfig(
        target=args.target,
        index=0,
        workers=args.workers,
        gateways=args.gateways or 1,
        run_dir="",
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        idle_timeout=args.idle_timeout,
        admin_key=args.admin_key,
        compression=args.compression,
        shutdown_timeout=args.shutdown_timeout,
        log_level=args.log_level,
        databases=args.databases,
        log_format=args.log_format,
        access_log=args.access_log,
        health_requires_key=args.health_requires_key,
        trusted_proxies=args.trusted_proxies,
        backup=backup_cli.wire(backup_cli.settings_from(args)),
    )
    supervisor = Supervisor(config, data_dir=app.data_dir.resolve(), reload=args.reload)
    return asyncio.run(supervisor.run())


def _reload(data_dir: Path) -> int:
    """``roost reload``: SIGHUP to the process serving from ``data_dir``."""
    pid_file = data_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        print(f"roost: no hub is serving from {str(data_dir)!r}: {exc}", file=sys.stderr)
        return 1
    print(f"roost: reloading (pid {pid})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
