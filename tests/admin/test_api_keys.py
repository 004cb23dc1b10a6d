"""API key lifecycle against the live admin service and real Postgres."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import Org
from tests.support.client import Client
from voltcore.db import Pool


def keys(org: Org) -> str:
    return f"/v1/orgs/{org.id}/api-keys"


async def test_create_shows_secret_once_and_the_key_works(client: Client, org: Org) -> None:
    r = await client.post(keys(org), key=org.key, json={"name": "ci", "scopes": ["read"]})
    assert r.status == 201
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("volt_sk_live_") and len(secret) == len("volt_sk_live_") + 46
    assert (
        created["redacted_value"].endswith(secret[-4:]) and secret not in created["redacted_value"]
    )
    assert created["scopes"] == ["read"] and created["status"] == "active"

    me = (await client.get("/v1/me", key=secret)).json()
    assert me == {
        "object": "principal",
        "org_id": org.id,
        "spiffe_id": f"spiffe://volt.local/tenant/{org.id}",
        "kind": "api_key",
        "api_key_id": created["id"],
        "scopes": ["read"],
    }
    fetched = (await client.get(f"{keys(org)}/{created['id']}", key=org.key)).json()
    assert "secret" not in fetched
    listed = (await client.get(keys(org), key=org.key)).json()
    assert secret not in str(listed) and all("secret" not in k for k in listed["data"])


async def test_secret_is_stored_only_as_a_hash(client: Client, org: Org, pool: Pool) -> None:
    r = await client.post(keys(org), key=org.key, json={"name": "hashed"})
    secret = r.json()["secret"]
    row = await pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", r.json()["id"])
    assert row is not None
    assert all(secret not in str(v) for v in dict(row).values())
    assert len(row["secret_hash"]) == 32


async def test_last_use_is_recorded(client: Client, org: Org) -> None:
    r = await client.post(keys(org), key=org.key, json={"name": "used"})
    key = r.json()
    assert key["last_used_at"] is None
    await client.get("/v1/me", key=key["secret"])
    for _ in range(50):
        got = (await client.get(f"{keys(org)}/{key['id']}", key=org.key)).json()
        if got["last_used_at"] is not None:
            break
        await asyncio.sleep(0.05)
    assert abs(got["last_used_at"] - time.time()) < 10


async def test_revoke_takes_effect_at_once(client: Client, org: Org) -> None:
    key = (await client.post(keys(org), key=org.key, json={"name": "doomed"})).json()
    assert (await client.get("/v1/me", key=key["secret"])).status == 200
    r = await client.delete(f"{keys(org)}/{key['id']}", key=org.key)
    assert r.status == 200 and r.json()["status"] == "revoked" and r.json()["revoked_at"]
    r = await client.get("/v1/me", key=key["secret"])
    assert r.status == 401 and r.error["code"] == "revoked_api_key"
    # Revoking again is harmless and reports the same revocation.
    first = (await client.get(f"{keys(org)}/{key['id']}", key=org.key)).json()["revoked_at"]
    again = await client.delete(f"{keys(org)}/{key['id']}", key=org.key)
    assert again.status == 200 and again.json()["revoked_at"] == first


async def test_rotate_replaces_the_key_and_revokes_the_old_one(client: Client, org: Org) -> None:
    old = (
        await client.post(keys(org), key=org.key, json={"name": "svc", "scopes": ["read"]})
    ).json()
    r = await client.post(f"{keys(org)}/{old['id']}/rotate", key=org.key)
    assert r.status == 201
    new = r.json()
    assert new["id"] != old["id"] and new["name"] == "svc" and new["scopes"] == ["read"]
    assert (await client.get("/v1/me", key=new["secret"])).status == 200
    r = await client.get("/v1/me", key=old["secret"])
    assert r.status == 401 and r.error["code"] == "revoked_api_key"
    old_now = (await client.get(f"{keys(org)}/{old['id']}", key=org.key)).json()
    assert old_now["replaced_by"] == new["id"] and old_now["status"] == "revoked"
    # A revoked key cannot be rotated again.
    r = await client.post(f"{keys(org)}/{old['id']}/rotate", key=org.key)
    assert r.status == 409 and r.error["code"] == "api_key_not_active"


async def test_rotate_with_grace_period_keeps_the_old_key_until_then(
    client: Client, org: Org
) -> None:
    old = (await client.post(keys(org), key=org.key, json={"name": "svc"})).json()
    r = await client.post(
        f"{keys(org)}/{old['id']}/rotate", key=org.key, json={"grace_period_seconds": 1}
    )
    assert r.status == 201
    new = r.json()
    old_now = (await client.get(f"{keys(org)}/{old['id']}", key=org.key)).json()
    assert old_now["status"] == "active" and old_now["expires_at"] <= time.time() + 2
    assert (await client.get("/v1/me", key=old["secret"])).status == 200
    await asyncio.sleep(1.2)
    r = await client.get("/v1/me", key=old["secret"])
    assert r.status == 401 and r.error["code"] == "expired_api_key"
    assert (await client.get("/v1/me", key=new["secret"])).status == 200


async def test_key_with_expiry_stops_working_when_it_expires(client: Client, org: Org) -> None:
    expires = int(time.time()) + 2
    key = (
        await client.post(keys(org), key=org.key, json={"name": "t", "expires_at": expires})
    ).json()
    assert key["expires_at"] == expires
    assert (await client.get("/v1/me", key=key["secret"])).status == 200
    await asyncio.sleep(max(expires - time.time(), 0) + 0.1)
    r = await client.get("/v1/me", key=key["secret"])
    assert r.status == 401 and r.error["code"] == "expired_api_key"
    listed = (await client.get(keys(org), key=org.key, params={"limit": 100})).json()
    assert {k["id"]: k["status"] for k in listed["data"]}[key["id"]] == "expired"


async def test_list_is_cursor_paginated_newest_first(client: Client, org: Org) -> None:
    made = [
        (await client.post(keys(org), key=org.key, json={"name": f"k{i}"})).json()["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 2} | ({"after": after} if after else {})
        page = (await client.get(keys(org), key=org.key, params=params)).json()
        seen += [k["id"] for k in page["data"]]
        assert len(page["data"]) <= 2
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen[:5] == made[::-1]
    assert len(seen) == 6 and seen[5] == org.key_id  # the bootstrap key is the oldest
    r = await client.get(keys(org), key=org.key, params={"after": "key_doesnotexist"})
    assert r.status == 400 and r.error["param"] == "after"


async def test_rotation_cannot_widen_scopes(client: Client, org: Org) -> None:
    """The attack: a write-only key rotates a read+write key, minting read+write for itself."""
    writer = (
        await client.post(keys(org), key=org.key, json={"name": "w", "scopes": ["write"]})
    ).json()
    both = (await client.post(keys(org), key=org.key, json={"name": "rw"})).json()
    r = await client.post(f"{keys(org)}/{both['id']}/rotate", key=writer["secret"])
    r.expect_error(403, "insufficient_scope", "scopes")
    # Nothing was minted and the key is untouched.
    assert (await client.get("/v1/me", key=both["secret"])).status == 200
    listed = (await client.get(keys(org), key=org.key, params={"limit": 100})).json()["data"]
    assert not [k for k in listed if k["name"] == "rw" and k["id"] != both["id"]]
    # A key with no more than the caller's scopes still rotates.
    mine = (
        await client.post(keys(org), key=writer["secret"], json={"name": "w2", "scopes": ["write"]})
    ).json()
    r = await client.post(f"{keys(org)}/{mine['id']}/rotate", key=writer["secret"])
    assert r.status == 201 and r.json()["scopes"] == ["write"]
