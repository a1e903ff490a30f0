"""HTTP requests in the front: route each one, and answer it or hand it to its object.

``serve`` runs one parsed request, in a task the front owns: the hub's router or the
default routes (``routes.py``) pick the admin API, RPC over HTTP, the presence list, or
an object's ``fetch`` (which may upgrade the connection to a WebSocket).

Rules:

1. Errors become HTTP statuses and stable codes in one place (``hub.net.answers``,
   through ``answer_error``); the text of unexpected exceptions never reaches a client.
2. A request is routed on its target alone; ``Host`` is validated and only names the
   URL an object sees (``routes.request_url``).
3. An upgrade's socket id is reserved before its object sees the request, so the object
   accepts it without a reply (``upgrades.py``). Only a 101 from an object that
   accepted completes the upgrade; any other answer rejects it and abandons the
   acceptance. A plain request answered 101 is an internal error.
4. No state here: requests in flight, pending upgrades and the connection map are the
   front's, changed through its methods (``submit_fetch``, ``upgrades``,
   ``open_socket``, ``forget``).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

import orjson

from hub.databases.gate import bearer
from hub.databases.settings import BINDING as DATABASE_BINDING
from hub.errors import (
    HubError,
    InternalError,
    InvalidArgumentsError,
    MethodNotAllowedError,
    NotFoundError,
    RpcError,
    UnknownBindingError,
    UnsupportedMediaTypeError,
)
from hub.http import Client, Request, Response
from hub.logs import extra
from hub.net import access, admin, routes, static
from hub.net.answers import JSON, error_response
from hub.net.forwarded import client_address
from hub.runtime.forms import parse_form

if TYPE_CHECKING:
    from hub.ids import ObjectId
    from hub.net.connection import Connection
    from hub.net.front import Front
    from hub.net.http1 import ParsedRequest

__all__ = ["answer", "answer_error", "serve"]

log = logging.getLogger("roost.net")


def serve(front: Front, conn: Connection, parsed: ParsedRequest) -> None:
    """Route and answer one request (or submit it to its object, which answers later).

    Without a router, a WebSocket upgrade for an object's ``fetch`` is routed and
    submitted here and now: nothing in it waits, and a task per upgrade was a tenth of
    its CPU (issue 15). Anything else is served in a task the front owns
    (``Front.run_task``): a router may await, and so do the admin API, RPC and
    databases.
    """
    if not parsed.upgrade or front.router is not None:
        front.run_task(_serve_later(front, conn, parsed))
        return
    try:
        request = _request(front, conn, parsed)
        route = _default_route(front, parsed.method, request.path)
        if isinstance(route, routes.ObjectRoute):
            _fetch(front, conn, parsed, route, request)
            return
    except Exception as exc:
        _failed(conn, parsed, exc)
        return
    front.run_task(_serve_later(front, conn, parsed, request, route))


async def _serve_later(
    front: Front,
    conn: Connection,
    parsed: ParsedRequest,
    request: Request | None = None,
    route: routes.Route | None = None,
) -> None:
    """``serve``'s part that may wait: the router, the admin API, RPC, databases."""
    try:
        if request is None:
            request = _request(front, conn, parsed)
        await _dispatch(front, conn, parsed, request, route)
    except Exception as exc:
        _failed(conn, parsed, exc)


def _request(front: Front, conn: Connection, parsed: ParsedRequest) -> Request:
    """The ``Request`` an object or the router sees."""
    hosts = [value for name, value in parsed.headers if name.lower() == "host"]
    url = routes.request_url(parsed.target, hosts, parsed.version)
    # An upgrade's socket id is chosen now, so an object accepts it without a reply.
    upgrade_id = front.table.reserve_id() if parsed.upgrade else None
    client = _client(front, conn, parsed)
    # Upgrades too get an http:// URL, as in the anchor.
    return Request(
        parsed.method, url, parsed.headers, parsed.body, upgrade_id=upgrade_id, client=client
    )


def _failed(conn: Connection, parsed: ParsedRequest, exc: Exception) -> None:
    """Answer a request that raised ``exc`` (rule 1)."""
    if isinstance(exc, HubError):
        answer_error(conn, parsed, exc)
        return
    path = access.redact(parsed.target)[:200]  # never a token in a log
    log.error(
        "request %s %r failed",
        parsed.method,
        path,
        exc_info=exc,
        extra=extra("error", method=parsed.method, path=path),
    )
    answer_error(conn, parsed, InternalError("internal error"))


