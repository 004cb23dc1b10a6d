"""The Forge leases page in Chromium: leases as the API shows them, a kubeconfig minted by the
page's form and downloaded, that works against the real kube-apiserver for the lease's
namespace; another org's lease is a 404, and a deployment without a cluster says so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from playwright.async_api import Browser

from admin.forge.appkeys import FORGE
from lab.kube import KubeCluster
from tests.admin.console.conftest import (
    ConsoleService,
    console_service,
    csrf_token,
    get,
    signed_in_page,
)
from tests.conftest import Org
from tests.support.forge import H100, forge_settings, tenant_api
from tests.support.idp import Idp
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.db import Pool


@pytest_asyncio.fixture
async def forge_console(
    settings: Settings, idp: Idp, spec: Spec, fresh_db: tuple[str, Pool], cluster: KubeCluster
) -> AsyncIterator[ConsoleService]:
    """Forge on the session's cluster as an installation of its own: its reconciler keeps to
    this database's leases and never collects the shared `forge` service's namespaces."""
    ours = forge_settings(cluster, installation="console-test")
    async with console_service(settings, idp, spec, fresh_db, forge=ours) as svc:
        yield svc


async def active_lease(svc: ConsoleService, org: Org) -> dict[str, Any]:
    r = await svc.cli.post(
        "/v1/forge/leases",
        key=org.key,
        json={"gpu_type": H100, "gpu_count": 1, "metro": "fra1", "duration_seconds": 3600},
    )
    assert r.status == 202, r.body
    deadline = time.monotonic() + 60
    while True:
        lease = await get(svc, org, f"/v1/forge/leases/{r.json()['id']}")
        if lease["status"] == "active":
            return lease  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, lease
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_mint_a_kubeconfig_from_the_page(
    chromium: Browser, forge_console: ConsoleService, tmp_path: Path
) -> None:
    svc = forge_console
    mine, theirs = await active_lease(svc, svc.a), await active_lease(svc, svc.b)

    page = await signed_in_page(chromium, svc, svc.a)
    await page.click("#nav-leases")
    assert await page.locator("#forge-off").count() == 0
    row = page.locator("#leases tbody tr", has_text=mine["id"])
    cells = await row.locator("td").all_text_contents()
    assert cells[:4] == [mine["id"], "active", f"1 x {H100}", "fra1"]
    assert cells[5].startswith(time.strftime("%Y-%m-%d", time.gmtime(mine["expires_at"])))
    assert theirs["id"] not in (await page.text_content("#leases") or "")

    async with page.expect_download() as info:
        await page.click(f"#mint-{mine['id']}")
    download = await info.value
    assert download.suggested_filename == f"{mine['id']}.kubeconfig.yaml"
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    config = yaml.safe_load(text)
    ns = mine["namespace"]
    assert config["contexts"][0]["context"]["namespace"] == ns
    forge = svc.app[FORGE].value
    assert forge is not None and config["clusters"][0]["cluster"]["server"] == forge.kube.server
    tenant = tenant_api(text, tmp_path)
    assert (await asyncio.to_thread(tenant.list_namespaced_pod, ns)).items == []

    # Org A, with its own valid CSRF token, names org B's lease: 404, no kubeconfig.
    forged = await page.request.post(
        f"{svc.base}/console/leases/{theirs['id']}/kubeconfig",
        form={"csrf_token": await csrf_token(page, svc.pool)},
    )
    assert forged.status == 404
    body = await forged.text()
    assert "apiVersion" not in body and theirs["namespace"] not in body
    # Without the token, nothing at all.
    bare = await page.request.post(
        f"{svc.base}/console/leases/{mine['id']}/kubeconfig", form={"csrf_token": "guess"}
    )
    assert bare.status == 403
    await page.context.close()

    page = await signed_in_page(chromium, svc, svc.b)
    await page.goto(f"{svc.base}/console/leases")
    leases = await page.text_content("#leases") or ""
    assert theirs["id"] in leases and mine["id"] not in leases
    await page.context.close()

    for org, lease in ((svc.a, mine), (svc.b, theirs)):
        r = await svc.cli.delete(f"/v1/forge/leases/{lease['id']}", key=org.key)
        assert r.status == 202, r.body


async def test_without_a_cluster_the_page_says_so(
    chromium: Browser, console: ConsoleService
) -> None:
    lease_id = "lease_consoleoff" + console.a.id[-8:].lower()
    await console.pool.execute(
        """INSERT INTO forge_leases (id, org_id, gpu_type, gpu_count, metro, duration_s, status,
                                     placement, namespace, price_per_gpu_hour, active_at,
                                     expires_at)
           VALUES ($1, $2, $3, 2, 'fra1', 3600, 'active', '{}', $1, 2.49, now(),
                   now() + interval '1 hour')""",
        lease_id,
        console.a.id,
        H100,
    )
    page = await signed_in_page(chromium, console, console.a)
    await page.goto(f"{console.base}/console/leases")
    off = await page.text_content("#forge-off") or ""
    assert "Forge is not configured on this deployment (no cluster)" in off
    assert lease_id in (await page.text_content("#leases") or "")
    assert await page.locator("#leases form").count() == 0
    response = await page.request.post(
        f"{console.base}/console/leases/{lease_id}/kubeconfig",
        form={"csrf_token": await csrf_token(page, console.pool)},
    )
    assert response.status == 503 and "not configured" in await response.text()
    await page.context.close()
