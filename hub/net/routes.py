"""Which URL reaches what: objects, their RPC methods, PartyKit rooms, the admin API.

Rules:

1. ``/objects/{binding}/{name}[/...]`` and ``/parties/{party}/{room}[/...]`` reach an
   object; the binding is written in kebab-case (``chat-room`` for ``CHAT_ROOM``); the
   name is one percent-decoded path segment, so any string can be a name (``%2F`` for
   a slash). The object's ``fetch`` sees the whole path.
2. ``POST /objects/{binding}/{name}/rpc/{method}`` is an RPC call, and
   ``GET /objects/{binding}/{name}/presence`` the presence list, not a fetch.
3. ``/_roost/...`` is the admin API (``/_roost/databases...`` the databases' part),
   except ``/_roost/client.js`` and ``/_roost/client.cjs``: the JS client, public
   (``StaticRoute``, ``hub.net.static``); ``/db/{name}[/{verb}]`` is a database object
   (docs/databases.md). Anything else is not found.
5. Routing reads the request target and nothing else. ``request_url`` builds the URL an
   object sees from the target and a validated ``Host`` (RFC 9112 §3.2): the host can
   never add a path, a query or a fragment, so it cannot change where a request goes.
4. Every refusal is a ``HubError`` of the one error table (``not_found``,
   ``unknown_binding``, ``invalid_id``, ``method_not_found``, ``method_not_allowed``).

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from hub.errors import (
    BadRequestError,
    InvalidIdError,
    MethodNotAllowedError,
    MethodNotFoundError,
    NotFoundError,
    UnknownBindingError,
)

__all__ = [
    "AdminRoute",
    "DatabaseAdminRoute",
    "DatabaseRoute",
    "ObjectRoute",
    "PresenceRoute",
    "RpcRoute",
    "StaticRoute",
    "binding_from_kebab",
    "kebab",
    "match",
    "request_url",
]

_KEBAB_RE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_METHOD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: ``uri-host [":" port]`` (RFC 3986 §3.2.2): a reg-name or IPv4 address, or an IP
#: literal in brackets (checked again with ``ipaddress``).
_HOST_RE = re.compile(r"(?:([A-Za-z0-9\-._~!$&'()*+,;=%]+)|\[([0-9A-Fa-f:.]+)\])(?::[0-9]{0,5})?")
#: What an origin-form target may hold (RFC 3986 §3.3-3.4): no spaces, controls or '#'.
_TARGET_RE = re.compile(r"/[\x21-\x22\x24-\x7e]*")


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
    """One of the ``/_roost/`` endpoints; for per-object ones ``binding`` and the object's
    ``name`` (``/_roost/objects/...``) or its hex ``id`` (``/_roost/ids/...``: objects
    made with ``new_unique_id`` have no name)."""

    action: str
    binding: str | None = None
    name: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class DatabaseRoute:
    """``/db/{name}`` (a WebSocket) or ``/db/{name}/{verb}`` (a data call)."""

    name: str
    verb: str | None = None


@dataclass(frozen=True, slots=True)
class DatabaseAdminRoute:
    """``/_roost/databases[/{name}[/tokens[/{token_id}] | /migrate]]``: provisioning.

    ``action`` is ``list``, ``create``, ``info``, ``delete``, ``token``, ``revoke`` or
    ``migrate``."""

    action: str
    name: str | None = None
    token_id: str | None = None


@dataclass(frozen=True, slots=True)
class StaticRoute:
    """``/_roost/client.js`` or ``/_roost/client.cjs``: a public file of the hub."""

    path: str


#: The public files under ``/_roost/`` (``hub.net.static.FILES``).
STATIC_PATHS = frozenset({"client.js", "client.cjs"})

Route = (
    ObjectRoute
    | RpcRoute
    | PresenceRoute
    | AdminRoute
    | StaticRoute
    | DatabaseRoute
    | DatabaseAdminRoute
)


def kebab(binding: str) -> str:
    """``CHAT_ROOM`` -> ``chat-room``."""
    return binding.lower().replace("_", "-")


def binding_from_kebab(segment: str) -> str:
    """``chat-room`` -> ``CHAT_ROOM``, or ``UnknownBindingError`` for anything else."""
    if not _KEBAB_RE.fullmatch(segment):
        raise UnknownBindingError(f"bindings are kebab-case in URLs, got {segment[:80]!r}")
    return segment.upper().replace("-", "_")


def _name(segment: str) -> str:
    try:
        name = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise InvalidIdError("object name is not valid UTF-8") from None
    if not name:
        raise InvalidIdError("object name is empty")
    return name


def match(method: str, path: str) -> Route:
    """The route of ``method path`` (path still percent-encoded)."""
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != "":
        raise NotFoundError(f"no route for {path[:200]!r}")
    head = parts[1]
    if head in ("objects", "parties") and len(parts) >= 4:
        binding = binding_from_kebab(parts[2])
        name = _name(parts[3])
        if head == "objects" and method == "POST" and len(parts) == 6 and parts[4] == "rpc":
            if not _METHOD_RE.fullmatch(parts[5]):
                raise MethodNotFoundError(f"no method {parts[5][:80]!r}")
            return RpcRoute(binding, name, parts[5])
        if head == "objects" and method == "GET" and parts[4:] == ["presence"]:
            return PresenceRoute(binding, name)
        return ObjectRoute(binding, name)
    if head == "db" and len(parts) in (3, 4):
        verb = parts[3] if len(parts) == 4 else None
        if verb is not None and not _METHOD_RE.fullmatch(verb):
            raise MethodNotFoundError(f"no verb {verb[:80]!r}")
        return DatabaseRoute(_name(parts[2]), verb)
    if head == "_roost" and parts[2:3] == ["databases"]:
        return _database_admin(method, parts[3:])
    if head == "_roost" and len(parts) == 3 and parts[2] in STATIC_PATHS:
        return StaticRoute(parts[2])
    if head == "_roost":
        return _admin(method, parts[2:])
    raise NotFoundError(f"no route for {path[:200]!r}")


def _admin(method: str, rest: list[str]) -> AdminRoute:
    if rest in (["health"], ["metrics"], ["objects"], ["events"]) and method == "GET":
        return AdminRoute(rest[0])
    if rest in ([], [""]) and method == "GET":
        return AdminRoute("page")  # the inspector (hub/net/inspector.py)
    if len(rest) in (3, 4) and rest[0] in ("objects", "ids"):
        binding = binding_from_kebab(rest[1])
        by_id = rest[0] == "ids"
        name, hex_id = (None, rest[2]) if by_id else (_name(rest[2]), None)
        if len(rest) == 3 and method == "GET":
            return AdminRoute("object", binding, name, hex_id)
        if len(rest) == 4 and rest[3] == "hibernate":
            if method != "POST":
                raise MethodNotAllowedError(f"hibernate takes POST, got {method!r}")
            return AdminRoute("hibernate", binding, name, hex_id)
    raise NotFoundError(f"no admin endpoint /_roost/{'/'.join(rest)[:200]}")


_DATABASE_ACTIONS = {
    (0, "GET"): "list",
    (0, "POST"): "create",
    (1, "GET"): "info",
    (1, "DELETE"): "delete",
    (2, "POST"): "token",
    (3, "DELETE"): "revoke",
}


def _database_admin(method: str, rest: list[str]) -> DatabaseAdminRoute:
    if len(rest) == 2 and rest[1] in ("migrate", "restore"):
        if method != "POST":
            raise MethodNotAllowedError(f"{rest[1]} takes POST, got {method!r}")
        return DatabaseAdminRoute(rest[1], _name(rest[0]))
    if len(rest) > 3 or (len(rest) >= 2 and rest[1] != "tokens"):
        raise NotFoundError(f"no admin endpoint /_roost/databases/{'/'.join(rest)[:200]}")
    action = _DATABASE_ACTIONS.get((len(rest), method))
    if action is None:
        raise MethodNotAllowedError(f"{method!r} is not allowed on this databases endpoint")
    name = _name(rest[0]) if rest else None
    token_id = _name(rest[2]) if len(rest) == 3 else None
    return DatabaseAdminRoute(action, name, token_id)


def request_url(target: str, hosts: list[str], version: tuple[int, int] = (1, 1)) -> str:
    """The full URL of a request (``http://host/path?query``) from its target and Host.

    ``hosts`` holds every ``Host`` header value. HTTP/1.1 needs exactly one (RFC 9112
    §3.2); an absolute-form target brings its own authority, which wins. Anything
    malformed is a ``BadRequestError`` (400), never another exception.
    """
    if len(hosts) > 1:
        raise BadRequestError(f"expected one Host header, got {len(hosts)}")
    if not hosts and version >= (1, 1):
        raise BadRequestError("an HTTP/1.1 request needs a Host header")
    host = _host(hosts[0]) if hosts else "localhost"
    if target.startswith("/"):
        if not _TARGET_RE.fullmatch(target):
            raise BadRequestError(f"invalid request target {target[:80]!r}")
        return f"http://{host}{target}"
    lowered = target[:8].lower()
    if lowered.startswith(("http://", "https://")):
        try:
            parts = urlsplit(target)
        except ValueError:
            raise BadRequestError(f"invalid request target {target[:80]!r}") from None
        path = parts.path or "/"
        rest = f"{path}?{parts.query}" if parts.query else path
        if parts.fragment or not _TARGET_RE.fullmatch(rest):
            raise BadRequestError(f"invalid request target {target[:80]!r}")
        return f"http://{_host(parts.netloc)}{rest}"
    raise BadRequestError(f"request target must be a path or an absolute URL: {target[:80]!r}")


def _host(value: str) -> str:
    """A valid ``Host`` value (``localhost`` when empty), or ``BadRequestError``."""
    value = value.strip()
    if not value:
        return "localhost"
    match = _HOST_RE.fullmatch(value)
    if match is None or len(value) > 255:
        raise BadRequestError(f"invalid Host header {value[:80]!r}")
    literal = match.group(2)
    if literal is not None:
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise BadRequestError(f"invalid Host header {value[:80]!r}") from None
    return value
