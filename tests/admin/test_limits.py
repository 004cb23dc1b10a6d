"""An org's rate limits through the admin API and the operator's CLI, against the live admin
service and real Postgres: who may set what (the tier's default, the operator's ceiling, the
org's own cap below it, a key's below its org), that every change is audited, and that it
reaches another process's cached principals within a second."""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web

from tests.conftest import MakeOrg, Org
from tests.support import admin_cli
from tests.support.client import Client, Reply
from tests.voltcore.test_keycache import other_pod  # noqa: F401 (fixture: another pod's cache)
from voltcore.appkeys import AUDIT
from voltcore.keycache import KeyAuthenticator

STANDARD_RPM, STANDARD_TPM = 1_000, 2_000_000  # voltcore.config's defaults for the tier


def limits(org: Org) -> str:
    return f"/v1/orgs/{org.id}/limits"


async def patch(client: Client, org: Org, body: object, key: str | None = None) -> Reply:
    return await client.request("PATCH", limits(org), key=key or org.key, json=body)


async def create_key(client: Client, org: Org, key: str | None = None, **body: object) -> Reply:
    return await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=key or org.key, json={"name": "k", **body}
    )


async def test_a_new_org_has_its_tiers_limits(client: Client, org: Org) -> None:
    r = await client.get(limits(org), key=org.key)
    assert r.status == 200
    assert r.json() == {
        "object": "organization.limits",
        "org_id": org.id,
        "tier": "standard",
        "requests_per_minute": {"limit": STANDARD_RPM, "ceiling": STANDARD_RPM, "source": "tier"},
        "tokens_per_minute": {"limit": STANDARD_TPM, "ceiling": STANDARD_TPM, "source": "tier"},
    }


async def test_an_org_lowers_its_limits_and_raises_them_back(client: Client, org: Org) -> None:
    r = await patch(client, org, {"requests_per_minute": 10, "tokens_per_minute": 5_000})
    assert r.status == 200
    body = r.json()
    assert body["requests_per_minute"] == {
        "limit": 10,
        "ceiling": STANDARD_RPM,
        "source": "org",
    }
    assert body["tokens_per_minute"]["limit"] == 5_000
    assert (await client.get(limits(org), key=org.key)).json() == body

    # A field left out is unchanged; null is back to the ceiling.
    r = await patch(client, org, {"tokens_per_minute": None})
    assert r.json()["requests_per_minute"]["limit"] == 10
    assert r.json()["tokens_per_minute"] == {
        "limit": STANDARD_TPM,
        "ceiling": STANDARD_TPM,
        "source": "tier",
    }
    # Up to the ceiling is the org's to set.
    r = await patch(client, org, {"requests_per_minute": STANDARD_RPM})
    assert r.status == 200 and r.json()["requests_per_minute"]["limit"] == STANDARD_RPM


async def test_an_org_cannot_raise_itself_past_its_ceiling(client: Client, org: Org) -> None:
    r = await patch(client, org, {"requests_per_minute": STANDARD_RPM + 1})
    r.expect_error(403, "exceeds_ceiling", param="requests_per_minute")
    assert "operator" in r.error["message"]
    r = await patch(client, org, {"requests_per_minute": 5, "tokens_per_minute": STANDARD_TPM * 2})
    r.expect_error(403, "exceeds_ceiling", param="tokens_per_minute")
    # All or nothing: the allowed half of a refused change was not applied.
    got = (await client.get(limits(org), key=org.key)).json()
    assert got["requests_per_minute"]["limit"] == STANDARD_RPM


async def test_bad_values_are_400s_naming_the_parameter(client: Client, org: Org) -> None:
    for body, param, code in [
        ({"requests_per_minute": -1}, "requests_per_minute", "invalid_value"),
        ({"tokens_per_minute": "100"}, "tokens_per_minute", "invalid_type"),
        ({"requests_per_minute": 1.5}, "requests_per_minute", "invalid_type"),
        ({"requests_per_minute": True}, "requests_per_minute", "invalid_type"),
        ({"requests_per_minute": 2**31}, "requests_per_minute", "invalid_value"),
        ({"rpm": 5}, "rpm", "unknown_parameter"),
    ]:
        (await patch(client, org, body)).expect_error(400, code, param=param)
    r = await client.request("PATCH", limits(org), key=org.key, data=b"[]")
    r.expect_error(400, "invalid_json")


