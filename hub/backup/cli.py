"""The command line of backups: ``roost serve``'s ``--backup-*`` options and ``roost
restore``.

``roost restore BINDING NAME --at TIME`` (or ``--bookmark B``) restores one object;
``roost restore --all`` rebuilds every object whose file is missing (disaster recovery),
from the backup folder or, with ``--backup-s3``, from the bucket.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.backup.recovery import restore_all, restore_object
from hub.backup.service import Backups, BackupSettings
from hub.errors import ConfigurationError
from hub.ids import id_from_name

__all__ = [
    "add_restore_command",
    "add_serve_options",
    "run_restore",
    "settings_from",
    "unwire",
    "wire",
]

Env = Callable[..., Any]


def add_serve_options(parser: argparse.ArgumentParser, env: Env, flag: Env) -> None:
    """``roost serve``'s backup options (each also ``ROOST_<NAME>``)."""
    group = parser.add_argument_group("backup (point-in-time restore, disaster recovery)")
    group.add_argument(
        "--no-backup",
        dest="backup",
        action="store_false",
        default=flag("BACKUP", default=True),
        help="do not back objects up (ROOST_BACKUP=0; default: on, in DATA_DIR/backup)",
    )
    _add_location_options(group, env)
    group.add_argument(
        "--backup-retention-days",
        type=float,
        default=env("BACKUP_RETENTION_DAYS"),
        help="days of history kept (30)",
    )
    group.add_argument(
        "--backup-gated",
        action="store_true",
        default=flag("BACKUP_GATED"),
        help="answers wait until the replica has the commit (fsync, or the S3 push)",
    )


def _add_location_options(group: Any, env: Env) -> None:
    group.add_argument(
        "--backup-dir", default=env("BACKUP_DIR"), help="the local history (DATA_DIR/backup)"
    )
    group.add_argument(
        "--backup-s3",
        default=env("BACKUP_S3"),
        help="s3://bucket/prefix: also push every history there (boto3: pip install"
        " 'roost[s3]'; credentials from the usual AWS variables)",
    )
    group.add_argument(
        "--backup-s3-endpoint",
        default=env("BACKUP_S3_ENDPOINT"),
        help="an S3-compatible endpoint URL (MinIO, R2, ...)",
    )


def settings_from(args: argparse.Namespace) -> BackupSettings | bool | None:
    """The settings the options say: ``False`` off, ``None`` none given (the
    application's own ``Hub(backup=...)`` stands)."""
    if not args.backup:
        return False
    given = (args.backup_dir, args.backup_s3, args.backup_s3_endpoint, args.backup_retention_days)
    if all(value is None for value in given) and not args.backup_gated:
        return None
    retention = 30.0 if args.backup_retention_days is None else float(args.backup_retention_days)
    return BackupSettings(
        folder=None if args.backup_dir is None else Path(args.backup_dir),
        retention_days=retention,
        gated=bool(args.backup_gated),
        s3=args.backup_s3,
        s3_endpoint=args.backup_s3_endpoint,
    )


def wire(settings: BackupSettings | bool | None) -> dict[str, Any] | None:
    """The JSON form handed to worker processes (``None``: the application's own)."""
    if settings is None or settings is True:
        return None if settings is None else {}
    if settings is False:
        return {"enabled": False}
    form = asdict(settings)
    form["folder"] = None if settings.folder is None else str(settings.folder)
    return form


def unwire(form: dict[str, Any] | None) -> BackupSettings | bool | None:
    """The settings of ``wire``'s form."""
    if form is None:
        return None
    if form.get("enabled") is False:
        return False
    known = {f.name for f in fields(BackupSettings)}
    values = {k: v for k, v in form.items() if k in known}
    if values.get("folder") is not None:
        values["folder"] = Path(values["folder"])
    return BackupSettings(**values)


def add_restore_command(commands: Any, env: Env) -> None:
    """``roost restore``."""
    restore = commands.add_parser(
        "restore",
        help="restore an object to a point in time, or every object after a disk loss",
    )
    restore.add_argument("binding", nargs="?", help="the object's binding (CHAT_ROOM)")
    restore.add_argument("name", nargs="?", help="the object's name")
    point = restore.add_mutually_exclusive_group(required=True)
    point.add_argument("--at", help="a time: ISO 8601 (2026-12-03T04:00:00Z) or epoch seconds")
    point.add_argument("--bookmark", help="a bookmark (ctx.storage.get_current_bookmark())")
    point.add_argument(
        "--all", action="store_true", help="rebuild every object whose file is missing"
    )
    restore.add_argument(
        "--data-dir", default=env("DATA_DIR", ".roost"), help="the hub's data directory"
    )
    _add_location_options(restore, env)


def run_restore(args: argparse.Namespace) -> int:
    """Carry out ``roost restore``; the exit status."""
    data_dir = Path(args.data_dir)
    try:
        settings = BackupSettings(
            folder=None if args.backup_dir is None else Path(args.backup_dir),
            s3=args.backup_s3,
            s3_endpoint=args.backup_s3_endpoint,
        )
        backups = Backups(settings, data_dir)
        if args.all:
            if args.binding is not None:
                raise ConfigurationError("--all restores every object: give no BINDING NAME")
            done = asyncio.run(restore_all(data_dir, backups))
            for key, bookmark in done:
                print(f"restored {key} to {bookmark}")
            print(f"roost: {len(done)} objects restored into {data_dir}")
            return 0
        if args.binding is None or args.name is None:
            raise ConfigurationError("give BINDING NAME (or --all)")
        point: str | float = args.bookmark if args.bookmark is not None else _time(args.at)
        object_id = id_from_name(args.binding, args.name)
        result = asyncio.run(restore_object(data_dir, backups, object_id, point))
    except ConfigurationError as exc:
        print(f"roost: {exc}", file=sys.stderr)
        return 2
    if result.applied:
        print(f"restored {args.binding} {args.name!r} to {result.bookmark}")
    else:
        print(
            f"roost: {args.binding} {args.name!r} is open in a running hub: it restores to"
            f" {result.bookmark} when the hub next starts it (hibernate it to make that now)"
        )
    if result.undo is not None:
        print(f"undo with: roost restore {args.binding} {args.name} --bookmark {result.undo}")
    return 0


def _time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"--at takes ISO 8601 (2026-12-03T04:00:00Z) or epoch seconds, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise ConfigurationError(f"--at needs a time zone (Z or +00:00): {text!r}")
    return moment.timestamp()
