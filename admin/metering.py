"""Billing beyond tokens: Forge GPU-seconds and Vault rack-seconds, and what they cost.

Metered at query time from the transition times the state machines persist (a lease's
`active_at` .. `ended_at`, a rack's `ready_at` .. `released_at`), not from events a meter loop
writes: those times are committed with the transition itself, so the meter is exact, survives
any restart by construction, counts a running lease up to the second the query asks, and has no
second record to drift from the lease. Seconds are whole: an interval runs from the second its
start falls in to the second its end falls in, the same unix seconds the lease and rack objects
show (`started_at`, `terminated_at`), so `(terminated_at - started_at) * gpu_count` is what a
lease is billed and the buckets of a query add up to it exactly.

Usage: `await query_metered(pool, org_id, GPUS, GpuUsageParams(start_time=t), now=time.time())`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import asyncpg
from pydantic import Field

from admin.usage import Window, WindowParams, page_of, plan_window


@dataclass(frozen=True)
class Meter:
    """How one product's rows become metered intervals. Every SQL fragment is this module's
    own text, never input."""

    product: str
    table: str
    started: str  # when metering starts (NULL: never started, nothing to meter)
    ended: str  # when it stops (NULL: still running, metered up to now)
    cap: str  # a bound it never runs past (a lease's paid duration), or 'infinity'
    quantity: str  # units metered at once (a lease's GPUs)
    price: str  # per unit-hour, locked in on the row (NULL: metered, not charged)
    result: str  # the result's `object`
    seconds_field: str  # the result's unit-seconds ("gpu_seconds")
    count_field: str  # the result's count of rows that ran in the bucket ("num_leases")
    groups: dict[str, str]  # group_by value -> the column it reads
    line_item: str  # the costs line item of a row


GPUS = Meter(
    product="forge",
    table="forge_leases",
    started="active_at",
    ended="ended_at",
    # A lease is sold for duration_s: an expired lease is never billed for the reconciler's
    # lag in noticing, nor for the cleanup after it.
    cap="expires_at",
    quantity="gpu_count",
    price="price_per_gpu_hour",
    result="usage.gpus.result",
    seconds_field="gpu_seconds",
    count_field="num_leases",
    groups={"gpu_type": "gpu_type", "gpu_count": "gpu_count", "metro": "metro", "lease_id": "id"},
    line_item="'forge/' || gpu_type",
)
RACKS = Meter(
    product="vault",
    table="vault_racks",
    started="ready_at",
    ended="released_at",
    cap="'infinity'::timestamptz",
    quantity="1",
    price="price_per_rack_hour",
    result="usage.racks.result",
    seconds_field="rack_seconds",
    count_field="num_racks",
    groups={"rack_type": "rack_type", "metro": "metro", "rack_id": "id"},
    line_item="'vault/' || rack_type",
)
METERS = (GPUS, RACKS)

GpuGroup = Literal["gpu_type", "gpu_count", "metro", "lease_id"]
RackGroup = Literal["rack_type", "metro", "rack_id"]
CostsGroup = Literal["product", "line_item"]


class GpuUsageParams(WindowParams):
    group_by: list[GpuGroup] = Field(default_factory=list)
    gpu_types: list[str] = Field(default_factory=list)
    lease_ids: list[str] = Field(default_factory=list)


class RackUsageParams(WindowParams):
    group_by: list[RackGroup] = Field(default_factory=list)
    rack_types: list[str] = Field(default_factory=list)
    rack_ids: list[str] = Field(default_factory=list)


class CostsParams(WindowParams):
    group_by: list[CostsGroup] = Field(default_factory=list)


async def _buckets(
    pool: asyncpg.Pool,
    meter: Meter,
    org_id: str,
    window: Window,
    now: int,
    groups: dict[str, str],
    filters: dict[str, list[str]],
) -> list[asyncpg.Record]:
    """One row per (bucket, group): unit-seconds, rows that ran, and their cost, each interval
    split across the buckets it spans to the second."""
    lo, hi = window.span
    args: list[Any] = [org_id, lo, hi, now, window.first, window.width]
    where = [
        "org_id = $1",
        f"{meter.started} IS NOT NULL",
        f"{meter.started} < to_timestamp(p_hi)",
        f"coalesce({meter.ended}, 'infinity') >= to_timestamp(p_lo)",
    ]
    for column, values in filters.items():
        if values:
            args.append(values)
            where.append(f"{column} = ANY(${len(args)}::text[])")
    picked = "".join(f", {sql} AS {name}" for name, sql in groups.items())
    keys = "".join(f", {name}" for name in groups)
    # s and e: the interval in whole unix seconds, clipped to this page; b: a bucket's index.
    return await pool.fetch(
        f"""WITH p AS (
                SELECT $2::bigint AS p_lo, $3::bigint AS p_hi, $4::bigint AS p_now,
                       $5::bigint AS p_first, $6::bigint AS p_width
            ), iv AS (
                SELECT id, {meter.quantity}::bigint AS q, {meter.price} AS price{picked},
                       greatest(floor(extract(epoch FROM {meter.started}))::bigint, p_lo) AS s,
                       least(floor(extract(epoch FROM least(
                                 coalesce({meter.ended}, to_timestamp(p_now)), {meter.cap}
                             )))::bigint, p_hi) AS e
                FROM {meter.table}, p WHERE {" AND ".join(where)}
            ), part AS (
                SELECT b{keys}, id, price,
                       q * (least(e, p_first + (b + 1) * p_width)
                            - greatest(s, p_first + b * p_width)) AS seconds
                FROM iv, p, generate_series((s - p_first) / p_width,
                                            (e - 1 - p_first) / p_width) AS b
                WHERE e > s
            )
            SELECT b AS bucket{keys},
                   sum(seconds)::bigint AS seconds,
                   count(DISTINCT id) AS num,
                   sum(seconds * price::numeric / 3600) AS cost
            FROM part GROUP BY b{keys} ORDER BY b{keys}""",
        *args,
    )


async def query_metered(
    pool: asyncpg.Pool,
    org_id: str,
    meter: Meter,
    params: GpuUsageParams | RackUsageParams,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """`GET /v1/usage/gpus` and `/v1/usage/racks`: a page of buckets of unit-seconds."""
    clock = time.time() if now is None else now
    window = plan_window(params, clock)
    chosen = dict.fromkeys(params.group_by)
    groups: dict[str, str] = {name: meter.groups[name] for name in chosen}
    if isinstance(params, GpuUsageParams):
        filters = {"gpu_type": params.gpu_types, "id": params.lease_ids}
    else:
        filters = {"rack_type": params.rack_types, "id": params.rack_ids}
    rows = await _buckets(pool, meter, org_id, window, math.floor(clock), groups, filters)
    results: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        results.setdefault(row["bucket"], []).append(
            {
                "object": meter.result,
                meter.seconds_field: row["seconds"],
                meter.count_field: row["num"],
                **{g: (row[g] if g in groups else None) for g in meter.groups},
            }
        )
    return page_of(window, results)


async def query_costs(
    pool: asyncpg.Pool,
    org_id: str,
    params: CostsParams,
    currencies: dict[str, str],
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """`GET /v1/costs`: what the org's Forge and Vault usage cost per bucket, at the prices
    locked in on each lease and rack. `currencies` is product -> the currency its prices are
    in; amounts in different currencies are never added together."""
    clock = time.time() if now is None else now
    window = plan_window(params, clock)
    chosen = dict.fromkeys(params.group_by)
    totals: dict[tuple[int, str, str | None, str | None], Decimal] = {}
    for meter in METERS:
        groups = {"line_item": meter.line_item} if "line_item" in chosen else {}
        rows = await _buckets(pool, meter, org_id, window, math.floor(clock), groups, {})
        for row in rows:
            if row["cost"] is None:
                continue  # unpriced: metered, not charged
            key = (
                row["bucket"],
                currencies[meter.product],
                meter.product if "product" in chosen else None,
                row["line_item"] if "line_item" in chosen else None,
            )
            totals[key] = totals.get(key, Decimal(0)) + row["cost"]
    results: dict[int, list[dict[str, Any]]] = {}
    for (bucket, currency, product, line_item), value in sorted(
        totals.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "", kv[0][3] or "")
    ):
        results.setdefault(bucket, []).append(
            {
                "object": "costs.result",
                "amount": {"value": round(float(value), 6), "currency": currency},
                "line_item": line_item,
                "product": product,
            }
        )
    return page_of(window, results)
