"""The caller's address: `X-Forwarded-For` believed only from configured proxies, read right to
left (a client can write anything to the left of what its first proxy appended)."""

from __future__ import annotations

from ipaddress import ip_network

from voltcore.clientaddr import client_ip

PROXIES = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


def test_a_direct_client_cannot_name_its_own_address() -> None:
    assert client_ip("203.0.113.9", ["198.51.100.1"], PROXIES) == "203.0.113.9"
    assert client_ip("203.0.113.9", ["198.51.100.1"], []) == "203.0.113.9"


def test_the_right_most_untrusted_hop_is_the_client() -> None:
    assert client_ip("10.0.0.5", ["203.0.113.9"], PROXIES) == "203.0.113.9"
    # Two proxies deep, and a forged hop written by the client itself on the left.
    assert client_ip("10.0.0.5", ["6.6.6.6, 203.0.113.9, 10.1.2.3"], PROXIES) == "203.0.113.9"
    # Several header lines count as one list, in order.
    assert client_ip("10.0.0.5", ["6.6.6.6", "203.0.113.9"], PROXIES) == "203.0.113.9"
    assert client_ip("fd00::1", ["2001:db8::7"], PROXIES) == "2001:db8::7"


def test_garbage_or_an_all_proxy_chain_stops_at_the_last_trusted_hop() -> None:
    assert client_ip("10.0.0.5", ["not-an-ip, 10.0.0.9"], PROXIES) == "10.0.0.9"
    assert client_ip("10.0.0.5", ["10.0.0.7"], PROXIES) == "10.0.0.7"
    assert client_ip("10.0.0.5", [], PROXIES) == "10.0.0.5"
    assert client_ip(None, ["203.0.113.9"], PROXIES) == ""
