"""The sizes of a scenario run: what the command line sets, and each scenario's defaults.

Rules:

1. Every scenario shares one ``Params``: connections across rooms, how fast they open
   (``ramp``), who writes and how fast (``writers`` per room, ``window`` in flight,
   ``rate`` per writer), message ``size``, ``duration`` and ``rounds``, client ``procs``.
2. ``duration`` is the traffic time of the whole run, shared equally by Roost and its
   baseline and split into ``rounds`` windows each (Roost and the baseline take turns),
   so a run is bounded by it plus setup. ``idle`` holds its sockets for ``duration``;
   ``wake`` samples for ``duration``.
3. A value not given on the command line comes from the scenario's defaults, then from
   ``SMOKE`` in smoke mode (small sizes that still exercise every path).
4. ``workers`` (0: none) serves the Roost side as a cluster, ``roost serve --workers N
   --gateways M`` (``loadtest.cluster``), for the scenarios in ``CLUSTER_SCENARIOS``;
   ``reload`` always runs one (2 workers by default). ``gateways`` needs ``workers``.
5. ``storage`` (in-process micro-benchmarks, ``loadtest.storage``) and ``sdk`` (the
   Python SDK against a bare client, ``loadtest.sdk``) share ``rounds``, and ``sdk``
   also ``connections`` (its ``--clients``), ``rooms`` (``--objects``) and ``size``; the
   fields only they read are marked with their name. ``db`` (``loadtest.db``) reads
   ``connections`` (``--clients``), ``seconds``, ``rounds``, ``table_rows`` and ``batch``
   (rows an insert call, at most 1000).
6. ``connect`` opens and closes ``rounds`` waves of ``connections`` sockets a side over
   ``rooms`` rooms (``loadtest.connect``). ``idle --attachment N`` has each Room socket
   serialize an attachment of N JSON bytes at accept (``loadtest.servers.Room``).

Adding a scenario: its name in ``SCENARIOS``, its sizes in ``DEFAULTS`` and ``SMOKE``
(new fields here if it needs them), its runner and options in ``loadtest.cli``
(``runners``, ``SCENARIO_OPTIONS``), and a ``Part`` in ``loadtest.suite``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["CLUSTER_SCENARIOS", "DEFAULTS", "SCENARIOS", "SMOKE", "STAMPED", "Params", "resolve"]

#: Every scenario the load generator knows, in the suite's order.
SCENARIOS = (
    "echo",
    "fanout",
    "fanout-scale",
    "chat",
    "rpc",
    "idle",
    "connect",
    "wake",
    "feeds",
    "reload",
    "storage",
    "sdk",
    "backup",
    "db",
)
#: The scenarios whose Roost server may run as a cluster (rule 4).
CLUSTER_SCENARIOS = ("echo", "fanout", "chat", "rpc", "idle", "connect", "reload")


@dataclass(frozen=True, slots=True)
class Params:
    """The sizes of one run (rule 1)."""

    scenario: str
    duration: float = 20.0
    connections: int = 50
    rooms: int = 10
    #: Writers per room; 0: every connection writes (``echo``, ``rpc``).
    writers: int = 0
    #: ``fanout-scale``: receivers of the smaller room, compared with ``connections``.
    compare: int = 0
    #: Connections opened per second (all client processes together); 0: no ramp.
    ramp: float = 0.0
    #: Messages a second per writer; 0: as fast as the window allows.
    rate: float = 0.0
    size: int = 64
    window: int = 1
    rounds: int = 2
    procs: int = 1
    #: Local addresses 127.0.0.1 .. 127.0.0.N to connect from (ephemeral ports).
    sources: int = 1
    #: Connect errors a client process accepts before it stops opening sockets.
    give_up: int = 0
    #: ``idle``: JSON bytes of the attachment each Room socket gets at accept (0: none).
    attachment: int = 0
    #: ``feeds``: changes each writer makes; ``resume``: changes missed before resuming.
    missed: int = 100
    #: Worker processes of a cluster (rule 4); 0: Roost in one process, no cluster.
    workers: int = 0
    #: Gateway processes of a cluster; 0: one (``roost serve``'s default).
    gateways: int = 0
    #: ``reload``: seconds from one reload's start to the next.
    reload_every: float = 3.0
    #: ``storage``: point queries a round, over a table of ``table_rows`` rows.
    points: int = 20_000
    table_rows: int = 10_000
    #: ``storage``: inserts a round.
    inserts: int = 5_000
    #: ``storage``: wake / live samples recorded, after ``wake_warmup`` unrecorded ones.
    wake_samples: int = 300
    wake_warmup: int = 20
    #: ``sdk``: seconds of one window (each kind of client, each of its three loads).
    seconds: float = 1.5
    #: ``sdk``: exactly-once messages per connection per batch.
    batch: int = 100
    smoke: bool = False

    @property
    def cluster(self) -> bool:
        """True when the Roost side runs as a cluster (rule 4)."""
        return self.workers > 0

    @property
    def gateway_count(self) -> int:
        """The cluster's gateway processes (1 unless given)."""
        return max(1, self.gateways)

    @property
    def window_seconds(self) -> float:
        """Seconds of one window (rule 2)."""
        return self.duration / (2 * self.rounds)

    @property
    def warmup_seconds(self) -> float:
        """Seconds at the start of each window left out of the figures."""
        return min(1.0, 0.2 * self.window_seconds)

    def source_addresses(self) -> list[str]:
        """The local addresses to connect from; empty: the kernel's choice."""
        if self.sources <= 1:
            return []
        return [f"127.0.0.{k}" for k in range(1, self.sources + 1)]

    def run_options(self, **more: Any) -> dict[str, Any]:
        """What a client process needs to run one window (``client_process`` ``do_run``)."""
        return {
            "seconds": self.window_seconds,
            "warmup": self.warmup_seconds,
            "size": self.size,
            "window": self.window,
            "rate": self.rate,
            **more,
        }

    def to_json(self) -> dict[str, Any]:
        """Every field."""
        return asdict(self)


