"""Authentication failures (401), the failed-authentication limit (429) and scope enforcement
(403) on every admin endpoint."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network

import aiohttp
import pytest

from admin.app import create_app
from tests.conftest import MakeOrg, Org, serve
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.appkeys import POOL
from voltcore.config import Settings
from voltcore.db import Pool
from voltcore.keys import generate_key


async def test_missing_credentials(client: Client, org: Org) -> None:
    r = await client.get("/v1/me")
    r.expect_error(401, "missing_api_key")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Basic dXNlcjpwYXNz", "invalid_authorization"),
        ("Bearer", "invalid_authorization"),
        ("Bearer sk-not-a-volt-key", "invalid_api_key"),
        ("Bearer volt_sk_live_short", "invalid_api_key"),
    ],
)
async def test_malformed_credentials(client: Client, header: str, code: str) -> None:
    r = await client.get("/v1/me", headers={"Authorization": header})
    r.expect_error(401, code)


async def test_checksum_catches_a_mistyped_key(client: Client, org: Org) -> None:
    typo = org.key[:20] + ("A" if org.key[20] != "A" else "B") + org.key[21:]
    (await client.get("/v1/me", key=typo)).expect_error(401, "invalid_api_key")


async def test_unknown_well_formed_key(client: Client) -> None:
    r = await client.get("/v1/me", key=generate_key())
    error = r.expect_error(401, "invalid_api_key")
    assert "volt_sk_live_..." in error["message"]


async def _key_with(client: Client, org: Org, scopes: list[str]) -> str:
    r = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "s", "scopes": scopes}
    )
    assert r.status == 201
    return r.json()["secret"]  # type: ignore[no-any-return]


def write_calls(org: Org) -> list[tuple[str, str, dict[str, object] | None]]:
    base = f"/v1/orgs/{org.id}/api-keys"
    return [
        ("POST", base, {"name": "x"}),
        ("DELETE", f"{base}/{org.key_id}", None),
        ("POST", f"{base}/{org.key_id}/rotate", None),
    ]


def read_calls(org: Org) -> list[str]:
    return [
        "/v1/me",
        f"/v1/orgs/{org.id}",
        f"/v1/orgs/{org.id}/api-keys",
        f"/v1/orgs/{org.id}/api-keys/{org.key_id}",
        f"/v1/orgs/{org.id}/audit-logs",
        "/v1/usage?start_time=0",
    ]


async def test_read_scope_cannot_write(client: Client, org: Org) -> None:
    reader = await _key_with(client, org, ["read"])
    for path in read_calls(org):
        assert (await client.get(path, key=reader)).status == 200, path
    for method, path, body in write_calls(org):
        r = await client.request(method, path, key=reader, json=body)
        r.expect_error(403, "insufficient_scope")
    # Nothing changed: the admin key still works and was not rotated.
    assert (await client.get("/v1/me", key=org.key)).status == 200


async def test_write_scope_alone_cannot_read(client: Client, org: Org) -> None:
    writer = await _key_with(client, org, ["write"])
    for path in read_calls(org):
        (await client.get(path, key=writer)).expect_error(403, "insufficient_scope")
    r = await client.post(f"/v1/orgs/{org.id}/api-keys", key=writer, json={"name": "w"})
    r.expect_error(403, param="scopes")  # the default scopes include read, which it lacks
    r = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=writer, json={"name": "w", "scopes": ["write"]}
    )
    assert r.status == 201


async def test_key_cannot_mint_broader_scopes(client: Client, org: Org) -> None:
    # Reads cannot create keys at all; a write-only key cannot create a read key.
    writer = await _key_with(client, org, ["write"])
    r = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=writer, json={"name": "esc", "scopes": ["read"]}
    )
    r.expect_error(403, "insufficient_scope", "scopes")


async def test_a_flood_of_unknown_keys_is_refused_before_the_pool(
    settings: Settings, make_org: MakeOrg, spec: Spec, pool: Pool
) -> None:
    """The attack: random well-formed keys as fast as possible, each one a database query,
    until authenticated callers cannot get a connection from the 10 of the pool. Past its
    limit the flooding client gets 429 without a query; another client behind the same
    proxy, with a key nobody has used yet (so it must be looked up), is served meanwhile."""
    org = await make_org()
    limited = settings.model_copy(
        update={"trusted_proxies": [ip_network("127.0.0.0/8")], "failed_auth_per_window": 10}
    )
    app = create_app(limited)
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            api = Client(http, base, spec)
            fresh = await _key_with(api, org, ["read"])
            attacker = {"X-Forwarded-For": "203.0.113.7"}
            sem = asyncio.Semaphore(50)

            ids: dict[int, list[str]] = {401: [], 429: []}

            async def attack() -> int:
                async with sem:
                    r = await api.get("/v1/me", key=generate_key(), headers=attacker)
                    if r.status == 429:
                        r.expect_error(429, "too_many_failed_authentications")
                        assert 0 < int(r.headers["Retry-After"]) <= 60
                    ids[r.status].append(r.headers["x-request-id"])
                    return r.status

            flood = [asyncio.create_task(attack()) for _ in range(400)]
            await asyncio.sleep(0.05)
            me = await api.get("/v1/me", key=fresh, headers={"X-Forwarded-For": "198.51.100.1"})
            statuses = await asyncio.gather(*flood)
            assert me.status == 200 and me.json()["org_id"] == org.id
            assert statuses.count(401) == 10 and statuses.count(429) == 390
            # The pool has connections to spare right after the flood.
            assert app[POOL].get_idle_size() > 0
            # The same unknown key again is answered from memory: 401, not counted, not 429.
            seen = generate_key()
            other = {"X-Forwarded-For": "198.51.100.2"}
            replies = [await api.get("/v1/me", key=seen, headers=other) for _ in range(15)]
            assert all(r.status == 401 for r in replies)
            # The refused flood costs no audit rows either; the lookups that did run are audited.
            await asyncio.sleep(0.5)  # the audit writer flushes every 50 ms here
            audited = set(
                await pool.fetchval(
                    "SELECT array_agg(request_id) FROM audit_log WHERE request_id = ANY($1)",
                    ids[401] + ids[429],
                )
                or []
            )
            assert audited == set(ids[401])
    finally:
        await runner.cleanup()
