"""`volt models`, `volt chat`, `volt usage`, `volt keys`, `volt limits`, `volt whoami`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from volt._client import Volt
from volt.cli._output import Column, Output, table, when
from volt.types.inference import ChatMessageParam, VoltBlock
from volt.types.tenancy import ApiKey, ApiKeyLimitsParam, ApiKeyWithSecret, OrganizationLimits

Subparsers = Any  # argparse's _SubParsersAction is private

MODEL_COLUMNS: list[Column] = [
    ("ID", lambda m: m.id),
    ("KIND", lambda m: m.kind),
    ("CONTEXT", lambda m: m.max_model_len),
    ("OWNED BY", lambda m: m.owned_by),
]
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


def models(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.models.list().data, MODEL_COLUMNS)
    return 0


def _timing(volt: VoltBlock) -> str:
    t = volt.timing
    rate = f", {t.decode_tokens_per_s:.1f} tok/s" if t.decode_tokens_per_s else ""
    ttft = f"ttft {t.ttft_ms:.0f} ms, " if t.ttft_ms is not None else ""
    return f"[{volt.pod} {volt.metro} {volt.tier}: {ttft}total {t.total_ms:.0f} ms{rate}]"


def chat(client: Volt, args: argparse.Namespace, out: Output) -> int:
    prompt = " ".join(args.prompt) if args.prompt else sys.stdin.read()
    messages: list[ChatMessageParam] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {"max_tokens": args.max_tokens}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if out.json or args.no_stream:
        reply = client.chat.completions.create(model=args.model, messages=messages, **params)
        if out.json:
            out.data(reply)
        else:
            out.line(reply.choices[0].message.content or "")
            out.note(_timing(reply.volt))
        return 0
    with client.chat.completions.stream(model=args.model, messages=messages, **params) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                out.stdout.write(choice.delta.content or "")
                out.stdout.flush()
            if chunk.volt is not None:
                out.line()
                out.note(_timing(chunk.volt))
    return 0


def keys_list(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.api_keys.list(limit=100), KEY_COLUMNS)
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


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("models", parents=[common], help="list the models you can use")
    p.set_defaults(run=models)

    p = sub.add_parser("chat", parents=[common], help="chat with a model (streams the reply)")
    p.add_argument("prompt", nargs="*", help="the message (read from stdin when absent)")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--system", help="a system message")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float)
    p.add_argument("--no-stream", action="store_true", help="wait for the whole reply")
    p.set_defaults(run=chat)

    keys = sub.add_parser("keys", help="your org's API keys").add_subparsers(required=True)
    p = keys.add_parser("list", parents=[common], help="list keys (never their secrets)")
    p.set_defaults(run=keys_list)
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

    limits = sub.add_parser("limits", help="your org's rate limits").add_subparsers(required=True)
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

    p = sub.add_parser("whoami", parents=[common], help="who the credentials belong to")
    p.set_defaults(run=whoami)
