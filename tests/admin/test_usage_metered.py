"""Billing beyond tokens: `GET /v1/usage/gpus`, `/v1/usage/racks` and `/v1/costs` over leases
and racks written as rows with set transition times (the bucket arithmetic), a running lease
metered up to a given now, and one real Forge lease driven by its reconciler from pending to
terminated (the seconds and cost its own timestamps imply)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from admin.bootstrap import bootstrap_org
from admin.metering import (
    GPUS,
    RACKS,
    CostsParams,
    GpuUsageParams,
    RackUsageParams,
    query_costs,
    query_metered,
)
from admin.usage import WindowParams
from tests.admin.vault.conftest import vault_lab
from tests.conftest import MakeOrg, Org
from tests.support.client import Client
from tests.support.forge import H100, ForgeService
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.db import Conn, Pool

HOUR, DAY = 3600, 86_400
T0 = 1_700_006_400  # 2023-11-15T00:00:00Z, day-aligned and far in the past
assert T0 % DAY == 0
A100 = "NVIDIA-A100-SXM4-80GB"


def at(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(T0 + seconds, dt.UTC)


async def add_lease(
    db: Pool | Conn,
    org_id: str,
    *,
    active: float | None,
    ended: float | None,
    gpu_count: int = 2,
    gpu_type: str = H100,
    metro: str = "fra1",
    duration_s: int = 30 * DAY,
    price: float = 2.49,
    status: str = "terminated",
) -> str:
    """A lease row as the reconciler leaves it: active at `active`, ended at `ended` (seconds
    after T0), expiring `duration_s` after it became active."""
    lease_id = "lease_" + secrets.token_hex(12)
    expires = None if active is None else active + duration_s
    await db.execute(
        """INSERT INTO forge_leases (id, org_id, gpu_type, gpu_count, metro, duration_s, status,
                                     placement, namespace, price_per_gpu_hour, active_at,
                                     expires_at, ended_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, '{}'::jsonb, $1, $8, $9, $10, $11)""",
        lease_id,
        org_id,
        gpu_type,
        gpu_count,
        metro,
        duration_s,
        status,
        price,
        at(active),
        at(expires),
        at(ended),
    )
    return lease_id


async def add_rack(
    db: Pool | Conn,
    org_id: str,
    *,
    ready: float | None,
    released: float | None,
    price: float | None = 19.9,
    status: str = "released",
) -> str:
    """A rack row on its own (disabled, never offered) inventory rack."""
    name = "usage-" + secrets.token_hex(6)
    await db.execute(
        """INSERT INTO vault_inventory_racks (name, metro, rack_type, country, endpoint, enabled)
           VALUES ($1, 'fra1', 'gpu-8x-h100', 'DE', 'https://10.0.0.1:6443', false)""",
        name,
    )
    rack_id = "rack_" + secrets.token_hex(12)
    await db.execute(
        """INSERT INTO vault_racks (id, org_id, inventory_rack, metro, rack_type, status,
                                    ready_at, released_at, price_per_rack_hour)
           VALUES ($1, $2, $3, 'fra1', 'gpu-8x-h100', $4, $5, $6, $7)""",
        rack_id,
        org_id,
        name,
        status,
        at(ready),
        at(released),
        price,
    )
    return rack_id


async def get(client: Client, org: Org, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(path, key=org.key, params={"start_time": T0, **params})
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


def column(page: dict[str, Any], field: str) -> list[int]:
    """Per bucket, the field summed over the bucket's results."""
    return [sum(r[field] for r in b["results"]) for b in page["data"]]


