"""Idempotency-Key expiry and takeover against the live admin service and its real Postgres,
through the fine-tuning jobs route: a key past its TTL is free for another body (and not
before), a key left in progress by a request that died is taken over by its retry after the
lock timeout (and not before), and the sweep deletes expired keys only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from finetune import store
from finetune.states import MACHINE, JobEvent
from finetune.store import Job
from tests.conftest import Org, serve
from tests.support.client import Client
from tests.support.finetune import FACT_DATA, upload
from voltcore.appkeys import POOL, PRINCIPAL, SETTINGS
from voltcore.config import Settings
from voltcore.db import Pool
from voltcore.idempotency import idempotent, sweep
from voltcore.service import base_app

JOBS = "/v1/fine-tuning/jobs"
SMOL = "smollm2-135m-instruct"
DAY_S = 24 * 3600


@pytest_asyncio.fixture(autouse=True)
async def _cancel_jobs(pool: Pool, org: Org) -> AsyncIterator[None]:
    # No worker runs here: cancel this org's jobs so later tests' workers never pick them up.
    yield
    rows = await pool.fetch(
        "SELECT * FROM ft_jobs WHERE org_id = $1 AND status = ANY($2::text[])",
        org.id,
        list(MACHINE.open),
    )
    for row in rows:
        await store.JOBS.apply(pool, Job.from_record(row), JobEvent.CANCEL)


async def _bodies(client: Client, org: Org) -> tuple[dict[str, Any], dict[str, Any]]:
    file_id = (await upload(client, org.key, FACT_DATA)).json()["id"]
    return (
        {"model": SMOL, "training_file": file_id, "seed": 1},
        {"model": SMOL, "training_file": file_id, "seed": 2},
    )


async def _age(pool: Pool, org: Org, key: str, column: str, seconds: float) -> None:
    await pool.execute(
        f"UPDATE idempotency_keys SET {column} = now() - make_interval(secs => $3) "
        "WHERE org_id = $1 AND key = $2",
        org.id,
        key,
        seconds,
    )


async def test_key_past_its_ttl_is_reusable_with_another_body(
    client: Client, org: Org, pool: Pool
) -> None:
    one, two = await _bodies(client, org)
    h = {"Idempotency-Key": "k-ttl"}
    first = await client.post(JOBS, key=org.key, json=one, headers=h)
    assert first.status == 202
    # Within the TTL the key is bound to its body.
    await _age(pool, org, "k-ttl", "created_at", DAY_S - 60)
    (await client.post(JOBS, key=org.key, json=two, headers=h)).expect_error(
        400, "idempotency_key_reused", "Idempotency-Key"
    )
    # Past 24 h (the default) it is a fresh key: another body creates another job.
    await _age(pool, org, "k-ttl", "created_at", DAY_S + 1)
    again = await client.post(JOBS, key=org.key, json=two, headers=h)
    assert again.status == 202 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"] and again.json()["seed"] == 2
    # ...and is bound to that new body from now on.
    replay = await client.post(JOBS, key=org.key, json=two, headers=h)
    assert replay.json() == again.json() and replay.headers["idempotent-replayed"] == "true"


async def _crash(pool: Pool, org: Org, key: str) -> None:
    """As if the process holding the key had died before storing its response."""
    await pool.execute(
        """UPDATE idempotency_keys SET status = NULL, response = NULL, locked_at = now()
           WHERE org_id = $1 AND key = $2""",
        org.id,
        key,
    )


async def test_key_left_in_progress_is_taken_over_after_the_lock_timeout(
    client: Client, org: Org, pool: Pool
) -> None:
    one, two = await _bodies(client, org)
    h = {"Idempotency-Key": "k-crash"}
    assert (await client.post(JOBS, key=org.key, json=one, headers=h)).status == 202
    await _crash(pool, org, "k-crash")
    # While the first attempt may still be running, a retry is refused.
    (await client.post(JOBS, key=org.key, json=one, headers=h)).expect_error(
        409, "idempotency_request_in_progress", "Idempotency-Key"
    )
    await _age(pool, org, "k-crash", "locked_at", 61)  # past the 60 s default
    # Another body cannot steal the abandoned key...
    (await client.post(JOBS, key=org.key, json=two, headers=h)).expect_error(
        400, "idempotency_key_reused", "Idempotency-Key"
    )
    # ...its retry takes it over, runs, and is replayed from then on.
    retry = await client.post(JOBS, key=org.key, json=one, headers=h)
    assert retry.status == 202 and "idempotent-replayed" not in retry.headers
    replay = await client.post(JOBS, key=org.key, json=one, headers=h)
    assert replay.json() == retry.json() and replay.headers["idempotent-replayed"] == "true"


async def test_ttl_and_lock_timeout_are_settings(
    client: Client,
    org: Org,
    pool: Pool,
    admin_app: tuple[Any, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = admin_app[0][SETTINGS]
    monkeypatch.setattr(settings, "idempotency_lock_timeout_s", 0.3)
    monkeypatch.setattr(settings, "idempotency_ttl_s", 1.0)
    one, two = await _bodies(client, org)
    h = {"Idempotency-Key": "k-set"}
    assert (await client.post(JOBS, key=org.key, json=one, headers=h)).status == 202
    await _crash(pool, org, "k-set")
    await asyncio.sleep(0.4)
    assert (await client.post(JOBS, key=org.key, json=one, headers=h)).status == 202
    (await client.post(JOBS, key=org.key, json=two, headers=h)).expect_error(400)
    await asyncio.sleep(1.1)
    again = await client.post(JOBS, key=org.key, json=two, headers=h)
    assert again.status == 202 and "idempotent-replayed" not in again.headers


async def test_sweep_deletes_expired_keys_only(client: Client, org: Org, pool: Pool) -> None:
    one, two = await _bodies(client, org)
    for key, body in (("k-old", one), ("k-new", two)):
        headers = {"Idempotency-Key": key}
        assert (await client.post(JOBS, key=org.key, json=body, headers=headers)).status == 202
    await _age(pool, org, "k-old", "created_at", DAY_S + 1)
    assert await sweep(pool, DAY_S) >= 1
    keys = await pool.fetch("SELECT key FROM idempotency_keys WHERE org_id = $1", org.id)
    assert [r["key"] for r in keys] == ["k-new"]


async def test_a_slow_original_cannot_overwrite_the_request_that_took_its_key_over(
    settings: Settings, org: Org, pool: Pool
) -> None:
    """The first request is not dead, only slow: it finishes after its retry took the key
    over. The retry's answer stays the one replayed; the original's is dropped."""
    gate, calls = asyncio.Event(), [0]
    app = base_app(settings.model_copy(update={"idempotency_lock_timeout_s": 0.2}))

    async def handler(request: web.Request) -> web.Response:
        async def produce() -> tuple[int, dict[str, Any]]:
            calls[0] += 1
            n = calls[0]
            if n == 1:
                await gate.wait()
            return 201, {"attempt": n}

        return await idempotent(request, app[POOL], request[PRINCIPAL].org_id, {}, produce)

    app.router.add_post("/v1/test-idempotency/slow", handler)
    runner, base = await serve(app)
    url, h = (
        f"{base}/v1/test-idempotency/slow",
        {
            "Authorization": f"Bearer {org.key}",
            "Idempotency-Key": "k-slow",
        },
    )
    try:
        async with aiohttp.ClientSession() as session:
            original = asyncio.create_task(session.post(url, headers=h, json={}))
            await asyncio.sleep(0.4)  # past the lock timeout, still running
            async with session.post(url, headers=h, json={}) as retry:
                assert retry.status == 201 and await retry.json() == {"attempt": 2}
            gate.set()
            async with await original as first:
                assert await first.json() == {"attempt": 1}
            async with session.post(url, headers=h, json={}) as replay:
                assert replay.headers["idempotent-replayed"] == "true"
                assert await replay.json() == {"attempt": 2}
    finally:
        await runner.cleanup()