def _default_route(front: Front, method: str, path: str) -> routes.Route:
    """The default routes' answer for ``method path`` (``routes.match``)."""
    route = routes.match(method, path)
    if getattr(route, "binding", None) == DATABASE_BINDING and front.databases is not None:
        # Databases are reached under /db/ with a token, never as plain objects.
        raise UnknownBindingError(f"{DATABASE_BINDING!r} is reached under /db/, not /objects/")
    return route


def _client(front: Front, conn: Connection, parsed: ParsedRequest) -> Client | None:
    """The request's client: its peer, or behind a trusted proxy what it forwarded."""
    transport = conn.transport
    peername = None if transport is None else transport.get_extra_info("peername")
    peer = None
    if isinstance(peername, tuple) and len(peername) >= 2 and isinstance(peername[0], str):
        peer = Client(peername[0], int(peername[1]))
    if not front.trusted_proxies:
        return peer
    forwarded = [value for name, value in parsed.headers if name.lower() == "x-forwarded-for"]
    return client_address(peer, forwarded, front.trusted_proxies)


async def _dispatch(
    front: Front,
    conn: Connection,
    parsed: ParsedRequest,
    request: Request,
    route: routes.Route | None,
) -> None:
    if front.router is not None:
        answered = front.router(request)
        if inspect.isawaitable(answered):
            answered = await answered
        if isinstance(answered, Response):
            answer(conn, parsed, answered)
            return
        if isinstance(answered, tuple):
            route = routes.ObjectRoute(*answered)
        elif answered is not None:
            raise TypeError(f"router must return a Response, (binding, name) or None: {answered!r}")
    if route is None:
        route = _default_route(front, parsed.method, request.path)
    if isinstance(route, routes.DatabaseRoute | routes.DatabaseAdminRoute):
        await _database(front, conn, parsed, route, request)
    elif isinstance(route, routes.AdminRoute):
        status, headers, body = await admin.handle(front, route, request)
        conn.respond(status, headers, body, keep_alive=parsed.keep_alive)
    elif isinstance(route, routes.StaticRoute):  # public: no admin key
        status, headers, body, omit = static.answer(parsed.method, route.path, parsed.headers)
        conn.respond(status, headers, body, keep_alive=parsed.keep_alive, omit_body=omit)
    elif isinstance(route, routes.RpcRoute):
        await _rpc(front, conn, parsed, route, request)
    elif isinstance(route, routes.PresenceRoute):
        _presence_list(front, conn, parsed, route)
    else:
        _fetch(front, conn, parsed, route, request)


async def _database(
    front: Front,
    conn: Connection,
    parsed: ParsedRequest,
    route: routes.DatabaseRoute | routes.DatabaseAdminRoute,
    request: Request,
) -> None:
    gate = front.databases
    if gate is None:
        raise NotFoundError("database objects are off: roost serve --databases")
    if isinstance(route, routes.DatabaseRoute) and route.verb is None:
        gate.existing(front, route.name)
        # The socket's calls carry this token to the object (roost_v1._call).
        conn.database_token = request.query.get("token") or bearer(request)
        _fetch(front, conn, parsed, routes.ObjectRoute(DATABASE_BINDING, route.name), request)
        return
    if parsed.upgrade:
        raise MethodNotAllowedError("only /db/{name} takes a WebSocket")
    if isinstance(route, routes.DatabaseRoute):
        status, result = await gate.call(front, route, request, parsed.body)
    else:
        status, result = await gate.admin(front, route, request, parsed.body)
    conn.respond(status, JSON, orjson.dumps(result), keep_alive=parsed.keep_alive)


def _fetch(
    front: Front,
    conn: Connection,
    parsed: ParsedRequest,
    route: routes.ObjectRoute,
    request: Request,
) -> None:
    object_id = front.host.object_id(route.binding, route.name)
    upgrade_id = request.upgrade_id
    if upgrade_id is not None:
        if not conn.begin_upgrade(parsed):
            return
        front.upgrades.submitted(upgrade_id, conn)

    def fetched(result: Response | RpcError) -> None:
        _fetched(front, conn, parsed, object_id, upgrade_id, result)

    front.submit_fetch(object_id, request, fetched)


