"""Cached key authentication in another process's shoes: revocation through the admin API
reaches it within a second over Postgres LISTEN/NOTIFY, even when it races a lookup; unknown
keys are remembered and limited per client, never at a real key's expense."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from admin import tenancy
from tests.conftest import Org
from tests.support.client import Client
from voltcore.db import Pool, create_pool
from voltcore.errors import AuthenticationFailed, RateLimited
from voltcore.ids import new_id
from voltcore.keycache import KeyAuthenticator
from voltcore.keys import generate_key, hash_key, redact


@pytest_asyncio.fixture
async def other_pod(pg_uri: str) -> AsyncIterator[KeyAuthenticator]:
    pool: Pool = await create_pool(pg_uri, max_size=4)
    auth = KeyAuthenticator(
        pool, trust_domain="volt.local", ttl_s=3600, unknown_ttl_s=3600, failed_per_window=2
    )
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


async def _until_refused(pod: KeyAuthenticator, secret: str, limit_s: float = 1.0) -> float:
    """Seconds until `secret` stops working on `pod`; fails past `limit_s`."""
    started = time.monotonic()
    while True:
        try:
            await pod.authenticate(secret)
        except AuthenticationFailed:
            return time.monotonic() - started
        assert time.monotonic() - started < limit_s, "a revoked key worked past a second"
        await asyncio.sleep(0.005)


async def test_revocation_racing_a_lookup_is_never_lost(
    org: Org, pool: Pool, other_pod: KeyAuthenticator
) -> None:
    """The attack: use a key while it is being revoked, so that a lookup that read the key
    before the revocation finishes after its NOTIFY. That stale answer must not be cached
    (it would work for the cache's hour); every iteration the key must be refused within a
    second of the revocation."""
    rng = random.Random(12)
    raced = 0
    for i in range(300):
        async with pool.acquire() as conn:
            key = await tenancy.create_api_key(
                conn, org.id, name=f"race{i}", scopes=["read"], expires_at=None, created_by=None
            )

        async def use(client: str, secret: str = key.secret) -> int:
            ok = 0
            for _ in range(3):
                try:
                    await other_pod.authenticate(secret, client=client)
                    ok += 1
                except AuthenticationFailed:
                    pass
            return ok

        users = [asyncio.create_task(use(f"client{n}")) for n in range(4)]
        await asyncio.sleep(rng.random() * 0.004)  # revoke somewhere inside the lookups
        await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", key.row["id"])
        raced += sum(await asyncio.gather(*users)) > 0
        await _until_refused(other_pod, key.secret)
    assert raced > 0  # some iterations did use the key while it was being revoked


async def test_unknown_keys_are_remembered_and_limited_per_client(
    org: Org, other_pod: KeyAuthenticator
) -> None:
    """The attack: random well-formed keys, each a database query. The same unknown key again
    costs nothing (remembered: not even counted), new ones are counted per client and past
    the limit refused with 429 before the database, while other clients are untouched."""
    seen = generate_key()
    for _ in range(5):  # only the first of these reaches the database
        with pytest.raises(AuthenticationFailed):
            await other_pod.authenticate(seen, client="203.0.113.7")
    with pytest.raises(AuthenticationFailed):
        await other_pod.authenticate(generate_key(), client="203.0.113.7")
    with pytest.raises(RateLimited) as refused:
        await other_pod.authenticate(generate_key(), client="203.0.113.7")
    assert refused.value.status == 429 and refused.value.code == "too_many_failed_authentications"
    assert 0 < int(refused.value.headers["Retry-After"]) <= 60
    # A real key from another client is looked up; one the limited client has cached works.
    assert (await other_pod.authenticate(org.key, client="198.51.100.1")).org_id == org.id
    assert (await other_pod.authenticate(org.key, client="203.0.113.7")).org_id == org.id


async def test_a_key_created_after_it_was_seen_unknown_works_at_once(
    org: Org, pool: Pool, other_pod: KeyAuthenticator
) -> None:
    """The attack: get a hash remembered as unknown, hoping to lock out the key once it
    exists. Creation notifies the hash, so the key works as soon as the NOTIFY lands (well
    inside a second), not after the hour the unknown entry would otherwise last."""
    secret = generate_key()
    with pytest.raises(AuthenticationFailed):
        await other_pod.authenticate(secret)
    await pool.execute(
        """INSERT INTO api_keys (id, org_id, name, secret_hash, redacted_value, scopes)
           VALUES ($1, $2, 'late', $3, $4, ARRAY['read'])""",
        new_id("key"),
        org.id,
        hash_key(secret),
        redact(secret),
    )
    started = time.monotonic()
    while True:
        try:
            principal = await other_pod.authenticate(secret)
            break
        except AuthenticationFailed:
            assert time.monotonic() - started < 1.0, "a created key stayed unknown"
            await asyncio.sleep(0.005)
    assert principal.org_id == org.id