async def test_setting_limits_needs_write_scope(client: Client, org: Org) -> None:
    reader = (await create_key(client, org, scopes=["read"])).json()["secret"]
    assert (await client.get(limits(org), key=reader)).status == 200
    r = await patch(client, org, {"requests_per_minute": 1}, key=reader)
    r.expect_error(403, "insufficient_scope")


async def test_another_orgs_limits_do_not_exist(client: Client, make_org: MakeOrg) -> None:
    a, b = await make_org("A"), await make_org("B")
    (await client.get(limits(a), key=b.key)).expect_error(404, "not_found", param="org_id")
    r = await patch(client, a, {"requests_per_minute": 1}, key=b.key)
    r.expect_error(404, "not_found", param="org_id")
    assert (await client.get(limits(a), key=a.key)).json()["requests_per_minute"]["limit"] == (
        STANDARD_RPM
    )


async def test_changes_and_refusals_are_audited(
    client: Client, org: Org, admin_app: tuple[web.Application, str]
) -> None:
    await patch(client, org, {"requests_per_minute": 7})
    await patch(client, org, {"requests_per_minute": STANDARD_RPM + 1})
    await admin_app[0][AUDIT].flush()
    logs = (await client.get(f"/v1/orgs/{org.id}/audit-logs", key=org.key)).json()["data"]
    mine = [e for e in logs if e["route"] == "/v1/orgs/{org_id}/limits"]
    assert [(e["method"], e["status"], e["principal"]) for e in mine[:2]] == [
        ("PATCH", 403, org.key_id),
        ("PATCH", 200, org.key_id),
    ]


async def test_a_change_reaches_a_cached_principal_within_a_second(
    client: Client,
    org: Org,
    other_pod: KeyAuthenticator,  # noqa: F811 (the fixture imported above)
) -> None:
    key = (await create_key(client, org, limits={"requests_per_minute": 3})).json()
    cached = await other_pod.authenticate(key["secret"])  # cached for an hour from now on
    assert (cached.overrides.org_requests, cached.overrides.key_requests) == (None, 3)

    await patch(client, org, {"requests_per_minute": 20, "tokens_per_minute": 9_000})
    started = time.monotonic()
    while (await other_pod.authenticate(key["secret"])).overrides.org_requests != 20:
        assert time.monotonic() - started < 1.0, "the change took longer than a second"
        await asyncio.sleep(0.01)
    now = (await other_pod.authenticate(key["secret"])).overrides
    assert (now.org_requests, now.org_tokens, now.key_requests) == (20, 9_000, 3)


async def test_keys_take_limits_within_their_orgs(client: Client, org: Org) -> None:
    plain = (await create_key(client, org)).json()
    assert plain["limits"] == {"requests_per_minute": None, "tokens_per_minute": None}

    r = await create_key(client, org, limits={"requests_per_minute": 5})
    assert r.status == 201
    capped = r.json()
    assert capped["limits"] == {"requests_per_minute": 5, "tokens_per_minute": None}
    got = await client.get(f"/v1/orgs/{org.id}/api-keys/{capped['id']}", key=org.key)
    assert got.json()["limits"] == capped["limits"]

    await patch(client, org, {"tokens_per_minute": 1_000})
    r = await create_key(client, org, limits={"tokens_per_minute": 1_001})
    r.expect_error(403, "exceeds_limit", param="limits.tokens_per_minute")
    r = await create_key(client, org, limits={"requests_per_minute": STANDARD_RPM + 1})
    r.expect_error(403, "exceeds_limit", param="limits.requests_per_minute")
    r = await create_key(client, org, limits={"requests_per_minute": -3})
    r.expect_error(400, "invalid_value", param="limits.requests_per_minute")
    r = await create_key(client, org, limits={"rpm": 3})
    r.expect_error(400, "unknown_parameter", param="limits.rpm")


