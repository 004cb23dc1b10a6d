"""The caller's address: the one home for it, used by every per-client limit.

Behind an ingress every socket comes from the proxy, so keying a limit on the peer would give
all users one budget; believing `X-Forwarded-For` from anyone would let each request name its
own budget. So the header is read only when the peer is a configured proxy, right to left,
skipping proxies, and the first address that is not one is the client (what nginx's
`real_ip_recursive on` and Werkzeug's ProxyFix do). Whatever is left of it was written by the
client and is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import web

from voltcore.appkeys import SETTINGS

Network = IPv4Network | IPv6Network


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def _trusted(addr: IPv4Address | IPv6Address, proxies: Sequence[Network]) -> bool:
    return any(addr.version == net.version and addr in net for net in proxies)


def client_ip(peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """Pure: the client's address given the socket's peer, every `X-Forwarded-For` header
    value in order, and the trusted proxies. Usage:
    `client_ip("10.0.0.5", ["203.0.113.9, 10.0.0.7"], [IPv4Network("10.0.0.0/8")])`
    is `"203.0.113.9"`."""
    current = _parse(peer or "")
    if current is None:
        return peer or ""
    hops = [h for value in forwarded_for for h in value.split(",")]
    while _trusted(current, proxies) and hops:
        nxt = _parse(hops.pop())
        if nxt is None:  # garbage in the chain: the last proxy we trust saw this peer
            break
        current = nxt
    return str(current)


def client_address(request: web.Request) -> str:
    """This request's client, for rate limits (never for authorization)."""
    return client_ip(
        request.remote,
        request.headers.getall("X-Forwarded-For", []),
        request.app[SETTINGS].trusted_proxies,
    )
