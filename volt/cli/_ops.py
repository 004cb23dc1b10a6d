"""`volt health`: is the service up (`--live`), and ready to serve (each dependency)."""

from __future__ import annotations

import argparse
from typing import Any

from volt._client import Volt
from volt.cli._output import Output

Subparsers = Any


def health(client: Volt, args: argparse.Namespace, out: Output) -> int:
    # Not ready is a 503, which `main` reports (with its message) and exits 1 on.
    probe = client.health.live() if args.live else client.health.ready()
    if out.json:
        out.data(probe)
        return 0
    out.line(f"{client.base_url}: {probe.status}")
    if probe.checks:
        out.items(
            sorted(probe.checks.items()),
            [("DEPENDENCY", lambda c: c[0]), ("STATUS", lambda c: c[1])],
        )
    return 0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("health", parents=[common], help="whether the service is ready")
    p.add_argument("--live", action="store_true", help="only whether it is up at all")
    p.set_defaults(run=health)