async def test_a_capped_key_cannot_mint_a_bigger_one(client: Client, org: Org) -> None:
    capped = (await create_key(client, org, limits={"requests_per_minute": 5})).json()["secret"]
    r = await create_key(client, org, key=capped, limits={"requests_per_minute": 6})
    r.expect_error(403, "exceeds_limit", param="limits.requests_per_minute")
    # Left unset, the caller's limits are inherited, as a sign-in's expiry is.
    child = (await create_key(client, org, key=capped)).json()
    assert child["limits"] == {"requests_per_minute": 5, "tokens_per_minute": None}
    smaller = (await create_key(client, org, key=capped, limits={"tokens_per_minute": 50})).json()
    assert smaller["limits"] == {"requests_per_minute": 5, "tokens_per_minute": 50}


async def test_rotation_keeps_the_limits(client: Client, org: Org) -> None:
    body = {"requests_per_minute": 4, "tokens_per_minute": 400}
    old = (await create_key(client, org, limits=body)).json()
    new = (await client.post(f"/v1/orgs/{org.id}/api-keys/{old['id']}/rotate", key=org.key)).json()
    assert new["id"] != old["id"] and new["limits"] == body
    # Rotated by a key capped lower, the replacement is capped by that key too.
    low = (await create_key(client, org, limits={"tokens_per_minute": 100})).json()["secret"]
    r = await client.post(f"/v1/orgs/{org.id}/api-keys/{new['id']}/rotate", key=low)
    assert r.status == 201 and r.json()["limits"] == {
        "requests_per_minute": 4,
        "tokens_per_minute": 100,
    }


async def test_the_operator_grants_a_ceiling_that_the_org_then_uses(
    client: Client, org: Org, pg_uri: str, admin_app: tuple[web.Application, str]
) -> None:
    env = {**os.environ, "VOLT_DATABASE_URL": pg_uri}
    shown = await asyncio.to_thread(admin_cli.limits, env, org.id)
    assert shown == (await client.get(limits(org), key=org.key)).json()

    granted = await asyncio.to_thread(admin_cli.limits, env, org.id, "--rpm", "5000")
    assert granted["requests_per_minute"] == {"limit": 5000, "ceiling": 5000, "source": "operator"}
    assert granted["tokens_per_minute"]["source"] == "tier"
    assert (await client.get(limits(org), key=org.key)).json() == granted
    r = await patch(client, org, {"requests_per_minute": 4000})
    assert r.status == 200 and r.json()["requests_per_minute"]["source"] == "org"

    # Lowered below the org's own cap, the ceiling binds; back to default, the tier's does.
    lowered = await asyncio.to_thread(admin_cli.limits, env, org.id, "--rpm", "300")
    assert lowered["requests_per_minute"] == {"limit": 300, "ceiling": 300, "source": "operator"}
    # The org's 4000 stays stored, but no cap binds above its ceiling.
    reset = await asyncio.to_thread(admin_cli.limits, env, org.id, "--rpm", "default")
    assert reset["requests_per_minute"] == {
        "limit": STANDARD_RPM,
        "ceiling": STANDARD_RPM,
        "source": "tier",
    }

    human = await asyncio.to_thread(admin_cli.volt_admin, env, "limits", org.id)
    assert human.returncode == 0
    assert f"requests per minute: {STANDARD_RPM}  (ceiling {STANDARD_RPM}, set by tier)" in (
        human.stdout
    )
    ghost = await asyncio.to_thread(admin_cli.volt_admin, env, "limits", "org_nope", "--rpm", "1")
    assert ghost.returncode == 1 and "No such organization: 'org_nope'" in ghost.stderr
    bad = await asyncio.to_thread(admin_cli.volt_admin, env, "limits", org.id, "--rpm", "-1")
    assert bad.returncode == 2 and "out of range" in bad.stderr

    # The org sees in its audit log that the operator changed its limits.
    logs = (await client.get(f"/v1/orgs/{org.id}/audit-logs", key=org.key)).json()["data"]
    grants = [e for e in logs if e["route"] == "volt-admin limits"]
    assert len(grants) == 3 and all(e["principal"] == "operator" for e in grants)