#: Each scenario's full sizes (rule 3).
DEFAULTS: dict[str, dict[str, Any]] = {
    "echo": {"connections": 50, "rooms": 10, "window": 1},
    "fanout": {"connections": 1000, "rooms": 1, "writers": 1, "window": 32},
    "fanout-scale": {
        "connections": 10_000,
        "compare": 1000,
        "rooms": 1,
        "writers": 1,
        "window": 32,
        "procs": 2,
        "sources": 2,
    },
    "chat": {"connections": 1000, "rooms": 100, "writers": 2, "window": 4},
    "rpc": {"connections": 50, "rooms": 10, "window": 1},
    "idle": {"connections": 10_000, "rooms": 1, "procs": 2, "duration": 10.0, "rounds": 1},
    "connect": {"connections": 500, "rooms": 10, "rounds": 4},
    "wake": {"connections": 20, "rooms": 20, "rounds": 1},
    "feeds": {"connections": 1000, "rooms": 1, "writers": 1, "window": 8, "missed": 100},
    "reload": {
        "connections": 300,
        "rooms": 30,
        "writers": 2,
        "rate": 20.0,
        "window": 64,
        "rounds": 1,
        "duration": 30.0,
        "workers": 2,
    },
    "storage": {"rounds": 15},
    "sdk": {"connections": 10, "rooms": 10, "rounds": 5},
    "backup": {"rounds": 15, "inserts": 500},
    "db": {"connections": 32, "rooms": 1, "rounds": 5, "seconds": 2.0, "table_rows": 10_000},
}

#: Smoke sizes (rule 3): seconds, not minutes, and zero errors expected.
SMOKE: dict[str, dict[str, Any]] = {
    "echo": {"connections": 20, "rooms": 4, "rounds": 1},
    "fanout": {"connections": 200, "rounds": 1},
    "fanout-scale": {"connections": 400, "compare": 100, "procs": 1, "sources": 1, "rounds": 1},
    "chat": {"connections": 200, "rooms": 20, "rounds": 1},
    "rpc": {"connections": 20, "rooms": 4, "rounds": 1},
    "idle": {"connections": 1000, "procs": 1},
    "connect": {"connections": 200, "rooms": 4, "rounds": 1},
    "wake": {"connections": 5, "rooms": 5},
    "feeds": {"connections": 100, "missed": 20, "rounds": 1},
    "reload": {"connections": 60, "rooms": 6, "reload_every": 2.5},
    "storage": {
        "rounds": 2,
        "points": 1000,
        "table_rows": 500,
        "inserts": 500,
        "wake_samples": 20,
        "wake_warmup": 2,
    },
    "sdk": {"seconds": 0.6, "rounds": 1},
    "backup": {"rounds": 1, "inserts": 50},
    "db": {"connections": 4, "rounds": 1, "seconds": 0.3, "table_rows": 300, "batch": 20},
}

