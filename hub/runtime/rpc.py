"""Which methods of an object class are RPC, and how their arguments are checked.

Rules:

1. A method is RPC when it is a plain function defined on the application's class (or
   a base of it other than ``DurableObject``), its name does not start with ``_``, and it
   is not a hook: a name the hub itself calls or reads on an object (``HOOKS``: the
   lifecycle methods ``fetch``, ``alarm``, ``websocket_*``, and ``feed_allowed``, the
   class settings ``feeds``, ``feed_retention``, ``presence_from_attachment``). A
   client calling a hook would run, or skip, the hub's own checks. Every name the hub
   looks up on a user's object is in ``HOOKS``.
2. Arguments cross the call as JSON-compatible builtins (``msgspec.to_builtins``), so a
   caller and an object never share a mutable value, exactly as if they talked over the
   wire. The object side validates and converts them against the method's annotations
   with msgspec before the method runs; a mismatch raises ``InvalidArgumentsError`` and
   the method never runs.
3. Results cross back the same way and are converted to the method's return
   annotation on the caller's side.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from hub.errors import ConfigurationError, InvalidArgumentsError, MethodNotFoundError, RemoteError

__all__ = [
    "HOOKS",
    "LIFECYCLE_METHODS",
    "ClassSpec",
    "MethodSpec",
    "describe_class",
    "to_wire",
]

LIFECYCLE_METHODS = frozenset(
    {"fetch", "alarm", "websocket_message", "websocket_auth", "websocket_close", "websocket_error"}
)
#: Every name the hub calls or reads on an object class or instance: never RPC.
HOOKS = LIFECYCLE_METHODS | {"feed_allowed", "feeds", "feed_retention", "presence_from_attachment"}


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One RPC method: its signature and the msgspec types that check it."""

    name: str
    signature: inspect.Signature
    params_type: type[msgspec.Struct]
    return_type: Any
    #: The parameter names when every one is plain (positional or keyword, no ``*args``,
    #: ``**kwargs`` or keyword-only): such a method's calls with positional arguments
    #: only are bound without ``Signature.bind`` (``bind``). None otherwise.
    positional: tuple[str, ...] | None = None

    def bind(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Check builtins ``args`` / ``kwargs`` and convert them to the annotated types."""
        names = self.positional
        if names is not None and not kwargs and len(args) <= len(names):
            # The common call, bound as ``Signature.bind`` would (a missing argument with
            # no default is msgspec's error, worded by ``_slow_bind``) at about half the
            # cost (1.9 against 3.5 us for one string argument): it runs on every call.
            try:
                checked = msgspec.convert(dict(zip(names, args, strict=False)), self.params_type)
            except msgspec.ValidationError:
                return self._slow_bind(args, kwargs)
            return [getattr(checked, name) for name in names], {}
        return self._slow_bind(args, kwargs)

    def _slow_bind(
        self, args: list[Any], kwargs: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidArgumentsError(f"invalid arguments for {self.name}(): {exc}") from None
        try:
            checked = msgspec.convert(bound.arguments, self.params_type)
        except msgspec.ValidationError as exc:
            raise InvalidArgumentsError(f"invalid arguments for {self.name}(): {exc}") from None
        call_args: list[Any] = []
        call_kwargs: dict[str, Any] = {}
        for param in self.signature.parameters.values():
            value = getattr(checked, param.name)
            if param.kind is param.VAR_POSITIONAL:
                call_args.extend(value)
            elif param.kind is param.VAR_KEYWORD:
                call_kwargs.update(value)
            elif param.kind is param.KEYWORD_ONLY:
                call_kwargs[param.name] = value
            else:
                call_args.append(value)
        return call_args, call_kwargs

    def convert_result(self, value: Any) -> Any:
        """The builtins result as the method's annotated return type (caller side)."""
        if self.return_type is Any:
            return value
        try:
            return msgspec.convert(value, self.return_type)
        except msgspec.ValidationError as exc:
            raise RemoteError(
                "TypeError", f"result of {self.name}() does not match its annotation: {exc}"
            ) from None


@dataclass(frozen=True, slots=True)
class ClassSpec:
    """What the runtime knows about one bound object class."""

    binding: str
    cls: type
    methods: dict[str, MethodSpec]
    has_alarm: bool

    def method(self, name: str) -> MethodSpec:
        """The RPC method ``name``, or ``MethodNotFoundError`` saying why not."""
        spec = self.methods.get(name)
        if spec is not None:
            return spec
        label = f"{self.cls.__name__}.{name}"
        if name.startswith("_") or name == "__init__":
            reason = f"{label} is private: names starting with '_' are never RPC"
        elif name in LIFECYCLE_METHODS:
            reason = f"{label} is a lifecycle method, not RPC"
        elif name in HOOKS:
            reason = f"{label} is a hook the hub calls, not RPC"
        else:
            reason = f"{label} is not a public method"
        raise MethodNotFoundError(reason)


def describe_class(binding: str, cls: type, base: type) -> ClassSpec:
    """Build the RPC table of ``cls`` (a subclass of ``base``, the DurableObject class)."""
    methods: dict[str, MethodSpec] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass is base or issubclass(base, klass):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or name in HOOKS:
                continue
            if inspect.isfunction(member):
                methods[name] = _describe_method(cls, name, member)
            else:
                methods.pop(name, None)
    alarm = getattr(cls, "alarm", None)
    return ClassSpec(binding, cls, methods, has_alarm=callable(alarm))


def _describe_method(cls: type, name: str, function: Callable[..., Any]) -> MethodSpec:
    try:
        hints = typing.get_type_hints(function)
    except Exception as exc:
        raise ConfigurationError(
            f"cannot resolve the annotations of {cls.__name__}.{name}: {exc}"
        ) from exc
    full = inspect.signature(function)
    params = list(full.parameters.values())[1:]  # drop self
    signature = full.replace(parameters=params)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for param in params:
        hint = hints.get(param.name, Any)
        if param.kind is param.VAR_POSITIONAL:
            fields.append((param.name, tuple[hint, ...], ()))  # type: ignore[valid-type]
        elif param.kind is param.VAR_KEYWORD:
            fields.append((param.name, dict[str, hint], {}))  # type: ignore[valid-type]
        elif param.default is param.empty:
            fields.append((param.name, hint))
        else:
            fields.append((param.name, hint, param.default))
    try:
        params_type = msgspec.defstruct(f"{cls.__name__}_{name}_params", fields, kw_only=True)
        msgspec.inspect.type_info(params_type)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{cls.__name__}.{name} has argument annotations msgspec cannot check: {exc}"
        ) from exc
    return_type = hints.get("return", Any)
    try:
        msgspec.inspect.type_info(return_type)
    except (TypeError, ValueError):
        return_type = Any  # e.g. an unusual annotation: hand back builtins unchanged
    plain = all(param.kind is param.POSITIONAL_OR_KEYWORD for param in params)
    positional = tuple(param.name for param in params) if plain else None
    return MethodSpec(name, signature, params_type, return_type, positional)


def to_wire(value: Any, what: str) -> Any:
    """Copy ``value`` into JSON-compatible builtins, or raise ``TypeError`` naming ``what``."""
    try:
        return msgspec.to_builtins(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} is not serializable: {exc}") from None
