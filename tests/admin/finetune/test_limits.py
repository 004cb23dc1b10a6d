"""Per-org limits of fine-tuning against the live admin service and its real Postgres: one org
cannot fill the shared artifact store (file bytes, file count) or the workers' queue
(unfinished jobs); each attack gets a 409 naming the limit, and other orgs are untouched."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from admin.finetune.appkeys import FINETUNE_SETTINGS
from tests.conftest import MakeOrg
from tests.support.client import Client
from tests.support.finetune import FACT_DATA, upload
from voltcore.config import Settings

SMOL = "smollm2-135m-instruct"
JOBS = "/v1/fine-tuning/jobs"


def _limit(admin_app: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, **limits: int) -> None:
    for name, value in limits.items():
        monkeypatch.setattr(admin_app[0][FINETUNE_SETTINGS], name, value)


async def _stored(client: Client, key: str) -> list[Any]:
    return list((await client.get("/v1/files", key=key, params={"limit": 100})).json()["data"])


async def test_file_storage_limit_refuses_the_upload_that_passes_it(
    client: Client, make_org: MakeOrg, admin_app: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await make_org("A"), await make_org("B")
    _limit(admin_app, monkeypatch, max_org_file_bytes=2 * len(FACT_DATA) + 10)
    for _ in range(2):
        assert (await upload(client, a.key, FACT_DATA)).status == 200
    # The third would pass the org's storage: refused, and nothing of it stays on disk.
    r = await upload(client, a.key, FACT_DATA)
    error = r.expect_error(409, "file_storage_limit_exceeded", "file")
    assert "max_org_file_bytes" in error["message"]
    assert len(await _stored(client, a.key)) == 2
    # Another org's room is its own.
    assert (await upload(client, b.key, FACT_DATA)).status == 200


async def test_file_storage_limit_holds_under_concurrent_uploads(
    client: Client,
    make_org: MakeOrg,
    admin_app: tuple[Any, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = await make_org("A")
    _limit(admin_app, monkeypatch, max_org_file_bytes=3 * len(FACT_DATA))
    # Eight uploads at once, each seeing room before any is stored: only three may land.
    replies = await asyncio.gather(*(upload(client, a.key, FACT_DATA) for _ in range(8)))
    statuses = sorted(r.status for r in replies)
    assert statuses == [200] * 3 + [409] * 5, statuses
    for r in replies:
        if r.status == 409:
            r.expect_error(409, "file_storage_limit_exceeded", "file")
    assert len(await _stored(client, a.key)) == 3
    on_disk = list((settings.artifacts / "files" / a.id).iterdir())
    assert len(on_disk) == 3 and sum(p.stat().st_size for p in on_disk) == 3 * len(FACT_DATA)


async def test_file_count_limit(
    client: Client, make_org: MakeOrg, admin_app: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = await make_org("A")
    _limit(admin_app, monkeypatch, max_org_files=2)
    ids = [(await upload(client, a.key, FACT_DATA)).json()["id"] for _ in range(2)]
    error = (await upload(client, a.key, FACT_DATA)).expect_error(
        409, "file_count_limit_exceeded", "file"
    )
    assert "max_org_files" in error["message"]
    # Deleting one makes room again.
    assert (await client.delete(f"/v1/files/{ids[0]}", key=a.key)).status == 200
    assert (await upload(client, a.key, FACT_DATA)).status == 200


async def test_unfinished_job_limit(
    client: Client, make_org: MakeOrg, admin_app: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await make_org("A"), await make_org("B")
    _limit(admin_app, monkeypatch, max_org_unfinished_jobs=2)
    file_a = (await upload(client, a.key, FACT_DATA)).json()["id"]
    body = {"model": SMOL, "training_file": file_a}
    # Four at once: the org's lock lets exactly two through.
    replies = await asyncio.gather(*(client.post(JOBS, key=a.key, json=body) for _ in range(4)))
    assert sorted(r.status for r in replies) == [202, 202, 409, 409]
    refused = next(r for r in replies if r.status == 409)
    error = refused.expect_error(409, "unfinished_job_limit_exceeded")
    assert "max_org_unfinished_jobs" in error["message"]
    # B is not held back by A's jobs.
    file_b = (await upload(client, b.key, FACT_DATA)).json()["id"]
    r = await client.post(JOBS, key=b.key, json={"model": SMOL, "training_file": file_b})
    assert r.status == 202, r.body
    # A finished (here: cancelled) job no longer counts.
    job = next(r for r in replies if r.status == 202).json()
    assert (await client.post(f"{JOBS}/{job['id']}/cancel", key=a.key)).status == 200
    assert (await client.post(JOBS, key=a.key, json=body)).status == 202
