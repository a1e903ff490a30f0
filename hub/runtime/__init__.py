"""The object runtime: activations, input and output gates, eviction, alarms, RPC.

``host`` owns the live objects; ``activation`` is one live object and its task
(``gates``: its transactions and output gate; ``opening``: its file and instance;
``kinds``: how each kind of event runs); ``events`` is the seam producers submit
through; ``scheduler`` fires alarms; ``rpc`` describes and checks methods; ``stub`` is
how code reaches an object; ``context`` is the object's ``ctx``.
"""

from hub.runtime.context import DurableObjectState
from hub.runtime.host import HubStats, LifecycleEvent, ObjectHost, ObjectStats
from hub.runtime.stub import DurableObjectNamespace, DurableObjectStub, Env, RpcPromise

__all__ = [
    "DurableObjectNamespace",
    "DurableObjectState",
    "DurableObjectStub",
    "Env",
    "HubStats",
    "LifecycleEvent",
    "ObjectHost",
    "ObjectStats",
    "RpcPromise",
]
