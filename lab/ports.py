"""Free TCP ports for the peers and services tests start, the one way every test picks them.

Ports come from below the kernel's ephemeral range. A port is only free until the process it is
for binds it, which can be a minute later (`volt-admin run` binds after its engines start); in
the meantime every socket the machine opens without a port (vLLM's ZMQ sockets, database
clients) is given one from the ephemeral range, so a port taken from there can be gone by then.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

_LOWEST = 10_000


def _ephemeral_start() -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port P with P .. P+span-1 all free (swtpm, say, takes a server and a control port)."""
    for port in random.sample(range(_LOWEST, _ephemeral_start() - span), 1000):
        if all(_bindable(p) for p in range(port, port + span)):
            return port
    raise RuntimeError("no free port below the ephemeral range")


def free_ports(n: int) -> list[int]:
    """`n` different free ports."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)
