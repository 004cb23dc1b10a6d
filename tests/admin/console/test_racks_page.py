"""The Vault racks pages in Chromium, over a lab rack (Redfish emulator, swtpm and agent per
node): the rack's state and nodes, and each node's attestation verdict from the page's form
equal to what `GET /v1/vault/racks/{id}/attestation` says of the same nodes, one of them
tampered with; another org's rack id is a 404 on every page and form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser

from tests.admin.console.conftest import (
    ConsoleService,
    console_app,
    console_service,
    csrf_token,
    get,
    signed_in_page,
)
from tests.admin.vault.conftest import Lab, vault_lab
from tests.support.idp import Idp
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.db import Pool

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def vault_console(
    settings: Settings, idp: Idp, spec: Spec, fresh_db: tuple[str, Pool], tmp_path: Path
) -> AsyncIterator[tuple[ConsoleService, Lab]]:
    """The lab's rack, and the console service with Vault on it (the lab's own service
    stopped: one reconciler drives the rack)."""
    ours = settings.model_copy(update={"database_url": fresh_db[0]})
    async with vault_lab(tmp_path, ours, spec) as lab:
        await lab.runner.cleanup()
        lab.runner = web.AppRunner(web.Application())  # nothing left for the lab to stop
        app = console_app(ours, vault=lab.vault)
        async with console_service(settings, idp, spec, fresh_db, app=app) as svc:
            lab.app, lab.api.base = svc.app, svc.base
            yield svc, lab


async def test_rack_state_and_attestation_verdicts(
    chromium: Browser, vault_console: tuple[ConsoleService, Lab]
) -> None:
    svc, lab = vault_console
    a, b = svc.a, svc.b
    rack = await lab.ready_rack(a.key)
    # A measurement the reference values do not allow: that node must fail, here and in the API.
    lab.nodes[2].agent.measure(4, b"rootkit.efi", "unsigned EFI binary")

    page = await signed_in_page(chromium, svc, a)
    await page.click("#nav-racks")
    row = page.locator("#racks tbody tr", has_text=rack["id"])
    cells = await row.locator("td").all_text_contents()
    assert cells[:6] == [rack["id"], "ready", rack["rack_type"], "fra1", "DE", "3"]
    await row.locator("a").click()
    assert await page.text_content("#rack-id") == rack["id"]
    nodes = await page.locator("#rack-nodes tbody tr").all()
    assert len(nodes) == 3
    assert [await n.locator("td").first.text_content() for n in nodes] == [
        n["name"] for n in rack["nodes"]
    ]

    await page.click("#attest")
    shown = {}
    for tr in await page.locator("#attestation tbody tr").all():
        name, node_id, verdict, failed, _ = await tr.locator("td").all_text_contents()
        shown[node_id] = (name, verdict, failed)
    api = await get(svc, a, f"/v1/vault/racks/{rack['id']}/attestation")
    assert {k: v[1] for k, v in shown.items()} == {n["node_id"]: n["verdict"] for n in api["nodes"]}
    tampered = next(n for n in api["nodes"] if n["name"] == lab.nodes[2].name)
    assert (
        shown[tampered["node_id"]][1] == "fail" and "measurements" in shown[tampered["node_id"]][2]
    )
    assert sorted(v[1] for v in shown.values()) == ["fail", "pass", "pass"]
    overall = page.locator("#attestation-verdict")
    assert await overall.text_content() == api["verdict"] == "fail"
    csrf = await csrf_token(page, svc.pool)
    await page.context.close()

    # Org B: no rack of its own, and A's rack id is a 404 to every page and form.
    page = await signed_in_page(chromium, svc, b)
    await page.goto(f"{svc.base}/console/racks")
    assert rack["id"] not in (await page.text_content("#racks") or "")
    response = await page.goto(f"{svc.base}/console/racks/{rack['id']}")
    assert response is not None and response.status == 404
    assert await page.locator("#rack-nodes").count() == 0
    forged = await page.request.post(
        f"{svc.base}/console/racks/{rack['id']}/attestation",
        form={"csrf_token": await csrf_token(page, svc.pool)},
    )
    text = await forged.text()
    assert forged.status == 404 and all(n["node_id"] not in text for n in api["nodes"])
    # A's own token does not carry over to B's session.
    stolen = await page.request.post(
        f"{svc.base}/console/racks/{rack['id']}/attestation", form={"csrf_token": csrf}
    )
    assert stolen.status == 403
    await page.context.close()
