"""Forge through the SDK and the CLI against a real kube-apiserver: availability, a lease from
pending to active (waited on with `wait`, and with progress in the CLI), an idempotent create,
a minted kubeconfig that works in the lease's namespace, termination; a wait that cannot end
well or runs out raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp import web

from tests.conftest import MakeOrg, Org, serve
from tests.support.forge import A100, H100, ForgeService, tenant_api
from tests.volt.conftest import RunVolt, sync
from volt import AsyncVolt, BadRequestError, UnexpectedStatusError, Volt, WaitTimeoutError
from volt.types import Lease
from volt.types.forge import ENDED_LEASE_STATUSES

pytestmark = pytest.mark.slow


async def wait_ended(client: AsyncVolt, lease_id: str) -> Lease:
    return await client.forge.leases.wait(
        lease_id, until="terminated", poll_interval=0.2, timeout=60
    )


@pytest_asyncio.fixture
async def org(forge: ForgeService, make_org: MakeOrg) -> AsyncIterator[Org]:
    """A fresh org whose leases are all ended afterwards, whatever the test did: the fleet is
    shared by the session."""
    owner = await make_org()
    yield owner
    async with AsyncVolt(base_url=forge.api.base, api_key=owner.key) as client:
        async for lease in client.forge.leases.list():
            if lease.status not in ENDED_LEASE_STATUSES:
                await client.forge.leases.terminate(lease.id)
                await wait_ended(client, lease.id)


async def test_sdk_lease_lifecycle(forge: ForgeService, org: Org, tmp_path: Path) -> None:
    async with AsyncVolt(base_url=forge.api.base, api_key=org.key) as client:
        rows = (await client.forge.availability(metro="fra1")).data
        assert [(r.gpu_type, r.total_gpus, r.price_per_gpu_hour) for r in rows] == [
            (H100, 16, 2.49)
        ]
        args = {"gpu_type": A100, "gpu_count": 2, "metro": "ams1", "duration_seconds": 3600}
        lease = await client.forge.leases.create(**args, idempotency_key="sdk-1")  # type: ignore[arg-type]
        assert lease.status == "pending" and lease.last_error is None
        again = await client.forge.leases.create(**args, idempotency_key="sdk-1")  # type: ignore[arg-type]
        assert again.id == lease.id
        with pytest.raises(BadRequestError) as reused:
            await client.forge.leases.create(**{**args, "gpu_count": 1}, idempotency_key="sdk-1")  # type: ignore[arg-type]
        assert reused.value.code == "idempotency_key_reused"
        assert reused.value.param == "Idempotency-Key"

        seen: list[str] = []
        active = await client.forge.leases.wait(
            lease.id, poll_interval=0.2, timeout=60, on_update=lambda x: seen.append(x.status)
        )
        assert active.status == "active" and seen[-1] == "active"
        assert set(seen) <= {"pending", "provisioning", "active"}
        assert active.namespace and active.nodes and sum(n.gpus for n in active.nodes) == 2
        assert [x.id for x in (await client.forge.leases.list(status="active")).data] == [lease.id]

        minted = await client.forge.leases.kubeconfig(lease.id)
        assert minted.namespace == active.namespace and minted.expires_at <= (
            active.expires_at or 0
        )
        core = tenant_api(minted.kubeconfig, tmp_path)
        pods = await sync(core.list_namespaced_pod, minted.namespace)
        assert pods.items == []

        with Volt(base_url=forge.api.base, api_key=org.key) as sync_client:
            # Still active an hour from now: a wait for its end runs out, naming the status.
            with pytest.raises(WaitTimeoutError) as late:
                await sync(
                    sync_client.forge.leases.wait,
                    lease.id,
                    until="terminated",
                    timeout=0.3,
                    poll_interval=0.1,
                )
            assert late.value.status == "active" and "still active" in str(late.value)

            ending = await client.forge.leases.terminate(lease.id)
            assert ending.status == "terminating"
            # A terminating lease never becomes active again: waiting for it raises at once.
            with pytest.raises(UnexpectedStatusError) as never:
                await sync(sync_client.forge.leases.wait, lease.id, poll_interval=0.1)
            assert never.value.status in ("terminating", "terminated")
            assert never.value.resource.id == lease.id
            assert (await wait_ended(client, lease.id)).status == "terminated"

            listed = await sync(lambda: list(sync_client.forge.leases.list(limit=1)))
    assert [x.id for x in listed] == [lease.id]


async def test_cli_lease_lifecycle(
    forge: ForgeService, org: Org, run_volt: RunVolt, tmp_path: Path
) -> None:
    base, key = forge.api.base, org.key
    rows = (
        await run_volt("forge", "availability", "--count", "3", "--json", base=base, key=key)
    ).json()
    assert {r["gpu_type"] for r in rows} == {H100, A100}
    table = await run_volt("forge", "availability", base=base, key=key)
    assert "PRICE/GPU-HOUR" in table.stdout and "2.49 USD" in table.stdout

    created = await run_volt(
        "forge", "lease", "create", "--gpu-type", H100, "--gpu-count", "1", "--metro", "fra1",
        "--duration", "3600", "--wait", "--poll-interval", "0.2", "--json",
        base=base, key=key,
    )  # fmt: skip
    lease = created.json()
    assert lease["status"] == "active" and lease["namespace"]
    # Progress went to stderr, one line per state, ending active.
    progress = [line for line in created.stderr.splitlines() if line.startswith(lease["id"])]
    assert progress[0].startswith(f"{lease['id']}: pending") and "active" in progress[-1]

    listed = (await run_volt("forge", "lease", "list", "--json", base=base, key=key)).json()
    assert [x["id"] for x in listed] == [lease["id"]]
    out = tmp_path / "kubeconfig"
    minted = await run_volt("forge", "kubeconfig", lease["id"], "-o", str(out), base=base, key=key)
    assert minted.code == 0, minted.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert (
        yaml.safe_load(out.read_text())["contexts"][0]["context"]["namespace"] == lease["namespace"]
    )

    ended = await run_volt("forge", "lease", "terminate", lease["id"], base=base, key=key)
    assert ended.code == 0 and "terminating" in ended.stdout
    async with AsyncVolt(base_url=base, api_key=key) as client:
        await wait_ended(client, lease["id"])


async def test_a_retried_post_whose_answer_was_lost_creates_one_lease(
    forge: ForgeService, org: Org
) -> None:
    """A proxy in front of Forge delivers the first POST but drops the connection instead of
    the answer: the SDK retries with the same Idempotency-Key and the real service answers
    with the lease it already made."""
    posts: list[str] = []

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method, forge.api.base + request.path_qs, data=body, headers=headers
            ) as upstream,
        ):
            payload = await upstream.read()
            status, content_type = upstream.status, upstream.content_type
        if request.method == "POST":
            posts.append(request.headers["Idempotency-Key"])
            if len(posts) == 1:
                assert request.transport is not None
                request.transport.close()  # the lease exists; its answer never arrives
                return web.Response(status=500)
        return web.Response(body=payload, status=status, content_type=content_type)

    proxy = web.Application()
    proxy.router.add_route("*", "/{tail:.*}", relay)
    runner, base = await serve(proxy)
    try:
        async with AsyncVolt(base_url=base, api_key=org.key, max_retries=2) as client:
            lease = await client.forge.leases.create(
                gpu_type=A100, gpu_count=1, metro="ams1", duration_seconds=3600
            )
            assert len(posts) == 2 and posts[0] == posts[1]
            assert [x.id async for x in client.forge.leases.list()] == [lease.id]
    finally:
        await runner.cleanup()
