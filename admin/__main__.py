"""`volt-admin`: serve the control plane, run the embedded default, bootstrap an org, migrate,
verify the audit chain.

Usage: `volt-admin serve`, `volt-admin run` (admin and Spark on one URL, plus a fresh demo org
and example requests), `volt-admin bootstrap --name Acme --email ops@acme.example`,
`volt-admin limits org_... --rpm 5000 --tpm default` (an org's rate-limit ceilings),
`volt-admin audit verify`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import orjson

from admin import examples, tenancy
from admin.app import create_app
from admin.bootstrap import bootstrap_org
from voltcore import logs
from voltcore.audit import AuditEntry, AuditWriter, verify_chain
from voltcore.config import Settings
from voltcore.db import Pool, migrate
from voltcore.errors import NotFound
from voltcore.ids import new_id
from voltcore.lifecycle import open_database
from voltcore.metrics import Metrics
from voltcore.service import run

T = TypeVar("T")


def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_database(settings) as pool:
            return await work(pool)

    return asyncio.run(go())


def cmd_serve(settings: Settings) -> None:
    run(create_app(settings), settings)


Ceiling = int | Literal["keep"] | None


def _ceiling(most: int) -> Callable[[str], int | None]:
    """`--rpm 5000`, or `--rpm default` for the tier's (within the column's range)."""

    def parse(text: str) -> int | None:
        if text == "default":
            return None
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number nor 'default': {text!r}") from None
        if not 0 <= value <= most:
            raise argparse.ArgumentTypeError(f"out of range (0 to {most}): {value}")
        return value

    return parse


async def _limits(
    pool: Pool, settings: Settings, org_id: str, requests: Ceiling, tokens: Ceiling
) -> dict[str, Any]:
    """Set an org's ceilings (if asked) and return its limits. A change is written to the
    audit log as the API's are, so the org sees who raised its limits and when."""
    if requests == "keep" and tokens == "keep":
        row = await tenancy.get_org(pool, org_id)
    else:
        row = await tenancy.set_org_ceilings(pool, org_id, requests=requests, tokens=tokens)
        writer = AuditWriter(pool, Metrics(settings.service_name))
        writer.add(
            AuditEntry(
                dt.datetime.now(dt.UTC),
                org_id,
                "operator",
                None,
                "CLI",
                "volt-admin limits",
                200,
                new_id("req"),
                settings.service_name,
            )
        )
        await writer.flush()
    return tenancy.limits_object(row, settings.tiers)


def _show_limits(limits: dict[str, Any]) -> str:
    lines = [f"{limits['org_id']} ({limits['tier']} tier)"]
    for name in ("requests_per_minute", "tokens_per_minute"):
        one = limits[name]
        lines.append(
            f"  {name.replace('_', ' ')}: {one['limit']}"
            f"  (ceiling {one['ceiling']}, set by {one['source']})"
        )
    return "\n".join(lines)


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
    lim = sub.add_parser(
        "limits",
        help="show an org's rate limits, or grant it other ceilings",
        description="Without options, show the org's limits. A ceiling is the most the org "
        "may set for itself (PATCH /v1/orgs/{org_id}/limits); 'default' is its tier's.",
    )
    lim.add_argument("org_id")
    # Left out, an option keeps the ceiling it has (SUPPRESS: absent from `args`).
    for flag, most, what in (
        ("--rpm", tenancy.MAX_RPM, "requests"),
        ("--tpm", tenancy.MAX_TPM, "tokens"),
    ):
        lim.add_argument(
            flag,
            type=_ceiling(most),
            default=argparse.SUPPRESS,
            help=f"{what} per minute, or 'default'",
        )
    lim.add_argument("--json", action="store_true", help="print JSON for scripts")
    audit = sub.add_parser("audit", help="audit log tools")
    audit.add_argument("action", choices=["verify"])
    args = parser.parse_args(argv)

    settings = Settings()
    logs.configure(settings.log_level)
    if args.command == "serve":
        cmd_serve(settings)
        return 0
    if args.command == "run":
        # Imported here, not at the top: vLLM spawns its engine workers by re-importing this
        # module, and the labs' peers (flask's context proxies, for one) must not be in them.
        from admin import embedded

        embedded.serve(settings)
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
        base = f"http://{settings.host}:{settings.port}"
        print(
            orjson.dumps(dataclasses.asdict(b)).decode()
            if args.json
            else examples.header(base, b) + examples.tenancy(b.org_id)
        )
        return 0
    if args.command == "limits":
        try:
            limits = _with_pool(
                settings,
                lambda pool: _limits(
                    pool,
                    settings,
                    args.org_id,
                    vars(args).get("rpm", "keep"),
                    vars(args).get("tpm", "keep"),
                ),
            )
        except NotFound as err:
            print(f"volt-admin: {err.message}", file=sys.stderr)
            return 1
        print(orjson.dumps(limits).decode() if args.json else _show_limits(limits))
        return 0
    result = _with_pool(settings, verify_chain)
    print(orjson.dumps(dataclasses.asdict(result)).decode())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
