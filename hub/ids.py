"""Object ids: how a binding and a name become the 64 hex digits that address an object.

Rules:

1. An id is 32 bytes shown as 64 lowercase hex digits: 24 bytes of body and an 8-byte
   tag. The tag is a hash of (binding, body), so ``id_from_string`` can tell a typo or
   an id of another binding from a real one. The tag is a checksum, not a secret.
2. A name's body is a hash of (binding, name): the same name gives the same id in every
   process and after every restart. A unique id's body is 24 random bytes.
3. Names are data, never paths: files are named by the hex id only.

Pure: no I/O, no asyncio.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets

from hub.errors import InvalidIdError

__all__ = ["MAX_NAME_BYTES", "ObjectId", "id_from_name", "new_unique_id", "parse_id"]

#: The longest name, in UTF-8 bytes, that ``id_from_name`` accepts.
MAX_NAME_BYTES = 2048

_BODY_BYTES = 24
_TAG_BYTES = 8
_HEX_RE = re.compile(r"[0-9a-f]{64}")


class ObjectId:
    """The address of one object of one binding.

    ``str(object_id)`` and ``object_id.hex`` give the 64 hex digits; ``name`` is the name
    it was derived from when known (``None`` for unique ids and for ids parsed from a
    string outside the object; inside the object, ``ctx.id.name`` is always filled in
    when the object was ever addressed by name).
    """

    __slots__ = ("_binding", "_hex", "_name")

    def __init__(self, binding: str, hex_id: str, name: str | None = None) -> None:
        self._binding = binding
        self._hex = hex_id
        self._name = name

    @property
    def binding(self) -> str:
        """The binding (object class) this id belongs to."""
        return self._binding

    @property
    def hex(self) -> str:
        """The 64 lowercase hex digits."""
        return self._hex

    @property
    def name(self) -> str | None:
        """The name this id was derived from, when known."""
        return self._name

    def with_name(self, name: str | None) -> ObjectId:
        """The same id carrying ``name`` (used when the object recalls its own name)."""
        return ObjectId(self._binding, self._hex, name)

    def equals(self, other: ObjectId) -> bool:
        """True when both address the same object (the anchor's ``id.equals``)."""
        return self == other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectId):
            return NotImplemented
        return self._hex == other._hex and self._binding == other._binding

    def __hash__(self) -> int:
        return hash(self._hex)

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        label = f" name={self._name!r}" if self._name is not None else ""
        return f"<ObjectId {self._binding} {self._hex[:12]}…{label}>"


def _tag(binding: str, body: bytes) -> bytes:
    return hashlib.sha256(b"roost-id-tag\0" + binding.encode() + b"\0" + body).digest()[:_TAG_BYTES]


def _make(binding: str, body: bytes, name: str | None) -> ObjectId:
    return ObjectId(binding, (body + _tag(binding, body)).hex(), name)


def id_from_name(binding: str, name: str) -> ObjectId:
    """The deterministic id of ``name`` in ``binding`` (any string; at most 2 KiB UTF-8)."""
    if not isinstance(name, str):
        raise InvalidIdError(f"object name must be a str, got {type(name).__name__}")
    if len(name) <= _CACHED_NAME_CHARS:
        return _cached_id(binding, name)
    return _id_of(binding, name)


#: Names up to this long have their ids cached (two SHA-256 per request otherwise, on
#: every upgrade and RPC over HTTP); ``_CACHED_IDS`` of them at most.
_CACHED_NAME_CHARS = 200
_CACHED_IDS = 4096


def _id_of(binding: str, name: str) -> ObjectId:
    """``id_from_name`` for a str ``name``, computed."""
    # surrogatepass: "any string" includes lone surrogates, which plain UTF-8 rejects.
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_NAME_BYTES:
        raise InvalidIdError(
            f"object name too long: {len(encoded)} bytes, expected at most {MAX_NAME_BYTES}"
        )
    body = hashlib.sha256(b"roost-name\0" + binding.encode() + b"\0" + encoded).digest()
    return _make(binding, body[:_BODY_BYTES], name)


#: ``ObjectId`` is immutable, so one instance can serve every request for a name.
_cached_id = functools.lru_cache(maxsize=_CACHED_IDS)(_id_of)


def new_unique_id(binding: str) -> ObjectId:
    """A fresh random id in ``binding``; it has no name."""
    return _make(binding, secrets.token_bytes(_BODY_BYTES), None)


def parse_id(binding: str, text: str) -> ObjectId:
    """Parse 64 hex digits into an id of ``binding``, or raise ``InvalidIdError``."""
    if not isinstance(text, str):
        raise InvalidIdError(f"object id must be a str, got {type(text).__name__}")
    if not _HEX_RE.fullmatch(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidIdError(
            f"malformed object id: expected 64 lowercase hex digits, got {shown!r}"
        )
    raw = bytes.fromhex(text)
    body, tag = raw[:_BODY_BYTES], raw[_BODY_BYTES:]
    if not secrets.compare_digest(tag, _tag(binding, body)):
        raise InvalidIdError(f"object id {text[:12]}… does not belong to binding {binding!r}")
    return ObjectId(binding, text, None)
