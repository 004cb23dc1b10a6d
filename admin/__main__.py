"""`volt-admin`: serve the control plane, bootstrap an org, migrate, verify the audit chain.

Usage: `volt-admin serve`, `volt-admin run` (serve plus a fresh demo org and example request),
`volt-admin bootstrap --name Acme --email ops@acme.example`, `volt-admin audit verify`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
import uvloop
from aiohttp import web

from admin.app import create_app
from admin.bootstrap import Bootstrapped, bootstrap_org
from voltcore import logs
from voltcore.appkeys import POOL
from voltcore.audit import verify_chain
from voltcore.config import Settings
from voltcore.db import Pool, migrate
from voltcore.lifecycle import open_database

T = TypeVar("T")


def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_database(settings) as pool:
            return await work(pool)

    return uvloop.run(main())


def _example(settings: Settings, b: Bootstrapped) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return (
        f"\nVolt is up at {base}\n"
        f"  org:     {b.org_id}  ({b.spiffe_id})\n"
        f"  API key: {b.api_key}  (shown once)\n\n"
        f"Try:\n  curl -s {base}/v1/orgs/{b.org_id}/api-keys \\\n"
        f'    -H "Authorization: Bearer {b.api_key}"\n'
    )


def cmd_serve(settings: Settings, demo: bool) -> None:
    app = create_app(settings)

    if demo:

        async def announce(app: web.Application) -> None:
            # on_startup runs after the cleanup contexts: the pool and schema are ready.
            b = await bootstrap_org(
                app[POOL],
                name="Demo",
                tier="standard",
                metro=settings.metro,
                admin_email="admin@demo.volt.local",
                trust_domain=settings.trust_domain,
            )
            print(_example(settings, b), flush=True)

        app.on_startup.append(announce)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        shutdown_timeout=15,
        loop=uvloop.new_event_loop(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="volt-admin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the admin API")
    sub.add_parser("run", help="serve, with a freshly bootstrapped demo org and example request")
    sub.add_parser("migrate", help="apply pending database migrations")
    boot = sub.add_parser("bootstrap", help="create an org with its first admin user and key")
    boot.add_argument("--name", required=True)
    boot.add_argument("--email", required=True, help="the org's first admin user")
    boot.add_argument("--tier", default="standard", choices=["free", "standard", "enterprise"])
    boot.add_argument("--metro", default=None, help="home metro (default: VOLT_METRO)")
    boot.add_argument("--json", action="store_true", help="print JSON for scripts")
    audit = sub.add_parser("audit", help="audit log tools")
    audit.add_argument("action", choices=["verify"])
    args = parser.parse_args(argv)

    settings = Settings()
    logs.configure(settings.log_level)
    if args.command in ("serve", "run"):
        cmd_serve(settings, demo=args.command == "run")
        return 0
    if args.command == "migrate":
        applied = _with_pool(settings, migrate)
        print(f"applied migrations: {applied or 'none pending'}")
        return 0
    if args.command == "bootstrap":
        b = _with_pool(
            settings,
            lambda pool: bootstrap_org(
                pool,
                name=args.name,
                tier=args.tier,
                metro=args.metro or settings.metro,
                admin_email=args.email,
                trust_domain=settings.trust_domain,
            ),
        )
        print(orjson.dumps(dataclasses.asdict(b)).decode() if args.json else _example(settings, b))
        return 0
    result = _with_pool(settings, verify_chain)
    print(orjson.dumps(dataclasses.asdict(result)).decode())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
