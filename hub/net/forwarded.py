"""The client address of a request: the peer, or ``X-Forwarded-For`` behind trusted proxies.

Rules:

1. The peer (the TCP connection's other end) is the client unless it is a trusted
   proxy (``--trusted-proxies``, a list of addresses or CIDR networks).
2. When it is, the client is the rightmost ``X-Forwarded-For`` hop that is not itself a
   trusted proxy (every hop left of it could have been written by the client); if all
   hops are trusted, the leftmost. Several ``X-Forwarded-For`` headers read as one list,
   in order. A hop's port is not known: ``port`` is None.
3. A header that cannot be trusted to mean anything (a hop that is not an IP address,
   more than ``MAX_HOPS`` hops to look at, an empty list) is ignored: the client is the
   peer. Nothing here raises on a peer's input.

Pure: no asyncio, no sockets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from hub.errors import ConfigurationError
from hub.http import Client

__all__ = ["MAX_HOPS", "Network", "client_address", "parse_trusted"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Hops read from the right at most; a longer chain of trusted proxies is not believed.
MAX_HOPS = 32


def parse_trusted(specs: str | Iterable[str]) -> tuple[Network, ...]:
    """Networks from ``"10.0.0.0/8, 127.0.0.1"`` or a list of such strings;
    ``ConfigurationError`` naming the first one that is not an address or network."""
    items = specs.split(",") if isinstance(specs, str) else specs
    networks: list[Network] = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"trusted proxy must be an IP address or CIDR network, got {text!r}"
            ) from None
    return tuple(networks)


def client_address(
    peer: Client | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> Client | None:
    """The client of a request from ``peer`` carrying ``forwarded_for`` header values."""
    if peer is None or not trusted or not forwarded_for or not _is_trusted(peer.host, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    if len(hops) > MAX_HOPS * 4:  # far too long to be honest: not even split further
        return peer
    last: str | None = None
    for hop in reversed(hops[-MAX_HOPS:]):
        address = _address(hop)
        if address is None:
            return peer
        last = address
        if not _is_trusted(address, trusted):
            return Client(address, None)
    if len(hops) > MAX_HOPS or last is None:
        return peer
    return Client(last, None)


def _is_trusted(host: str, trusted: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)


def _address(hop: str) -> str | None:
    """The IP address of one hop (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``)."""
    if len(hop) > 64:
        return None
    text = hop
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
