"""`volt usage [tokens|gpus|racks|costs]`: what the org used (Spark tokens, Forge GPU-seconds,
Vault rack-seconds) and what it cost, in time buckets."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from typing import Any

from volt._client import Volt
from volt.cli._output import Column, Output, when

Subparsers = Any  # argparse's _SubParsersAction is private

# What each product's results may be grouped by (the server names a wrong one in its 400).
GROUPS: dict[str, list[str]] = {
    "tokens": ["model", "api_key", "endpoint"],
    "gpus": ["gpu_type", "gpu_count", "metro", "lease_id"],
    "racks": ["rack_type", "metro", "rack_id"],
    "costs": ["product", "line_item"],
}


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.3f}"


COLUMNS: dict[str, list[Column]] = {
    "tokens": [
        ("MODEL", lambda r: r.model),
        ("API KEY", lambda r: r.api_key_id),
        ("ENDPOINT", lambda r: r.endpoint),
        ("REQUESTS", lambda r: r.num_model_requests),
        ("INPUT", lambda r: r.input_tokens),
        ("OUTPUT", lambda r: r.output_tokens),
        ("CACHED", lambda r: r.input_cached_tokens),
    ],
    "gpus": [
        ("GPU TYPE", lambda r: r.gpu_type),
        ("GPUS", lambda r: r.gpu_count),
        ("METRO", lambda r: r.metro),
        ("LEASE", lambda r: r.lease_id),
        ("LEASES", lambda r: r.num_leases),
        ("GPU-SECONDS", lambda r: r.gpu_seconds),
        ("GPU-HOURS", lambda r: _hours(r.gpu_seconds)),
    ],
    "racks": [
        ("RACK TYPE", lambda r: r.rack_type),
        ("METRO", lambda r: r.metro),
        ("RACK", lambda r: r.rack_id),
        ("RACKS", lambda r: r.num_racks),
        ("RACK-SECONDS", lambda r: r.rack_seconds),
        ("RACK-HOURS", lambda r: _hours(r.rack_seconds)),
    ],
    "costs": [
        ("PRODUCT", lambda r: r.product),
        ("LINE ITEM", lambda r: r.line_item),
        ("AMOUNT", lambda r: f"{r.amount.value:.2f}"),
        ("CURRENCY", lambda r: r.amount.currency),
    ],
}


def _of_result(get: Callable[[Any], object]) -> Callable[[Any], object]:
    """A result's column as a column of (bucket, result) rows."""
    return lambda row: get(row[1])


def usage(client: Volt, args: argparse.Namespace, out: Output) -> int:
    start = args.start_time or int(time.time()) - args.days * 86400
    params: dict[str, Any] = {
        "start_time": start,
        "end_time": args.end_time,
        "bucket_width": args.bucket_width,
        "group_by": args.group_by or None,
    }
    what = args.what
    lists: dict[str, Callable[..., Iterable[Any]]] = {
        "tokens": client.usage.list,
        "gpus": client.usage.gpus.list,
        "racks": client.usage.racks.list,
        "costs": client.costs.list,
    }
    # Every page of the range (a first page alone would silently leave some out), shown as
    # the one page it adds up to.
    buckets = list(lists[what](**params))
    if out.json:
        data = [b.model_dump(mode="json") for b in buckets]
        out.data({"object": "page", "data": data, "has_more": False, "next_page": None})
        return 0
    rows = [(bucket, result) for bucket in buckets for result in bucket.results]
    columns: list[Column] = [("START", lambda r: when(r[0].start_time))]
    columns += [(name, _of_result(get)) for name, get in COLUMNS[what]]
    out.items(rows, columns)
    return 0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "usage", parents=[common], help="usage and costs: tokens, GPUs, racks (billing)"
    )
    p.add_argument("what", nargs="?", choices=list(GROUPS), default="tokens")
    p.add_argument("--days", type=int, default=1, help="how far back (default 1)")
    p.add_argument("--start-time", type=int, help="unix seconds; overrides --days")
    p.add_argument("--end-time", type=int, help="unix seconds, exclusive (default: now)")
    p.add_argument("--bucket-width", choices=["1m", "1h", "1d"], default="1d")
    p.add_argument(
        "--group-by",
        action="append",
        choices=sorted({g for groups in GROUPS.values() for g in groups}),
        help="; ".join(f"{what}: {', '.join(groups)}" for what, groups in GROUPS.items()),
    )
    p.set_defaults(run=usage)
