"""Cached key authentication in another process's shoes: revocation through the admin API
reaches it within a second over Postgres LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import Org
from tests.support.client import Client
from voltcore.db import Pool, create_pool
from voltcore.errors import AuthenticationFailed
from voltcore.keycache import KeyAuthenticator


@pytest_asyncio.fixture
async def other_pod(pg_uri: str) -> AsyncIterator[KeyAuthenticator]:
    pool: Pool = await create_pool(pg_uri, max_size=2)
    auth = KeyAuthenticator(pool, trust_domain="volt.local", ttl_s=3600)
    await auth.start()
    async with asyncio.timeout(10):
        while not auth.listening:
            await asyncio.sleep(0.01)
    yield auth
    await auth.close()
    await pool.close()


async def test_revocation_reaches_a_cached_pod_within_a_second(
    client: Client, org: Org, other_pod: KeyAuthenticator
) -> None:
    key = (await client.post(f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "p"})).json()
    principal = await other_pod.authenticate(key["secret"])  # now cached for an hour
    assert principal.org_id == org.id and principal.tier == "standard"

    await client.delete(f"/v1/orgs/{org.id}/api-keys/{key['id']}", key=org.key)
    started = time.monotonic()
    while True:
        try:
            await other_pod.authenticate(key["secret"])
        except AuthenticationFailed as err:
            assert err.code == "revoked_api_key"
            break
        assert time.monotonic() - started < 1.0, "revocation took longer than a second"
        await asyncio.sleep(0.01)


async def test_rotation_without_grace_reaches_a_cached_pod(
    client: Client, org: Org, other_pod: KeyAuthenticator
) -> None:
    await other_pod.authenticate(org.key)
    await client.post(f"/v1/orgs/{org.id}/api-keys/{org.key_id}/rotate", key=org.key)
    async with asyncio.timeout(1):
        while True:
            try:
                await other_pod.authenticate(org.key)
            except AuthenticationFailed:
                break
            await asyncio.sleep(0.01)


async def test_malformed_keys_never_reach_the_database(other_pod: KeyAuthenticator) -> None:
    with pytest.raises(AuthenticationFailed, match="Malformed"):
        await other_pod.authenticate("volt_sk_live_" + "a" * 46)