#: ``attachment`` sizes ``loadtest.servers.attachment_value`` can build (rule 6); the
#: most is the hub's default attachment limit.
MIN_ATTACHMENT = 16
MAX_ATTACHMENT = 16 * 1024

#: The scenarios whose payloads carry the send time (``frames.stamped``).
STAMPED = ("echo", "fanout", "fanout-scale", "chat", "rpc", "idle", "wake", "feeds", "reload")


def resolve(scenario: str, given: dict[str, Any], *, smoke: bool = False) -> Params:
    """The run's ``Params``: ``given`` over the smoke sizes over the defaults (rule 3)."""
    if scenario not in DEFAULTS:
        raise ValueError(f"unknown scenario {scenario!r}, expected one of {SCENARIOS}")
    names = {f.name for f in fields(Params)}
    unknown = set(given) - names
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)!r}")
    values: dict[str, Any] = dict(DEFAULTS[scenario])
    if smoke:
        values.update(SMOKE[scenario])
        values["duration"] = 10.0
    values.update({k: v for k, v in given.items() if v is not None})
    params = replace(Params(scenario), **values, smoke=smoke)
    _check(params)
    return params


def _check(params: Params) -> None:
    """Refuse sizes that cannot run."""
    if params.connections < 1 or params.rooms < 1 or params.procs < 1 or params.rounds < 1:
        raise ValueError("connections, rooms, procs and rounds must be at least 1")
    if params.scenario == "sdk":
        _check_sdk(params)
    elif params.scenario == "db" and params.batch > 1000:
        raise ValueError(
            f"batch must be at most 1000 (the insert verb's limit), got {params.batch}"
        )
    elif params.rooms > params.connections and params.scenario not in ("idle", "feeds"):
        raise ValueError(
            f"rooms must be at most connections ({params.connections}), got {params.rooms}"
        )
    if params.scenario == "fanout-scale" and not 1 <= params.compare < params.connections:
        raise ValueError(
            f"compare must be from 1 to connections - 1 ({params.connections - 1}), "
            f"got {params.compare}"
        )
    if params.size < 32 and params.scenario in STAMPED:
        raise ValueError(f"size must be at least 32 bytes (the send time), got {params.size}")
    if params.duration <= 0:
        raise ValueError(f"duration must be above 0, got {params.duration:g}")
    if min(params.points, params.table_rows, params.inserts, params.wake_samples, params.batch) < 1:
        raise ValueError("points, table_rows, inserts, wake_samples and batch must be at least 1")
    if params.attachment and not MIN_ATTACHMENT <= params.attachment <= MAX_ATTACHMENT:
        raise ValueError(
            f"attachment must be 0 or from {MIN_ATTACHMENT} to {MAX_ATTACHMENT} bytes,"
            f" got {params.attachment}"
        )
    if params.wake_warmup < 0:
        raise ValueError(f"wake_warmup must be at least 0, got {params.wake_warmup}")
    if not 0 < params.seconds <= 20:
        raise ValueError(f"seconds must be in (0, 20], got {params.seconds:g}")
    if not 1 <= params.sources <= 250:
        raise ValueError(f"sources must be from 1 to 250, got {params.sources}")
    if params.workers < 0 or params.gateways < 0:
        raise ValueError("workers and gateways must be at least 0")
    if params.gateways and not params.workers:
        raise ValueError("gateways needs workers (a cluster)")
    if params.workers and params.scenario not in CLUSTER_SCENARIOS:
        raise ValueError(
            f"{params.scenario} cannot run against a cluster, expected one of {CLUSTER_SCENARIOS}"
        )
    if params.scenario == "reload":
        if not params.workers:
            raise ValueError("reload needs a cluster: workers must be at least 1")
        if params.size < 40:
            raise ValueError(f"reload: size must be at least 40 bytes, got {params.size}")
        if params.reload_every <= 0:
            raise ValueError(f"reload_every must be above 0, got {params.reload_every:g}")


def _check_sdk(params: Params) -> None:
    """The SDK benchmark's own limits (in its option names)."""
    if params.rooms > params.connections:
        raise ValueError(
            f"objects must be at most clients ({params.connections}), got {params.rooms}"
        )
    if params.batch > 1000:
        raise ValueError(f"batch must be at most 1000 (the SDK's max_buffered), got {params.batch}")