async def test_a_lease_is_split_across_buckets_to_the_second(
    client: Client, pool: Pool, make_org: MakeOrg
) -> None:
    org, other = await make_org(), await make_org("Other")
    # Active at 00:30:00.4, terminated at 03:01:00.9: whole seconds 1800 .. 10860, 2 GPUs.
    lease = await add_lease(pool, org.id, active=1800.4, ended=3 * HOUR + 60.9)
    await add_lease(pool, other.id, active=0, ended=DAY)  # never visible to org

    page = await get(client, org, "/v1/usage/gpus", end_time=T0 + 4 * HOUR, bucket_width="1h")
    assert [b["start_time"] for b in page["data"]] == [T0 + i * HOUR for i in range(4)]
    assert column(page, "gpu_seconds") == [2 * 1800, 2 * HOUR, 2 * HOUR, 2 * 60]
    assert column(page, "num_leases") == [1, 1, 1, 1]
    assert sum(column(page, "gpu_seconds")) == 2 * (10860 - 1800)
    first = page["data"][0]["results"][0]
    assert first["object"] == "usage.gpus.result" and first["gpu_type"] is None  # ungrouped

    # Minutes: the first and last partial minutes are exact too.
    page = await get(
        client, org, "/v1/usage/gpus", start_time=T0 + 1740, end_time=T0 + 1920, bucket_width="1m"
    )
    assert column(page, "gpu_seconds") == [0, 2 * 60, 2 * 60]
    page = await get(client, org, "/v1/usage/gpus", end_time=T0 + DAY)
    assert column(page, "gpu_seconds") == [2 * 9060]

    # start_time inside a bucket: the bucket stays aligned, seconds before start are not in it.
    page = await get(
        client,
        org,
        "/v1/usage/gpus",
        start_time=T0 + HOUR + 600,
        end_time=T0 + 2 * HOUR,
        bucket_width="1h",
    )
    assert page["data"][0]["start_time"] == T0 + HOUR
    assert column(page, "gpu_seconds") == [2 * 3000]

    # Paging: two buckets a page, the pages add up to the lease.
    params: dict[str, Any] = {"end_time": T0 + 4 * HOUR, "bucket_width": "1h", "limit": 2}
    seen: list[int] = []
    while True:
        page = await get(client, org, "/v1/usage/gpus", **params)
        seen += column(page, "gpu_seconds")
        if not page["has_more"]:
            break
        params["page"] = page["next_page"]
    assert seen == [3600, 7200, 7200, 120]

    # Another org's lease is invisible, also when named.
    assert column(
        await get(client, org, "/v1/usage/gpus", end_time=T0 + DAY, lease_ids=lease), "gpu_seconds"
    ) == [2 * 9060]
    assert column(await get(client, other, "/v1/usage/gpus", end_time=T0 + DAY), "gpu_seconds") == [
        2 * DAY
    ]
    named = await get(client, other, "/v1/usage/gpus", end_time=T0 + DAY, lease_ids=lease)
    assert named["data"][0]["results"] == []


async def test_group_by_and_filters(client: Client, pool: Pool, make_org: MakeOrg) -> None:
    org = await make_org()
    a = await add_lease(pool, org.id, active=0, ended=HOUR, gpu_count=8)
    b = await add_lease(
        pool,
        org.id,
        active=HOUR / 2,
        ended=HOUR,
        gpu_count=1,
        gpu_type=A100,
        metro="ams1",
        price=1.29,
    )
    # Expired: billed to the end of its duration, not to when the cleanup finished.
    c = await add_lease(
        pool, org.id, active=0, ended=900, gpu_count=1, duration_s=600, status="expired"
    )
    # Never active (failed while provisioning, or terminated while pending): never billed.
    await add_lease(pool, org.id, active=None, ended=None, status="failed")
    await add_lease(pool, org.id, active=None, ended=60)

    day = {"end_time": T0 + DAY}
    page = await get(client, org, "/v1/usage/gpus", **day, group_by="lease_id")
    by_lease = {r["lease_id"]: r["gpu_seconds"] for r in page["data"][0]["results"]}
    assert by_lease == {a: 8 * HOUR, b: 1800, c: 600}

    page = await get(client, org, "/v1/usage/gpus", **day, group_by="gpu_type,metro")
    rows = {
        (r["gpu_type"], r["metro"]): (r["gpu_seconds"], r["num_leases"])
        for r in page["data"][0]["results"]
    }
    assert rows == {(H100, "fra1"): (8 * HOUR + 600, 2), (A100, "ams1"): (1800, 1)}
    assert all(r["lease_id"] is None and r["gpu_count"] is None for r in page["data"][0]["results"])

    page = await get(client, org, "/v1/usage/gpus", **day, group_by=["gpu_count"])
    assert {r["gpu_count"]: r["gpu_seconds"] for r in page["data"][0]["results"]} == {
        8: 8 * HOUR,
        1: 2400,
    }
    page = await get(client, org, "/v1/usage/gpus", **day, gpu_types=A100)
    assert column(page, "gpu_seconds") == [1800]
    page = await get(client, org, "/v1/usage/gpus", **day, lease_ids=f"{a},{c}")
    assert column(page, "gpu_seconds") == [8 * HOUR + 600]


