"""`volt-admin`: serve the control plane, run the embedded default, bootstrap an org, migrate,
verify the audit chain.

Usage: `volt-admin serve`, `volt-admin run` (admin and Spark on one URL, plus a fresh demo org
and example requests), `volt-admin bootstrap --name Acme --email ops@acme.example`,
`volt-admin audit verify`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
from aiohttp import web

from admin.app import create_app
from admin.bootstrap import Bootstrapped, bootstrap_org
from admin.finetune.embedded import worker_ctx as finetune_worker_ctx
from voltcore import logs
from voltcore.appkeys import POOL
from voltcore.audit import verify_chain
from voltcore.catalog import load_models
from voltcore.config import Settings
from voltcore.db import Pool, migrate
from voltcore.lifecycle import open_database
from voltcore.service import run

T = TypeVar("T")


def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_database(settings) as pool:
            return await work(pool)

    return asyncio.run(go())


def _example(settings: Settings, b: Bootstrapped, model: str | None) -> str:
    base = f"http://{settings.host}:{settings.port}"
    auth = f'-H "Authorization: Bearer {b.api_key}"'
    text = (
        f"\nVolt is up at {base}\n"
        f"  org:     {b.org_id}  ({b.spiffe_id})\n"
        f"  API key: {b.api_key}  (shown once)\n\n"
        f"Try:\n  curl -s {base}/v1/orgs/{b.org_id}/api-keys \\\n    {auth}\n"
    )
    if model is not None:
        body = orjson.dumps(
            {
                "model": model,
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
                "max_tokens": 32,
            }
        ).decode()
        text += (
            f"  curl -s {base}/v1/chat/completions \\\n    {auth} \\\n"
            f"    -H 'Content-Type: application/json' -d '{body}'\n"
        )
    return text


def cmd_serve(settings: Settings, embedded: bool) -> None:
    app = create_app(settings)
    model = None
    if embedded:
        # The embedded default: Spark's engines and routes in this process, one base URL.
        from inference.app import install as install_spark

        install_spark(app)
        model = next((m.id for m in load_models(settings.models_file) if m.kind == "chat"), None)

        async def announce(app: web.Application) -> None:
            # on_startup runs after the cleanup contexts: pool, schema and engines are ready.
            b = await bootstrap_org(
                app[POOL],
                name="Demo",
                tier="standard",
                metro=settings.metro,
                admin_email="admin@demo.volt.local",
                trust_domain=settings.trust_domain,
            )
            print(_example(settings, b, model), flush=True)

        app.on_startup.append(announce)
        # Fine-tuning jobs need a worker: one runs beside the embedded default.
        app.cleanup_ctx.append(finetune_worker_ctx)
    run(app, settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="volt-admin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the admin API")
    sub.add_parser("run", help="the embedded default: admin and Spark, a demo org, examples")
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
        cmd_serve(settings, embedded=args.command == "run")
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
        print(
            orjson.dumps(dataclasses.asdict(b)).decode()
            if args.json
            else _example(settings, b, None)
        )
        return 0
    result = _with_pool(settings, verify_chain)
    print(orjson.dumps(dataclasses.asdict(result)).decode())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
