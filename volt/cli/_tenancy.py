"""`volt whoami`, `volt org`, `volt keys ...`, `volt limits ...`, `volt audit-logs`: the
caller's org, its API keys, rate limits and audit log (`volt.resources.tenancy`)."""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

from volt._client import Volt
from volt.cli._output import Column, Output, table, when
from volt.types.tenancy import ApiKey, ApiKeyLimitsParam, ApiKeyWithSecret, OrganizationLimits

Subparsers = Any  # argparse's _SubParsersAction is private

KEY_COLUMNS: list[Column] = [
    ("ID", lambda k: k.id),
    ("NAME", lambda k: k.name),
    ("KEY", lambda k: k.redacted_value),
    ("SCOPES", lambda k: k.scopes),
    ("STATUS", lambda k: k.status),
    ("CREATED", lambda k: when(k.created_at)),
    ("LAST USED", lambda k: when(k.last_used_at)),
    ("LIMITS", lambda k: _key_limits(k)),
]
# What `keys get` adds to a row of `keys list`: the dates and the rotation chain.
KEY_DETAIL_COLUMNS: list[Column] = [
    *KEY_COLUMNS,
    ("EXPIRES", lambda k: when(k.expires_at)),
    ("REVOKED", lambda k: when(k.revoked_at)),
    ("REPLACED BY", lambda k: k.replaced_by),
]
ORG_COLUMNS: list[Column] = [
    ("id", lambda o: o.id),
    ("name", lambda o: o.name),
    ("tier", lambda o: o.tier),
    ("home metro", lambda o: o.home_metro),
    ("spiffe id", lambda o: o.spiffe_id),
    ("created", lambda o: when(o.created_at)),
]
AUDIT_COLUMNS: list[Column] = [
    ("TIME", lambda e: when(e.time)),
    ("PRINCIPAL", lambda e: e.principal),
    ("METHOD", lambda e: e.method),
    ("ROUTE", lambda e: e.route),
    ("STATUS", lambda e: e.status),
    ("REQUEST ID", lambda e: e.request_id),
]


def _key_limits(key: ApiKey) -> str | None:
    """`5 rpm, 2000 tpm`: a key's own limits (None, shown `-`, when it has none)."""
    own = [
        f"{value} {unit}"
        for value, unit in (
            (key.limits.requests_per_minute, "rpm"),
            (key.limits.tokens_per_minute, "tpm"),
        )
        if value is not None
    ]
    return ", ".join(own) or None


def whoami(client: Volt, args: argparse.Namespace, out: Output) -> int:
    me = client.me.retrieve()
    out.item(
        me,
        [
            ("org", lambda p: p.org_id),
            ("spiffe id", lambda p: p.spiffe_id),
            ("kind", lambda p: p.kind),
            ("api key", lambda p: p.api_key_id),
            ("scopes", lambda p: p.scopes),
            ("base url", lambda p: client.base_url),
        ],
    )
    return 0


def org(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.orgs.retrieve(), ORG_COLUMNS)
    return 0


def keys_list(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.api_keys.list(limit=100), KEY_COLUMNS)
    return 0


def keys_get(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.api_keys.retrieve(args.key_id), KEY_DETAIL_COLUMNS)
    return 0


def keys_create(client: Volt, args: argparse.Namespace, out: Output) -> int:
    expires = int(time.time()) + args.expires_in if args.expires_in else None
    limits: ApiKeyLimitsParam = {}
    if args.rpm is not None:
        limits["requests_per_minute"] = args.rpm
    if args.tpm is not None:
        limits["tokens_per_minute"] = args.tpm
    key = client.api_keys.create(
        name=args.name, scopes=args.scope or None, expires_at=expires, limits=limits or None
    )
    return _show_secret(key, out)


def keys_rotate(client: Volt, args: argparse.Namespace, out: Output) -> int:
    key = client.api_keys.rotate(args.key_id, grace_period_seconds=args.grace_period)
    return _show_secret(key, out)


def _show_secret(key: ApiKeyWithSecret, out: Output) -> int:
    """A key just created or rotated: the only time its secret is shown."""
    if out.json:
        out.data(key)
        return 0
    out.item(key, KEY_COLUMNS[:5])
    out.line(f"secret  {key.secret}")
    out.note("Store the secret now: it is not shown again.")
    return 0


