"""The SDK's `client.usage.gpus`, `client.usage.racks` and `client.costs`, and `volt usage
gpus|racks|costs`, against the live admin service over lease and rack rows with set times."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import BaseModel

from tests.admin.test_usage_metered import DAY, HOUR, T0, add_lease, add_rack
from tests.conftest import Org
from tests.support.forge import H100
from tests.support.openapi import Spec
from tests.volt.conftest import RunVolt, sync
from volt import AsyncVolt, Volt, types
from volt.types import billing
from voltcore.db import Pool


@pytest_asyncio.fixture
async def billed(org: Org, pool: Pool) -> dict[str, str]:
    """Two leases and a rack over the first two days after T0."""
    return {
        "h100": await add_lease(pool, org.id, active=0, ended=2 * HOUR, gpu_count=4),
        "a100": await add_lease(
            pool,
            org.id,
            active=DAY - HOUR,
            ended=DAY + HOUR,
            gpu_count=1,
            gpu_type="NVIDIA-A100-SXM4-80GB",
            price=1.29,
        ),
        "rack": await add_rack(pool, org.id, ready=HOUR, released=DAY + 2 * HOUR),
    }


@pytest_asyncio.fixture
async def admin(admin_app: tuple[web.Application, str], org: Org) -> AsyncIterator[Volt]:
    client = Volt(base_url=admin_app[1], api_key=org.key)
    yield client
    client.close()


@pytest_asyncio.fixture
async def aadmin(admin_app: tuple[web.Application, str], org: Org) -> AsyncIterator[AsyncVolt]:
    async with AsyncVolt(base_url=admin_app[1], api_key=org.key) as client:
        yield client


async def test_sdk_usage_and_costs(admin: Volt, aadmin: AsyncVolt, billed: dict[str, str]) -> None:
    window = {"start_time": T0, "end_time": T0 + 2 * DAY}
    gpus = await aadmin.usage.gpus.retrieve(**window, group_by=["lease_id"])  # type: ignore[arg-type]
    assert isinstance(gpus, types.GpuUsagePage)
    assert [{r.lease_id: r.gpu_seconds for r in b.results} for b in gpus.data] == [
        {billed["h100"]: 4 * 2 * HOUR, billed["a100"]: HOUR},
        {billed["a100"]: HOUR},
    ]
    # Paginated: one bucket a page, walked to the end, the same from the sync client.
    walked = [
        b
        async for b in aadmin.usage.racks.list(**window, limit=1)  # type: ignore[arg-type]
    ]
    assert [sum(r.rack_seconds for r in b.results) for b in walked] == [DAY - HOUR, 2 * HOUR]
    synced = await sync(lambda: list(admin.usage.racks.list(**window, limit=1)))  # type: ignore[arg-type]
    assert [b.model_dump() for b in synced] == [b.model_dump() for b in walked]

    costs = await sync(admin.costs.retrieve, **window, group_by=["product", "line_item"])  # type: ignore[arg-type]
    first = {(r.product, r.line_item): r.amount.value for r in costs.data[0].results}
    assert first == {
        ("forge", f"forge/{H100}"): pytest.approx(8 * 2.49),
        ("forge", "forge/NVIDIA-A100-SXM4-80GB"): pytest.approx(1.29),
        ("vault", "vault/gpu-8x-h100"): pytest.approx(23 * 19.9),
    }
    assert {r.amount.currency for r in costs.data[0].results} == {"usd"}


def test_sdk_models_match_the_spec(spec: Spec) -> None:
    schemas = spec.doc["components"]["schemas"]
    models: dict[str, type[BaseModel]] = {
        "GpuUsageResult": billing.GpuUsageResult,
        "GpuUsageBucket": billing.Bucket[billing.GpuUsageResult],
        "GpuUsagePage": billing.GpuUsagePage,
        "RackUsageResult": billing.RackUsageResult,
        "RackUsagePage": billing.RackUsagePage,
        "CostsResult": billing.CostsResult,
        "CostsPage": billing.CostsPage,
    }
    for name, model in models.items():
        assert set(schemas[name]["properties"]) == set(model.model_fields), name
        assert set(schemas[name]["required"]) <= set(model.model_fields), name
    amount = schemas["CostsResult"]["properties"]["amount"]
    assert set(amount["properties"]) == set(billing.CostAmount.model_fields)


async def test_cli(
    run_volt: RunVolt, admin_app: tuple[web.Application, str], org: Org, billed: dict[str, str]
) -> None:
    base, since = admin_app[1], ("--start-time", str(T0), "--end-time", str(T0 + 2 * DAY))
    page = (
        await run_volt(
            "usage", "gpus", *since, "--group-by", "gpu_type", "--json", base=base, key=org.key
        )
    ).json()
    # Every page since T0 in one: the SDK walked them all.
    assert page["has_more"] is False and page["data"][0]["start_time"] == T0
    first = {r["gpu_type"]: r["gpu_seconds"] for r in page["data"][0]["results"]}
    assert first == {H100: 8 * HOUR, "NVIDIA-A100-SXM4-80GB": HOUR}

    table = await run_volt(
        "usage", "racks", *since, "--group-by", "rack_id", base=base, key=org.key
    )
    assert table.code == 0, table.stderr
    header, row, *_ = table.stdout.splitlines()
    assert header.split()[:4] == ["START", "RACK", "TYPE", "METRO"]
    assert billed["rack"] in row and "23.000" in row

    costs = await run_volt(
        "usage", "costs", *since, "--group-by", "line_item", base=base, key=org.key
    )
    assert f"forge/{H100}" in costs.stdout and f"{8 * 2.49:.2f}" in costs.stdout

    # Tokens stay the default, and a group the product does not have is the server's 400.
    tokens = await run_volt("usage", "--json", *since, base=base, key=org.key)
    assert tokens.json()["data"][0]["results"] == []
    wrong = await run_volt("usage", "racks", "--group-by", "model", base=base, key=org.key)
    assert wrong.code == 1 and "group_by" in wrong.stderr
