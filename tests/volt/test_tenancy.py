"""The caller, the org, API keys (with pagination both ways), audit logs and usage (walked
page by page through `next_page`), through both clients against the live admin service; typed
401 and 403 errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from tests.conftest import Org
from tests.volt.conftest import sync
from volt import AsyncVolt, AuthenticationError, PermissionDeniedError, Volt
from volt.types import ApiKey
from voltcore.db import Pool


@pytest_asyncio.fixture
async def admin(admin_app: tuple[web.Application, str], org: Org) -> AsyncIterator[Volt]:
    client = Volt(base_url=admin_app[1], api_key=org.key)
    yield client
    client.close()


@pytest_asyncio.fixture
async def aadmin(admin_app: tuple[web.Application, str], org: Org) -> AsyncIterator[AsyncVolt]:
    async with AsyncVolt(base_url=admin_app[1], api_key=org.key) as client:
        yield client


async def test_me_and_org(admin: Volt, aadmin: AsyncVolt, org: Org) -> None:
    me = await sync(admin.me.retrieve)
    assert (me.org_id, me.kind, me.api_key_id) == (org.id, "api_key", org.key_id)
    assert me.spiffe_id == org.spiffe_id and set(me.scopes) == {"read", "write"}
    mine = await aadmin.orgs.retrieve()  # the caller's org, found through /v1/me
    assert mine.id == org.id and mine.tier == "standard" and mine.home_metro == "fra1"
    assert (await aadmin.orgs.retrieve(org.id)).spiffe_id == org.spiffe_id


async def test_api_keys_lifecycle_and_pagination(admin: Volt, aadmin: AsyncVolt, org: Org) -> None:
    made = [await aadmin.api_keys.create(name=f"k{i}", scopes=["read"]) for i in range(3)]
    assert all(k.secret.startswith("volt_sk_live_") and k.scopes == ["read"] for k in made)

    # Pages of one: the sync page iterates every page, newest first.
    first = await sync(admin.api_keys.list, limit=1)
    assert len(first.data) == 1 and first.has_more
    walked: list[ApiKey] = await sync(list, first)
    assert [k.id for k in walked[:3]] == [k.id for k in reversed(made)]
    assert walked[-1].id == org.key_id and len(walked) == 4

    page = await aadmin.api_keys.list(org_id=org.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    nxt = await page.next_page()
    assert nxt is not None and [k.id for k in nxt.data] == [made[0].id, org.key_id]
    assert [k.id async for k in aadmin.api_keys.list(limit=3)] == [k.id for k in walked]

    rotated = await aadmin.api_keys.rotate(made[0].id, grace_period_seconds=0)
    assert rotated.name == "k0" and rotated.id != made[0].id
    old = await sync(admin.api_keys.retrieve, made[0].id)
    assert old.status == "revoked" and old.replaced_by == rotated.id
    revoked = await aadmin.api_keys.revoke(made[1].id)
    assert revoked.status == "revoked" and revoked.revoked_at is not None


async def test_audit_logs_page_through(aadmin: AsyncVolt, org: Org) -> None:
    for _ in range(3):
        await aadmin.me.retrieve()
    deadline = time.monotonic() + 10
    entries = []
    while time.monotonic() < deadline:  # audit entries are written in batches
        entries = [e async for e in aadmin.audit_logs.list(limit=2)]
        if len(entries) >= 3:
            break
    assert len(entries) >= 3
    assert all(e.spiffe_id == org.spiffe_id for e in entries if e.principal == org.key_id)
    assert [e.seq for e in entries] == sorted((e.seq for e in entries), reverse=True)
    assert {"GET"} <= {e.method for e in entries} and all(e.hash for e in entries)


async def test_usage_walks_every_page(admin: Volt, aadmin: AsyncVolt, org: Org, pool: Pool) -> None:
    now = int(time.time())
    for hours_ago, tokens in ((4, 10), (1, 7)):
        await pool.execute(
            """INSERT INTO usage_events (time, org_id, model, endpoint, prompt_tokens,
                                         completion_tokens, cached_tokens)
               VALUES (to_timestamp($1), $2, 'm', '/v1/chat/completions', $3, 1, 0)""",
            now - hours_ago * 3600,
            org.id,
            tokens,
        )
    query = {"start_time": now - 5 * 3600, "bucket_width": "1h", "limit": 2}
    first = await aadmin.usage.retrieve(**query)  # type: ignore[arg-type]
    assert len(first.data) == 2 and first.has_more and first.next_page

    # Six hourly buckets (five hours back, aligned to the hour, up to now): three pages of two.
    walked = [b async for b in aadmin.usage.list(**query)]  # type: ignore[arg-type]
    starts = [b.start_time for b in walked]
    assert len(walked) == 6 and starts == list(range(starts[0], starts[0] + 6 * 3600, 3600))
    assert starts[:2] == [b.start_time for b in first.data]
    assert sum(r.input_tokens for b in walked for r in b.results) == 17
    page = await aadmin.usage.list(**query)  # type: ignore[arg-type]
    nxt = await page.next_page()
    assert nxt is not None and [b.start_time for b in nxt.data] == starts[2:4]

    synced = await sync(lambda: list(admin.usage.list(**query)))  # type: ignore[arg-type]
    assert [b.model_dump() for b in synced] == [b.model_dump() for b in walked]


async def test_auth_errors_are_typed(admin_app: tuple[web.Application, str], org: Org) -> None:
    async with AsyncVolt(base_url=admin_app[1], api_key="volt_sk_live_nope") as bad:
        with pytest.raises(AuthenticationError) as caught:
            await bad.me.retrieve()
    assert caught.value.status_code == 401 and caught.value.request_id
    async with AsyncVolt(base_url=admin_app[1], api_key=org.key) as admin:
        reader = await admin.api_keys.create(name="reader", scopes=["read"])
    async with AsyncVolt(base_url=admin_app[1], api_key=reader.secret) as read_only:
        assert (await read_only.me.retrieve()).scopes == ["read"]
        with pytest.raises(PermissionDeniedError) as denied:
            await read_only.api_keys.create(name="nope")
    assert denied.value.code == "insufficient_scope"


async def test_health_and_documents(admin_app: tuple[web.Application, str]) -> None:
    # Unauthenticated: no key at all.
    async with AsyncVolt(base_url=admin_app[1], api_key="") as client:
        assert (await client.health.live()).status == "ok"
        ready = await client.health.ready()
        assert ready.status == "ok" and ready.checks and ready.checks["database"] == "ok"
        assert "volt_http_requests_total" in await client.health.metrics()
        assert (await client.health.openapi()).startswith("openapi: 3.1")
