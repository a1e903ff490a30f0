"""The client address behind trusted proxies (hub/net/forwarded.py): pure rules, no I/O."""

from __future__ import annotations

import pytest

from hub.errors import ConfigurationError
from hub.http import Client
from hub.net.forwarded import MAX_HOPS, client_address, parse_trusted

PROXY = Client("10.0.0.5", 41000)
TRUSTED = parse_trusted("10.0.0.0/8, 127.0.0.1")


def test_trusted_networks_parse_from_a_comma_list_or_a_sequence() -> None:
    assert parse_trusted("10.0.0.0/8, ::1,") == parse_trusted(["10.0.0.0/8", "::1"])
    assert [str(n) for n in parse_trusted("192.168.1.7")] == ["192.168.1.7/32"]
    assert parse_trusted("") == ()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "proxy.local", "1.2.3", "10.0.0.0/8;x"])
def test_a_trusted_proxy_that_is_not_an_address_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="trusted proxy must be an IP address"):
        parse_trusted(bad)


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    peer = Client("203.0.113.9", 5000)
    assert client_address(peer, ["198.51.100.1"], TRUSTED) == peer
    assert client_address(PROXY, ["198.51.100.1"], ()) == PROXY


def test_behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() -> None:
    # The client wrote "1.1.1.1" itself; the proxy appended the address it saw.
    got = client_address(PROXY, ["1.1.1.1, 198.51.100.7"], TRUSTED)
    assert got == Client("198.51.100.7", None)


def test_trusted_hops_are_skipped_and_several_headers_read_as_one_list() -> None:
    got = client_address(PROXY, ["198.51.100.7", "10.1.2.3, 10.9.9.9"], TRUSTED)
    assert got == Client("198.51.100.7", None)


def test_all_hops_trusted_gives_the_leftmost() -> None:
    assert client_address(PROXY, ["10.1.1.1, 10.2.2.2"], TRUSTED) == Client("10.1.1.1", None)


@pytest.mark.parametrize(
    ("hop", "address"),
    [
        ("198.51.100.7:8080", "198.51.100.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("  198.51.100.7  ", "198.51.100.7"),
    ],
)
def test_hops_with_ports_and_ipv6_are_read(hop: str, address: str) -> None:
    assert client_address(PROXY, [hop], TRUSTED) == Client(address, None)


@pytest.mark.parametrize(
    "hostile",
    [
        "not-an-ip",
        "",
        ",,,",
        "198.51.100.7, <script>",
        "[::1",
        "x" * 10_000,
        "\x00\xff",
        ", ".join(["10.0.0.1"] * (MAX_HOPS + 1)),
        ", ".join(["198.51.100.7"] * 100_000),
    ],
)
def test_a_hostile_header_falls_back_to_the_peer(hostile: str) -> None:
    assert client_address(PROXY, [hostile], TRUSTED) == PROXY


def test_an_ipv4_mapped_peer_matches_an_ipv4_network() -> None:
    peer = Client("::ffff:10.0.0.5", 1)
    assert client_address(peer, ["198.51.100.7"], TRUSTED) == Client("198.51.100.7", None)


def test_no_peer_and_no_header_give_what_is_known() -> None:
    assert client_address(None, ["198.51.100.7"], TRUSTED) is None
    assert client_address(PROXY, [], TRUSTED) == PROXY