async def test_racks_and_costs(client: Client, pool: Pool, make_org: MakeOrg) -> None:
    org, other = await make_org(), await make_org("Other")
    await add_lease(pool, org.id, active=0, ended=3 * HOUR, gpu_count=2)  # 6 GPU-h at 2.49
    await add_lease(
        pool, org.id, active=HOUR, ended=2 * HOUR, gpu_count=4, gpu_type=A100, price=1.29
    )  # 4 GPU-h at 1.29
    rack = await add_rack(pool, org.id, ready=HOUR + 1800, released=DAY + HOUR)  # 23.5 h + 1 h
    unpriced = await add_rack(pool, org.id, ready=0, released=HOUR, price=None)
    await add_rack(pool, other.id, ready=0, released=2 * DAY)

    page = await get(client, org, "/v1/usage/racks", end_time=T0 + 2 * DAY, group_by="rack_id")
    assert [{r["rack_id"]: r["rack_seconds"] for r in b["results"]} for b in page["data"]] == [
        {rack: DAY - HOUR - 1800, unpriced: HOUR},
        {rack: HOUR},
    ]
    assert page["data"][0]["results"][0]["object"] == "usage.racks.result"
    page = await get(client, org, "/v1/usage/racks", end_time=T0 + DAY, group_by="rack_type,metro")
    assert [(r["rack_type"], r["metro"], r["num_racks"]) for r in page["data"][0]["results"]] == [
        ("gpu-8x-h100", "fra1", 2)
    ]

    costs = await get(client, org, "/v1/costs", end_time=T0 + 2 * DAY, group_by="line_item")
    day1 = {r["line_item"]: r["amount"] for r in costs["data"][0]["results"]}
    assert day1 == {
        f"forge/{H100}": {"value": pytest.approx(6 * 2.49), "currency": "usd"},
        f"forge/{A100}": {"value": pytest.approx(4 * 1.29), "currency": "usd"},
        # The unpriced rack is metered above but charged nothing.
        "vault/gpu-8x-h100": {"value": pytest.approx(22.5 * 19.9), "currency": "usd"},
    }
    day2 = costs["data"][1]["results"]
    assert [(r["line_item"], r["amount"]["value"]) for r in day2] == [
        ("vault/gpu-8x-h100", pytest.approx(19.9))
    ]
    assert costs["data"][0]["results"][0]["object"] == "costs.result"

    hourly = await get(
        client, org, "/v1/costs", end_time=T0 + 3 * HOUR, bucket_width="1h", group_by="product"
    )
    assert [{r["product"]: r["amount"]["value"] for r in b["results"]} for b in hourly["data"]] == [
        {"forge": pytest.approx(2 * 2.49)},
        {"forge": pytest.approx(2 * 2.49 + 4 * 1.29), "vault": pytest.approx(19.9 / 2)},
        {"forge": pytest.approx(2 * 2.49), "vault": pytest.approx(19.9)},
    ]
    total = await get(client, org, "/v1/costs", end_time=T0 + 3 * HOUR, bucket_width="1h")
    assert [[r["amount"]["value"] for r in b["results"]] for b in total["data"]] == [
        [pytest.approx(4.98)],
        [pytest.approx(4.98 + 5.16 + 9.95)],
        [pytest.approx(4.98 + 19.9)],
    ]
    assert all(
        r["line_item"] is None and r["product"] is None for b in total["data"] for r in b["results"]
    )

    # Each lease is charged the price it was created at, whatever the catalog says now (2.49).
    await add_lease(pool, org.id, active=2 * DAY, ended=2 * DAY + HOUR, gpu_count=1, price=1.99)
    later = await get(client, org, "/v1/costs", start_time=T0 + 2 * DAY, group_by="line_item")
    assert [(r["line_item"], r["amount"]["value"]) for r in later["data"][0]["results"]] == [
        (f"forge/{H100}", pytest.approx(1.99))
    ]