def _fetched(
    front: Front,
    conn: Connection,
    parsed: ParsedRequest,
    object_id: ObjectId,
    upgrade_id: int | None,
    result: Response | RpcError,
) -> None:
    if upgrade_id is None:
        if isinstance(result, Response) and result.status == 101:
            result = InternalError("fetch returned 101 for a plain HTTP request")
        if isinstance(result, RpcError):
            answer_error(conn, parsed, result)
        else:
            answer(conn, parsed, result)
        return
    accepted = front.upgrades.answered(upgrade_id)
    if accepted and isinstance(result, Response) and result.status == 101:
        socket_id = upgrade_id
        if conn.transport is not None and not conn.transport.is_closing():
            front.open_socket(conn, socket_id, object_id)
            return
        front.forget(socket_id)
        return
    if accepted:  # accepted, but the object answered something else
        front.commands.abandon(upgrade_id)
    if isinstance(result, Response) and result.status != 101:
        conn.reject_upgrade(result.status, result.headers.raw_items(), result.body)
    else:
        error = result if isinstance(result, RpcError) else InternalError("bad upgrade")
        conn.reject_upgrade(*error_response(error))


async def _rpc(
    front: Front,
    conn: Connection,
    parsed: ParsedRequest,
    route: routes.RpcRoute,
    request: Request,
) -> None:
    front.counters.rpc_calls += 1
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    form = media == "application/x-www-form-urlencoded"
    if form:
        args: list[Any] = []
        kwargs: dict[str, Any] = parse_form(parsed.body)  # coerced where the method is known
    elif media.startswith("multipart/"):
        raise UnsupportedMediaTypeError(
            f"RPC over HTTP takes JSON or application/x-www-form-urlencoded, got {media!r}"
            " (leave out the form's enctype)"
        )
    else:
        args, kwargs = _json_arguments(parsed.body)
    object_id = front.host.object_id(route.binding, route.name)
    reply = front.host.call_wire(object_id, route.method, args, kwargs, form=form)
    result = await reply
    conn.respond(200, JSON, orjson.dumps({"result": result}), keep_alive=parsed.keep_alive)


def _json_arguments(body: bytes) -> tuple[list[Any], dict[str, Any]]:
    """``args`` and ``kwargs`` of a JSON RPC body ``{"args": [...], "kwargs": {...}}``."""
    try:
        payload = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise InvalidArgumentsError("request body is not valid JSON") from None
    if not isinstance(payload, dict) or set(payload) - {"args", "kwargs"}:
        raise InvalidArgumentsError('expected a JSON object {"args": [...], "kwargs": {...}}')
    args, kwargs = payload.get("args", []), payload.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise InvalidArgumentsError('"args" must be a list and "kwargs" an object')
    return args, kwargs


def _presence_list(
    front: Front, conn: Connection, parsed: ParsedRequest, route: routes.PresenceRoute
) -> None:
    """``GET .../presence``: the members, from the socket table (no wake)."""
    object_id = front.host.object_id(route.binding, route.name)
    members = front.presence.members(object_id.hex)
    body = b'{"count":%d,"members":[%s]}' % (
        len(members),
        b",".join(b'{"socket":%d,"state":%s}' % member for member in members),
    )
    conn.respond(200, JSON, body, keep_alive=parsed.keep_alive)


def answer(conn: Connection, parsed: ParsedRequest, response: Response) -> None:
    """Answer the request with ``response`` (an upgrade request: reject it with it)."""
    if parsed.upgrade:
        if conn.ws is None and not conn.begin_upgrade(parsed):
            return  # a bad handshake was already answered by the protocol
        conn.reject_upgrade(response.status, response.headers.raw_items(), response.body)
    else:
        conn.respond(
            response.status,
            response.headers.raw_items(),
            response.body,
            keep_alive=parsed.keep_alive,
        )


def answer_error(conn: Connection, parsed: ParsedRequest, error: HubError) -> None:
    """Answer the request with ``error``'s status and code (an upgrade: reject it)."""
    status, headers, body = error_response(error)
    if parsed.upgrade:
        if conn.ws is None:
            conn.begin_upgrade(parsed)  # may answer a bad handshake itself
        conn.reject_upgrade(status, headers, body)
    else:
        conn.respond(status, headers, body, keep_alive=parsed.keep_alive)
