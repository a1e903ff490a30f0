"""Which URL reaches what: objects, their RPC methods, PartyKit rooms, the admin API.

Rules:

1. ``/objects/{binding}/{name}[/...]`` and ``/parties/{party}/{room}[/...]`` reach an
   object; the binding is written in kebab-case (``chat-room`` for ``CHAT_ROOM``); the
   name is one percent-decoded path segment, so any string can be a name (``%2F`` for
   a slash). The object's ``fetch`` sees the whole path.
2. ``POST /objects/{binding}/{name}/rpc/{method}`` is an RPC call, and
   ``GET /objects/{binding}/{name}/presence`` the presence list, not a fetch.
3. ``/_roost/...`` is the admin API. Anything else is not found.
4. Every refusal is a ``RouteError`` with an HTTP status and a stable code.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "AdminRoute",
    "ObjectRoute",
    "PresenceRoute",
    "RouteError",
    "RpcRoute",
    "binding_from_kebab",
    "kebab",
    "match",
]

_KEBAB_RE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_METHOD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class RouteError(Exception):
    """A path that reaches nothing: ``status`` and ``code`` go back to the client."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class ObjectRoute:
    """A request for an object's ``fetch`` (plain HTTP or a WebSocket upgrade)."""

    binding: str
    name: str


@dataclass(frozen=True, slots=True)
class RpcRoute:
    """``POST .../rpc/{method}``: call a public method with JSON arguments."""

    binding: str
    name: str
    method: str


@dataclass(frozen=True, slots=True)
class PresenceRoute:
    """``GET .../presence``: the object's presence members, answered by the front."""

    binding: str
    name: str


@dataclass(frozen=True, slots=True)
class AdminRoute:
    """One of the ``/_roost/`` endpoints; ``binding`` and ``name`` for per-object ones."""

    action: str
    binding: str | None = None
    name: str | None = None


Route = ObjectRoute | RpcRoute | PresenceRoute | AdminRoute


def kebab(binding: str) -> str:
    """``CHAT_ROOM`` -> ``chat-room``."""
    return binding.lower().replace("_", "-")


def binding_from_kebab(segment: str) -> str:
    """``chat-room`` -> ``CHAT_ROOM``, or ``RouteError`` for anything else."""
    if not _KEBAB_RE.fullmatch(segment):
        raise RouteError(
            404, "unknown_binding", f"bindings are kebab-case in URLs, got {segment[:80]!r}"
        )
    return segment.upper().replace("-", "_")


def _name(segment: str) -> str:
    try:
        name = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise RouteError(400, "invalid_id", "object name is not valid UTF-8") from None
    if not name:
        raise RouteError(400, "invalid_id", "object name is empty")
    return name


def match(method: str, path: str) -> Route:
    """The route of ``method path`` (path still percent-encoded)."""
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != "":
        raise RouteError(404, "not_found", f"no route for {path[:200]!r}")
    head = parts[1]
    if head in ("objects", "parties") and len(parts) >= 4:
        binding = binding_from_kebab(parts[2])
        name = _name(parts[3])
        if head == "objects" and method == "POST" and len(parts) == 6 and parts[4] == "rpc":
            if not _METHOD_RE.fullmatch(parts[5]):
                raise RouteError(404, "method_not_found", f"no method {parts[5][:80]!r}")
            return RpcRoute(binding, name, parts[5])
        if head == "objects" and method == "GET" and parts[4:] == ["presence"]:
            return PresenceRoute(binding, name)
        return ObjectRoute(binding, name)
    if head == "_roost":
        return _admin(method, parts[2:])
    raise RouteError(404, "not_found", f"no route for {path[:200]!r}")


def _admin(method: str, rest: list[str]) -> AdminRoute:
    if rest in (["health"], ["metrics"], ["objects"]) and method == "GET":
        return AdminRoute(rest[0])
    if len(rest) == 4 and rest[0] == "objects" and rest[3] == "hibernate":
        if method != "POST":
            raise RouteError(405, "method_not_allowed", "hibernate takes POST")
        return AdminRoute("hibernate", binding_from_kebab(rest[1]), _name(rest[2]))
    raise RouteError(404, "not_found", f"no admin endpoint /_roost/{'/'.join(rest)[:200]}")
