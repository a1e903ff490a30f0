"""A copy of the local histories in an S3-compatible bucket, and back.

The local history folder of every object (``hub.backup.history``) is mirrored under
``{prefix}/{object hex}/``: ``object.json`` (who the object is), and per generation
``{generation}/base.sqlite`` and ``base.time`` once, and
the log as parts ``log/{offset:016x}``, each the bytes appended since the part before
(S3 objects cannot grow). Concatenated in offset order the parts are the log again.

Rules:

1. ``Mirror.push`` uploads, for one history, what the bucket does not have yet: a base
   before any log part of its generation, log parts only of whole records (a part ends
   where a record ends), in order. What was pushed is remembered; a new process learns
   it from one listing of the history's keys.
2. ``Mirror.pull`` writes a history folder from the bucket, parts concatenated; a
   missing part ends its generation's log there (the history reads what is whole).
3. Only ``S3Store`` talks to the network (boto3, an optional dependency: ``pip install
   'roost[s3]'``); everything else takes any ``Store``, so tests and other stores plug in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.backup.history import History
from hub.errors import ConfigurationError

__all__ = ["Mirror", "S3Store", "Store"]


class Store(Protocol):
    """Keys to bytes, with listing by prefix (an S3 bucket under a prefix)."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``."""

    def get(self, key: str) -> bytes:
        """The bytes under ``key`` (``KeyError`` if none)."""

    def sizes(self, prefix: str) -> dict[str, int]:
        """Every key under ``prefix`` with its size."""

    def delete(self, keys: list[str]) -> None:
        """Remove ``keys`` (missing ones are ignored)."""


class S3Store:
    """A ``Store`` in an S3-compatible bucket (AWS, MinIO, R2, moto's server ...)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        try:
            import boto3  # type: ignore[import-untyped]  # optional: only with an S3 replica
        except ImportError:
            raise ConfigurationError("an S3 replica needs boto3: pip install 'roost[s3]'") from None
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or os.environ.get("ROOST_S3_ENDPOINT"),
            region_name=region or os.environ.get("AWS_REGION", "us-east-1"),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self._client.exceptions.NoSuchKey:
            raise KeyError(key) from None
        body: bytes = answer["Body"].read()
        return body

    def sizes(self, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        cut = len(self._key(""))
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        for page in pages:
            for item in page.get("Contents", []):
                found[item["Key"][cut:]] = int(item["Size"])
        return found

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": self._key(key)} for key in keys[start : start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk})


@dataclass(slots=True)
class _Pushed:
    """What the bucket holds of one history: bases, and each log's pushed length."""

    bases: set[int] = field(default_factory=set)
    logs: dict[int, int] = field(default_factory=dict)
    #: The history's ``object.json`` (who the object is) is in the bucket.
    facts: bool = False


class Mirror:
    """Pushes local histories to a ``Store`` and pulls them back (rules 1-2)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pushed: dict[str, _Pushed] = {}

    def push(self, name: str, history: History) -> int:
        """Upload what the bucket lacks of ``history`` (stored as ``name``); bytes sent."""
        pushed = self._pushed.get(name)
        if pushed is None:
            pushed = self._pushed[name] = self._learn(name)
        sent = 0
        facts = history.folder / "object.json"
        if not pushed.facts and facts.exists():
            self.store.put(f"{name}/object.json", facts.read_bytes())
            pushed.facts = True
        for generation in history.generations():
            folder = f"{name}/{generation:08x}"
            if generation not in pushed.bases:
                base = (history.folder / f"{generation:08x}" / "base.sqlite").read_bytes()
                self.store.put(f"{folder}/base.sqlite", base)
                stamp = str(history.base_bookmark(generation).time_ms).encode()
                self.store.put(f"{folder}/base.time", stamp)
                pushed.bases.add(generation)
                sent += len(base)
            end = max((r.end for r in history.records(generation)), default=0)
            start = pushed.logs.get(generation, 0)
            if end > start:
                with open(history.folder / f"{generation:08x}" / "log", "rb") as log:
                    log.seek(start)
                    part = log.read(end - start)
                self.store.put(f"{folder}/log/{start:016x}", part)
                pushed.logs[generation] = end
                sent += len(part)
        return sent

    def pull(self, name: str, history: History) -> None:
        """Write the history stored as ``name`` into ``history``'s folder (rule 2)."""
        keys = self.store.sizes(f"{name}/")
        if f"{name}/object.json" in keys:
            history.folder.mkdir(parents=True, exist_ok=True)
            (history.folder / "object.json").write_bytes(self.store.get(f"{name}/object.json"))
        generations = sorted({key.split("/")[1] for key in keys if key.count("/") >= 2})
        for generation in generations:
            folder = history.folder / generation
            folder.mkdir(parents=True, exist_ok=True)
            prefix = f"{name}/{generation}"
            (folder / "base.sqlite").write_bytes(self.store.get(f"{prefix}/base.sqlite"))
            (folder / "base.time").write_bytes(self.store.get(f"{prefix}/base.time"))
            parts = sorted(
                (int(key.rsplit("/", 1)[1], 16), key, size)
                for key, size in keys.items()
                if key.startswith(f"{prefix}/log/")
            )
            with open(folder / "log", "wb") as log:
                expected = 0
                for offset, key, size in parts:
                    if offset != expected:
                        break  # a part is missing: the log ends here
                    log.write(self.store.get(key))
                    expected = offset + size

    def names(self) -> list[str]:
        """The histories the bucket holds (object hex ids)."""
        return sorted({key.split("/", 1)[0] for key in self.store.sizes("")})

    def _learn(self, name: str) -> _Pushed:
        pushed = _Pushed()
        for key, size in self.store.sizes(f"{name}/").items():
            parts = key.split("/")
            if parts[1:] == ["object.json"]:
                pushed.facts = True
            if len(parts) < 3:
                continue
            generation = int(parts[1], 16)
            if parts[2] == "base.time":
                pushed.bases.add(generation)
            elif parts[2] == "log" and len(parts) == 4:
                end = int(parts[3], 16) + size
                pushed.logs[generation] = max(pushed.logs.get(generation, 0), end)
        return pushed
