"""Namespaces, stubs and ``env``: how code reaches an object.

``env.COUNTER`` is a ``DurableObjectNamespace``; ``env.COUNTER.get_by_name("x")`` a
``DurableObjectStub``; ``await stub.increment(2)`` an RPC call; ``await
stub.fetch(request)`` an HTTP request to the object's ``fetch``. A call is queued the
moment the method is called, not when it is awaited, so calls made one after another on
a stub arrive in that order even when awaited together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from hub.errors import InvalidIdError, LimitExceededError
from hub.http import Headers, Request, Response
from hub.ids import ObjectId, id_from_name, new_unique_id, parse_id

if TYPE_CHECKING:
    from hub.runtime.host import ObjectHost
    from hub.runtime.rpc import MethodSpec

__all__ = ["DurableObjectNamespace", "DurableObjectStub", "Env", "RpcPromise"]


class RpcPromise:
    """The pending result of an RPC call; await it for the value or the ``RpcError``.

    The call is already queued; an un-awaited promise still runs the method.
    """

    __slots__ = ("_future", "_method")

    def __init__(self, future: asyncio.Future[Any], method: MethodSpec) -> None:
        self._future = future
        self._method = method

    def __await__(self) -> Generator[Any, None, Any]:
        value = yield from self._future.__await__()
        return self._method.convert_result(value)


class DurableObjectStub:
    """A client for one object: every public method of the object is a coroutine here."""

    __slots__ = ("_host", "id")

    def __init__(self, host: ObjectHost, object_id: ObjectId) -> None:
        self._host = host
        self.id = object_id

    @property
    def name(self) -> str | None:
        """The name the stub was made from, if any."""
        return self.id.name

    def fetch(
        self,
        request: Request | str,
        *,
        method: str = "GET",
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | str = b"",
    ) -> asyncio.Future[Response]:
        """Send an HTTP request to the object's ``fetch`` (the anchor's ``stub.fetch``).

        ``request`` is a ``hub.Request`` (a request this object received can be passed
        on as it is) or a URL, absolute (``http://...``) or a path (``/x``, made
        ``http://localhost/x``), with ``method``, ``headers`` and ``body``. Await the
        result for the object's ``Response``; when the object fails the request
        (``fetch`` raised, or it has none) the ``RpcError`` is raised here, like an RPC
        call's. The request is queued at once, in order with the stub's calls. It works
        across the workers of ``roost serve --workers``. A WebSocket upgrade cannot be
        passed on (the front owns sockets): accept it in the object that received it.
        """
        if isinstance(request, str):
            request = _request(request, method, headers, body)
        elif not isinstance(request, Request):
            raise TypeError(f"fetch takes a hub.Request or a URL, got {type(request).__name__}")
        if request.is_websocket:
            raise ValueError("stub.fetch cannot pass on a WebSocket upgrade request")
        limit = self._host.limits.message_bytes
        if len(request.raw_body) > limit:
            raise LimitExceededError(
                f"request body too large: {len(request.raw_body)} bytes, expected at most {limit}"
            )
        return self._host.fetch(self.id, request)

    def __getattr__(self, method: str) -> Callable[..., RpcPromise]:
        if method.startswith("__"):
            raise AttributeError(method)
        # Raises MethodNotFoundError (an AttributeError) for private and unknown names.
        self._host.spec(self.id.binding).method(method)
        return partial(self._host.call, self.id, method)

    def __repr__(self) -> str:
        return f"<DurableObjectStub {self.id!r}>"


def _request(
    url: str,
    method: str,
    headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes | str,
) -> Request:
    if url.startswith("/"):
        url = "http://localhost" + url
    elif not url.startswith(("http://", "https://")):
        raise ValueError(f"fetch needs an http(s) URL or a path starting with '/', got {url!r}")
    if not isinstance(method, str) or not method.isalpha():
        raise ValueError(f"method must be an HTTP method like 'GET', got {method!r}")
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return Request(method, url, headers, data)


class DurableObjectNamespace:
    """The objects of one binding (the anchor's ``DurableObjectNamespace``)."""

    __slots__ = ("_host", "binding")

    def __init__(self, host: ObjectHost, binding: str) -> None:
        self._host = host
        self.binding = binding

    def id_from_name(self, name: str) -> ObjectId:
        """The id of ``name``: the same in every process, before and after restarts."""
        return id_from_name(self.binding, name)

    def new_unique_id(self) -> ObjectId:
        """A fresh random id."""
        return new_unique_id(self.binding)

    def id_from_string(self, hex_id: str) -> ObjectId:
        """Parse ``str(id)`` back; ``InvalidIdError`` for malformed or foreign ids."""
        return parse_id(self.binding, hex_id)

    def get(self, object_id: ObjectId) -> DurableObjectStub:
        """A stub for ``object_id`` (which must belong to this binding)."""
        if not isinstance(object_id, ObjectId):
            raise InvalidIdError(f"expected an ObjectId, got {type(object_id).__name__}")
        if object_id.binding != self.binding:
            raise InvalidIdError(
                f"id of binding {object_id.binding!r} used with binding {self.binding!r}"
            )
        return DurableObjectStub(self._host, object_id)

    def get_by_name(self, name: str) -> DurableObjectStub:
        """A stub for the object named ``name``."""
        return DurableObjectStub(self._host, self.id_from_name(name))

    def __repr__(self) -> str:
        return f"<DurableObjectNamespace {self.binding}>"


class Env:
    """What objects get as ``env``: a namespace per binding plus the application's vars."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            known = ", ".join(sorted(self._values)) or "none"
            raise AttributeError(f"env has no {name!r} (bindings and vars: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __dir__(self) -> list[str]:
        return sorted(self._values)
