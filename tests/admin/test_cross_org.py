"""Tenant isolation: org B sees 404 for every org-A resource and changes nothing of A's."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from tests.conftest import MakeOrg
from tests.support.client import Client
from voltcore.appkeys import AUDIT, USAGE
from voltcore.usage import UsageEvent


async def test_org_b_gets_404_on_every_org_a_resource(client: Client, make_org: MakeOrg) -> None:
    a, b = await make_org("A"), await make_org("B")
    base = f"/v1/orgs/{a.id}"
    calls = [
        ("GET", base, None, "org_id"),
        ("GET", f"{base}/api-keys", None, "org_id"),
        ("POST", f"{base}/api-keys", {"name": "intruder"}, "org_id"),
        ("GET", f"{base}/api-keys/{a.key_id}", None, "org_id"),
        ("DELETE", f"{base}/api-keys/{a.key_id}", None, "org_id"),
        ("POST", f"{base}/api-keys/{a.key_id}/rotate", None, "org_id"),
        ("GET", f"{base}/audit-logs", None, "org_id"),
        ("GET", f"{base}/limits", None, "org_id"),
        ("PATCH", f"{base}/limits", {"requests_per_minute": 1}, "org_id"),
        # A's key id under B's own org path is just as unknown.
        ("GET", f"/v1/orgs/{b.id}/api-keys/{a.key_id}", None, "key_id"),
        ("DELETE", f"/v1/orgs/{b.id}/api-keys/{a.key_id}", None, "key_id"),
        ("POST", f"/v1/orgs/{b.id}/api-keys/{a.key_id}/rotate", None, "key_id"),
    ]
    for method, path, body, param in calls:
        r = await client.request(method, path, key=b.key, json=body)
        r.expect_error(404, "not_found", param)
    # The 404 for an existing org reads exactly like one for an org that does not exist.
    ghost = await client.get("/v1/orgs/org_doesnotexist", key=b.key)
    real = await client.get(base, key=b.key)
    assert ghost.error["message"].replace("org_doesnotexist", a.id) == real.error["message"]

    # A is untouched: its key works, was neither revoked nor rotated, and it has no new keys.
    assert (await client.get("/v1/me", key=a.key)).status == 200
    keys = (await client.get(f"{base}/api-keys", key=a.key)).json()["data"]
    assert [k["id"] for k in keys] == [a.key_id]
    assert keys[0]["status"] == "active" and keys[0]["replaced_by"] is None


async def test_usage_and_audit_are_per_org(
    client: Client, make_org: MakeOrg, admin_app: tuple[web.Application, str]
) -> None:
    a, b = await make_org("A"), await make_org("B")
    app = admin_app[0]
    writer = app[USAGE]
    now = dt.datetime.now(dt.UTC)
    writer.add(UsageEvent(now, a.id, a.key_id, "smollm2", "/v1/chat/completions", 10, 5))
    await writer.flush()
    start = int(now.timestamp()) - 60
    mine = (await client.get("/v1/usage", key=a.key, params={"start_time": start})).json()
    theirs = (await client.get("/v1/usage", key=b.key, params={"start_time": start})).json()
    assert sum(r["input_tokens"] for bk in mine["data"] for r in bk["results"]) == 10
    assert all(bk["results"] == [] for bk in theirs["data"])

    await client.get("/v1/me", key=a.key)
    await app[AUDIT].flush()
    logs_b = (await client.get(f"/v1/orgs/{b.id}/audit-logs", key=b.key)).json()["data"]
    assert logs_b and all(entry["principal"] == b.key_id for entry in logs_b)
