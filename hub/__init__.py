"""Roost: a self-hosted real-time hub on the Durable Objects model.

An application is a ``Hub`` of ``DurableObject`` classes; each object, addressed by a
name, lives at most once at a time, keeps its state in its own SQLite file, and is
evicted when idle::

    class Counter(hub.DurableObject):
        async def increment(self, by: int = 1) -> int:
            value = (await self.ctx.storage.get("value") or 0) + by
            await self.ctx.storage.put("value", value)
            return value

    async with hub.Hub(objects={"COUNTER": Counter}) as app:
        await app.env.COUNTER.get_by_name("visits").increment()

Layers: ``hub.net`` (the network front: HTTP, WebSockets, ``roost.v1``, feed
subscriptions and presence) over ``hub.runtime`` (objects, gates, eviction, alarms,
RPC, change publishing) over ``hub.storage`` (one SQLite file per object, change log,
``hub.db``) and the pure parts (``ids``, ``alarms``, ``hibernation``, ``limits``,
``clock``). Errors are in ``hub.errors``.
"""

from importlib.metadata import PackageNotFoundError, version

from hub.alarms import AlarmInfo, RetryPolicy
from hub.app import Hub
from hub.backup.service import BackupSettings
from hub.clock import Clock, FakeClock, SystemClock
from hub.databases.migrations import migrate
from hub.databases.settings import DatabaseSettings
from hub.errors import (
    ActivationError,
    BadSubscriptionError,
    CallCycleError,
    ConfigurationError,
    FeedError,
    FetchNotImplementedError,
    ForbiddenError,
    HubError,
    HubStoppingError,
    InternalError,
    InvalidArgumentsError,
    InvalidIdError,
    LimitExceededError,
    MethodNotFoundError,
    MigrationError,
    NoSuchFeedError,
    NotSerializableError,
    ObjectAbortedError,
    OverloadedError,
    RemoteError,
    RpcError,
    SqlError,
    StorageError,
    TooManySubscriptionsError,
    UnauthorizedError,
    UnknownBindingError,
    WebSocketError,
)
from hub.http import Client, Headers, Request, Response
from hub.ids import ObjectId
from hub.limits import Limits
from hub.object import DurableObject
from hub.runtime import (
    DurableObjectNamespace,
    DurableObjectState,
    DurableObjectStub,
    Env,
    HubStats,
    LifecycleEvent,
    ObjectStats,
)
from hub.runtime.context import Presence
from hub.runtime.websocket import WebSocket
from hub.storage import SqlCursor, Storage, Transaction
from hub.storage.feeds import Change, FeedRetention
from hub.storage.statements import PreparedStatement, Result, ResultMeta

try:
    __version__ = version("roost")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ActivationError",
    "AlarmInfo",
    "BackupSettings",
    "BadSubscriptionError",
    "CallCycleError",
    "Change",
    "Client",
    "Clock",
    "ConfigurationError",
    "DatabaseSettings",
    "DurableObject",
    "DurableObjectNamespace",
    "DurableObjectState",
    "DurableObjectStub",
    "Env",
    "FakeClock",
    "FeedError",
    "FeedRetention",
    "FetchNotImplementedError",
    "ForbiddenError",
    "Headers",
    "Hub",
    "HubError",
    "HubStats",
    "HubStoppingError",
    "InternalError",
    "InvalidArgumentsError",
    "InvalidIdError",
    "LifecycleEvent",
    "LimitExceededError",
    "Limits",
    "MethodNotFoundError",
    "MigrationError",
    "NoSuchFeedError",
    "NotSerializableError",
    "ObjectAbortedError",
    "ObjectId",
    "ObjectStats",
    "OverloadedError",
    "PreparedStatement",
    "Presence",
    "RemoteError",
    "Request",
    "Response",
    "Result",
    "ResultMeta",
    "RetryPolicy",
    "RpcError",
    "SqlCursor",
    "SqlError",
    "Storage",
    "StorageError",
    "SystemClock",
    "TooManySubscriptionsError",
    "Transaction",
    "UnauthorizedError",
    "UnknownBindingError",
    "WebSocket",
    "WebSocketError",
    "__version__",
    "migrate",
]