async def test_running_lease_and_rack_count_up_to_now(fresh_db: tuple[str, Pool]) -> None:
    """Not terminated yet: metered to the given now (never past the lease's paid duration)."""
    _, db = fresh_db
    made = await bootstrap_org(
        db,
        name="Run",
        tier="standard",
        metro="fra1",
        admin_email="a@run.example",
        trust_domain="volt.test",
    )
    org = made.org_id
    lease = await add_lease(db, org, active=HOUR - 10.5, ended=None, status="active")
    short = await add_lease(
        db, org, active=0, ended=None, duration_s=600, gpu_count=1, status="active"
    )  # past expires_at, not yet expired
    await add_rack(db, org, ready=HOUR + 30, released=None, status="ready")
    now = T0 + 2 * HOUR + 15.7

    params = GpuUsageParams(
        start_time=T0, end_time=T0 + 3 * HOUR, bucket_width="1h", group_by=["lease_id"]
    )
    page = await query_metered(db, org, GPUS, params, now=now)
    got = [{r["lease_id"]: r["gpu_seconds"] for r in b["results"]} for b in page["data"]]
    assert got == [{lease: 2 * 11, short: 600}, {lease: 2 * HOUR}, {lease: 2 * 15}]

    racks = await query_metered(
        db,
        org,
        RACKS,
        RackUsageParams(start_time=T0, end_time=T0 + 3 * HOUR, bucket_width="1h"),
        now=now,
    )
    assert column(racks, "rack_seconds") == [0, HOUR - 30, 15]

    # An hour later the same lease has run an hour more: nothing was written in between.
    later = await query_metered(
        db, org, GPUS, params.model_copy(update={"end_time": None}), now=now + HOUR
    )
    assert sum(column(later, "gpu_seconds")) == 2 * (3 * HOUR + 15 - (HOUR - 11)) + 600

    costs = await query_costs(
        db,
        org,
        CostsParams(start_time=T0, end_time=T0 + DAY),
        {"forge": "usd", "vault": "usd"},
        now=now,
    )
    expected = (2 * (HOUR + 26) + 600) / HOUR * 2.49 + (HOUR - 15) / HOUR * 19.9
    assert [r["amount"]["value"] for r in costs["data"][0]["results"]] == [
        pytest.approx(expected, abs=1e-6)
    ]


@pytest.mark.parametrize(
    ("path", "params", "param", "code"),
    [
        ("/v1/usage/gpus", {}, "start_time", "missing_required_parameter"),
        ("/v1/usage/gpus", {"start_time": T0, "end_time": T0}, "end_time", "invalid_value"),
        ("/v1/usage/gpus", {"start_time": T0, "group_by": "model"}, "group_by[0]", "invalid_value"),
        ("/v1/usage/gpus", {"start_time": T0, "models": "x"}, "models", "unknown_parameter"),
        (
            "/v1/usage/gpus",
            {"start_time": T0, "bucket_width": "1h", "limit": 169},
            "limit",
            "invalid_value",
        ),
        (
            "/v1/usage/racks",
            {"start_time": T0, "group_by": "lease_id"},
            "group_by[0]",
            "invalid_value",
        ),
        ("/v1/usage/racks", {"start_time": T0, "page": "page_1"}, "page", "invalid_cursor"),
        ("/v1/costs", {"start_time": "today"}, "start_time", "invalid_type"),
        ("/v1/costs", {"start_time": T0, "bucket_width": "1w"}, "bucket_width", "invalid_value"),
        ("/v1/costs", {"start_time": T0, "group_by": "gpu_type"}, "group_by[0]", "invalid_value"),
    ],
)
async def test_bad_queries_name_the_parameter(
    client: Client, org: Org, path: str, params: dict[str, object], param: str, code: str
) -> None:
    r = await client.get(path, key=org.key, params=params)
    r.expect_error(400, code, param)


async def test_reading_usage_takes_the_read_scope(client: Client, org: Org) -> None:
    made = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "w", "scopes": ["write"]}
    )
    writer = made.json()["secret"]
    for path in ("/v1/usage/gpus", "/v1/usage/racks", "/v1/costs"):
        r = await client.get(path, key=writer, params={"start_time": T0})
        r.expect_error(403, "insufficient_scope")
        (await client.get(path, params={"start_time": T0})).expect_error(401)