def keys_revoke(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(client.api_keys.revoke(args.key_id), KEY_COLUMNS)
    return 0


def _show_limits(limits: OrganizationLimits, out: Output) -> int:
    if out.json:
        out.data(limits)
        return 0
    rows = [
        [name, str(one.limit), str(one.ceiling), one.source]
        for name, one in (
            ("requests per minute", limits.requests_per_minute),
            ("tokens per minute", limits.tokens_per_minute),
        )
    ]
    out.line(table(rows, ["LIMIT", "VALUE", "CEILING", "SET BY"]))
    return 0


def limits_get(client: Volt, args: argparse.Namespace, out: Output) -> int:
    return _show_limits(client.orgs.limits.retrieve(), out)


def limits_set(client: Volt, args: argparse.Namespace, out: Output) -> int:
    if args.rpm is None and args.tpm is None:
        out.note("error: give --rpm, --tpm or both (a number, or 'ceiling').")
        return 2
    limits = client.orgs.limits.update(requests_per_minute=args.rpm, tokens_per_minute=args.tpm)
    return _show_limits(limits, out)


def audit_logs(client: Volt, args: argparse.Namespace, out: Output) -> int:
    # The log only grows: show the newest entries, not every page of it.
    newest = itertools.islice(client.audit_logs.list(limit=min(args.limit, 100)), args.limit)
    out.items(newest, AUDIT_COLUMNS)
    return 0


def _limit_value(text: str) -> int | str:
    """A limit on the command line: a count, or `ceiling` (back to the org's ceiling)."""
    if text == "ceiling":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number nor 'ceiling': {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {value}")
    return value


def _count(text: str) -> int:
    value = _limit_value(text)
    if isinstance(value, str):
        raise argparse.ArgumentTypeError("a key's limit is a number")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("whoami", parents=[common], help="who the credentials belong to")
    p.set_defaults(run=whoami)
    p = sub.add_parser("org", parents=[common], help="your org: name, tier, home metro")
    p.set_defaults(run=org)

    keys = sub.add_parser("keys", help="your org's API keys").add_subparsers(required=True)
    p = keys.add_parser("list", parents=[common], help="list keys (never their secrets)")
    p.set_defaults(run=keys_list)
    p = keys.add_parser("get", parents=[common], help="one key (never its secret)")
    p.add_argument("key_id")
    p.set_defaults(run=keys_get)
    p = keys.add_parser("create", parents=[common], help="create a key; shows its secret once")
    p.add_argument("name")
    p.add_argument("--scope", action="append", choices=["read", "write"])
    p.add_argument("--expires-in", type=int, metavar="SECONDS")
    p.add_argument("--rpm", type=_count, metavar="N", help="its own requests per minute")
    p.add_argument("--tpm", type=_count, metavar="N", help="its own tokens per minute")
    p.set_defaults(run=keys_create)
    p = keys.add_parser("rotate", parents=[common], help="replace a key; shows the new secret")
    p.add_argument("key_id")
    p.add_argument(
        "--grace-period", type=int, metavar="SECONDS", help="the old key works this long (0)"
    )
    p.set_defaults(run=keys_rotate)
    p = keys.add_parser("revoke", parents=[common], help="revoke a key at once")
    p.add_argument("key_id")
    p.set_defaults(run=keys_revoke)

    # `volt limits` alone shows them, like `volt limits get`.
    limits_parser = sub.add_parser("limits", parents=[common], help="your org's rate limits")
    limits_parser.set_defaults(run=limits_get)
    limits = limits_parser.add_subparsers(required=False, metavar="{get,set}")
    p = limits.add_parser("get", parents=[common], help="requests and tokens per minute")
    p.set_defaults(run=limits_get)
    p = limits.add_parser("set", parents=[common], help="lower them (up to the ceilings)")
    for flag, what in (("--rpm", "requests"), ("--tpm", "tokens")):
        p.add_argument(
            flag,
            type=_limit_value,
            metavar="N|ceiling",
            help=f"{what} per minute (left out: unchanged)",
        )
    p.set_defaults(run=limits_set)

    p = sub.add_parser("audit-logs", parents=[common], help="your org's audit log, newest first")
    p.add_argument("--limit", type=_positive, default=20, help="how many entries (default 20)")
    p.set_defaults(run=audit_logs)
