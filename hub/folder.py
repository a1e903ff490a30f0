"""Object classes discovered from a folder: ``roost serve objects/``, ``Hub.from_folder``.

Rules:

1. Each ``*.py`` file of the folder whose name does not start with ``_`` defines exactly
   one object class: one public subclass of ``hub.DurableObject`` defined in that file
   (classes imported from elsewhere, and classes whose names start with ``_``, such as
   shared bases, do not count).
2. Its binding is the file name in upper snake case (``chat_room.py`` -> ``CHAT_ROOM``,
   URL segment ``chat-room``); a file name that is not snake case is refused.
3. ``_router.py``, if present, defines ``router(request)``: the hub's router. Other
   files starting with ``_`` are helpers the object files may import (the folder is on
   ``sys.path``, and each file is imported under its own name, so files import each
   other as plain modules).
4. Every problem is one ``ConfigurationError`` line that names the file.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from hub.errors import ConfigurationError
from hub.object import DurableObject

if TYPE_CHECKING:
    from hub.net.front import Router

__all__ = ["ROUTER_FILE", "is_folder_target", "load_folder"]

#: The optional file that defines the folder's router.
ROUTER_FILE = "_router.py"
_SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def is_folder_target(spec: str) -> bool:
    """True when ``roost serve``'s ``spec`` names a folder of object files: a folder
    that is not a package, or any folder written with a trailing ``/``."""
    path = Path(spec)
    return path.is_dir() and (spec.endswith(("/", os.sep)) or not (path / "__init__.py").exists())


def load_folder(folder: str | Path) -> tuple[dict[str, type[DurableObject]], Router | None]:
    """The object classes of ``folder`` by binding, and its router (or None)."""
    path = Path(folder).resolve()
    if not path.is_dir():
        raise ConfigurationError(f"{str(folder)!r} is not a folder")
    files = sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
    if not files:
        raise ConfigurationError(f"{str(folder)!r} has no object files (*.py not starting with _)")
    if str(path) in sys.path:
        sys.path.remove(str(path))
    sys.path.insert(0, str(path))  # first: its files win over another folder's
    if _loaded - {path}:
        _forget_other_folders(path)
    _loaded.add(path)
    try:
        return _load(path, files)
    except ConfigurationError:
        # A folder that cannot be served leaves nothing behind: a file of it named like
        # a module of the standard library must not shadow it for the rest of the
        # process (or its children, which inherit sys.path).
        sys.path.remove(str(path))
        _loaded.discard(path)
        _forget({path})
        raise


def _load(path: Path, files: list[Path]) -> tuple[dict[str, type[DurableObject]], Router | None]:
    classes: dict[str, type[DurableObject]] = {}
    for file in files:
        if not _SNAKE.fullmatch(file.stem):
            raise ConfigurationError(
                f"{file.name}: object file names are snake_case (like chat_room.py),"
                " the binding is the name in capitals"
            )
        classes[file.stem.upper()] = _object_class(file, _import(file))
    router_file = path / ROUTER_FILE
    router = None
    if router_file.is_file():
        router = getattr(_import(router_file), "router", None)
        if not callable(router):
            raise ConfigurationError(f"{ROUTER_FILE}: must define router(request)")
    return classes, router


#: Folders loaded in this process: a module of the same name from one of them is
#: replaced, not reused, when another folder is loaded (tests, several hubs).
_loaded: set[Path] = set()


def _forget_other_folders(path: Path) -> None:
    """Drop the modules of other loaded folders, helpers included: names are per folder."""
    _forget(_loaded - {path})


def _forget(folders: set[Path]) -> None:
    """Drop the modules imported from ``folders``."""
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin is not None and Path(origin).resolve().parent in folders:
            del sys.modules[name]


def _import(file: Path) -> ModuleType:
    name = file.stem
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        raise ConfigurationError(
            f"{file.name}: cannot be imported: {type(exc).__name__}: {exc}"
        ) from exc
    origin = getattr(module, "__file__", None)
    if origin is None or Path(origin).resolve() != file:
        raise ConfigurationError(
            f"{file.name}: the module name {name!r} is taken by {origin or 'a built-in'}:"
            " rename the file"
        )
    return module


def _object_class(file: Path, module: ModuleType) -> type[DurableObject]:
    found = list(
        dict.fromkeys(
            value
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, DurableObject)
            and value is not DurableObject
            and value.__module__ == module.__name__
            and not name.startswith("_")
        )
    )
    if len(found) != 1:
        names = ", ".join(cls.__name__ for cls in found)
        detail = f" ({names})" if found else ""
        raise ConfigurationError(
            f"{file.name}: defines {len(found)} hub.DurableObject subclasses{detail},"
            " expected exactly one (name shared bases with a leading _)"
        )
    return found[0]