def test_query_parameters_match_the_spec(spec: Spec) -> None:
    endpoints: list[tuple[str, type[WindowParams]]] = [
        ("/v1/usage/gpus", GpuUsageParams),
        ("/v1/usage/racks", RackUsageParams),
        ("/v1/costs", CostsParams),
    ]
    for path, model in endpoints:
        names = set()
        for p in spec.doc["paths"][path]["get"]["parameters"]:
            if "$ref" in p:
                p = spec.doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
            names.add(p["name"])
        assert names == set(model.model_fields), path


@pytest.mark.slow
async def test_a_real_lease_is_billed_from_active_to_terminated(
    forge: ForgeService, make_org: MakeOrg
) -> None:
    """Driven by the reconciler against the real API server: the lease's own `started_at` and
    `terminated_at` give its GPU-seconds, and its locked-in price its cost."""
    org = await make_org()
    created = await forge.api.post(
        "/v1/forge/leases",
        key=org.key,
        json={"gpu_type": H100, "gpu_count": 2, "metro": "fra1", "duration_seconds": 3600},
    )
    assert created.status == 202, created.body
    lease_id = created.json()["id"]

    async def until(status: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            lease = (await forge.api.get(f"/v1/forge/leases/{lease_id}", key=org.key)).json()
            if lease["status"] == status:
                return lease  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, lease
            await asyncio.sleep(0.2)

    active = await until("active")
    start = active["started_at"]
    running = await forge.api.get(
        "/v1/usage/gpus", key=org.key, params={"start_time": start - 60, "bucket_width": "1m"}
    )
    assert running.status == 200, running.body
    so_far = sum(column(running.json(), "gpu_seconds"))
    assert 0 <= so_far <= 2 * (int(time.time()) - start)
    await asyncio.sleep(2.1)
    assert (await forge.api.delete(f"/v1/forge/leases/{lease_id}", key=org.key)).status == 202
    ended = await until("terminated")
    expected = 2 * (ended["terminated_at"] - start)
    assert expected >= 4

    window = {"start_time": start - 60, "end_time": ended["terminated_at"] + 60}
    page = (
        await forge.api.get(
            "/v1/usage/gpus",
            key=org.key,
            params={**window, "bucket_width": "1m", "group_by": "lease_id"},
        )
    ).json()
    assert sum(column(page, "gpu_seconds")) == expected
    assert {r["lease_id"] for b in page["data"] for r in b["results"]} == {lease_id}
    costs = (await forge.api.get("/v1/costs", key=org.key, params=window)).json()
    value = sum(r["amount"]["value"] for b in costs["data"] for r in b["results"])
    assert value == pytest.approx(expected / HOUR * active["price_per_gpu_hour"], abs=1e-5)


@pytest.mark.slow
async def test_a_real_rack_is_billed_from_ready_to_released(
    tmp_path: Path, settings: Settings, spec: Spec, make_org: MakeOrg, pool: Pool
) -> None:
    """Reserved through the API (locking in Vault's price for its type), made ready and released
    by the reconciler over the Redfish emulator: its `ready_at` and `released_at` give its
    rack-seconds."""
    org = await make_org()
    async with vault_lab(tmp_path, settings, spec) as lab:
        rack = await lab.ready_rack(org.key)
        price = await pool.fetchval(
            "SELECT price_per_rack_hour FROM vault_racks WHERE id = $1", rack["id"]
        )
        assert price == lab.vault.prices["gpu-8x-h100"]
        await asyncio.sleep(1.1)
        assert (await lab.api.delete(f"/v1/vault/racks/{rack['id']}", key=org.key)).status == 202
        released = await lab.wait(rack["id"], org.key, "released")
        window = {"start_time": rack["ready_at"] - 60, "end_time": released["released_at"] + 60}
        page = await get(lab.api, org, "/v1/usage/racks", **window, bucket_width="1m")
        seconds = released["released_at"] - rack["ready_at"]
        assert seconds >= 1 and sum(column(page, "rack_seconds")) == seconds
        costs = await get(lab.api, org, "/v1/costs", **window, group_by="product")
        assert [r["amount"]["value"] for b in costs["data"] for r in b["results"]] == [
            pytest.approx(seconds / HOUR * price, abs=1e-5)
        ]
