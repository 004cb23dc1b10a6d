"""An org's rate limits and a key's through both clients and the `volt` CLI, against the live
admin service: read, lower, back to the ceiling, refused past it with the parameter named."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.conftest import Org
from tests.volt.conftest import RunVolt, sync
from tests.volt.test_tenancy import aadmin, admin  # noqa: F401 (fixtures: clients of the org)
from volt import AsyncVolt, PermissionDeniedError, Volt

STANDARD_RPM, STANDARD_TPM = 1_000, 2_000_000  # voltcore.config's defaults for the tier

# The fixtures imported above, as parameters.
# ruff: noqa: F811


async def test_both_clients_read_and_set_an_orgs_limits(
    admin: Volt, aadmin: AsyncVolt, org: Org
) -> None:
    got = await sync(admin.orgs.limits.retrieve)
    assert (got.object, got.org_id, got.tier) == ("organization.limits", org.id, "standard")
    assert (got.requests_per_minute.limit, got.requests_per_minute.source) == (STANDARD_RPM, "tier")
    assert got.tokens_per_minute.ceiling == STANDARD_TPM

    lowered = await aadmin.orgs.limits.update(requests_per_minute=10)
    assert lowered.requests_per_minute.limit == 10 and lowered.requests_per_minute.source == "org"
    # None leaves a limit alone; "ceiling" puts it back.
    other = await sync(admin.orgs.limits.update, org_id=org.id, tokens_per_minute=500)
    assert (other.requests_per_minute.limit, other.tokens_per_minute.limit) == (10, 500)
    back = await aadmin.orgs.limits.update(requests_per_minute="ceiling")
    assert (back.requests_per_minute.limit, back.tokens_per_minute.limit) == (STANDARD_RPM, 500)
    assert await aadmin.orgs.limits.retrieve(org_id=org.id) == back

    with pytest.raises(PermissionDeniedError) as refused:
        await aadmin.orgs.limits.update(tokens_per_minute=STANDARD_TPM + 1)
    assert (refused.value.code, refused.value.param) == ("exceeds_ceiling", "tokens_per_minute")


async def test_keys_carry_their_limits(admin: Volt, aadmin: AsyncVolt) -> None:
    key = await aadmin.api_keys.create(name="batch", limits={"tokens_per_minute": 50_000})
    assert (key.limits.requests_per_minute, key.limits.tokens_per_minute) == (None, 50_000)
    plain = await sync(admin.api_keys.create, name="plain")
    assert plain.limits.tokens_per_minute is None
    rotated = await aadmin.api_keys.rotate(key.id)
    assert rotated.limits == key.limits
    with pytest.raises(PermissionDeniedError) as refused:
        await aadmin.api_keys.create(name="big", limits={"requests_per_minute": STANDARD_RPM + 1})
    assert refused.value.param == "limits.requests_per_minute"


async def test_cli_limits_and_key_limits(
    run_volt: RunVolt, admin_app: tuple[web.Application, str], org: Org
) -> None:
    base = admin_app[1]
    got = (await run_volt("limits", "get", "--json", base=base, key=org.key)).json()
    assert got["requests_per_minute"] == {
        "limit": STANDARD_RPM,
        "ceiling": STANDARD_RPM,
        "source": "tier",
    }
    set_ = await run_volt("limits", "set", "--tpm", "5000", "--json", base=base, key=org.key)
    assert set_.json()["tokens_per_minute"]["limit"] == 5000
    table = await run_volt("limits", "get", base=base, key=org.key)
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["LIMIT", "VALUE", "CEILING", "SET", "BY"]
    assert rows[1].split()[-3:] == ["5000", str(STANDARD_TPM), "org"]
    back = await run_volt("limits", "set", "--tpm", "ceiling", "--json", base=base, key=org.key)
    assert back.json()["tokens_per_minute"]["source"] == "tier"

    refused = await run_volt(
        "limits", "set", "--rpm", str(STANDARD_RPM + 1), base=base, key=org.key
    )
    assert refused.code == 1 and "exceeds_ceiling" in refused.stderr
    assert "requests_per_minute" in refused.stderr and "Traceback" not in refused.stderr
    nothing = await run_volt("limits", "set", base=base, key=org.key)
    assert nothing.code == 2 and "--rpm" in nothing.stderr
    bad = await run_volt("limits", "set", "--rpm", "lots", base=base, key=org.key)
    assert bad.code == 2 and "lots" in bad.stderr

    made = await run_volt("keys", "create", "ci", "--rpm", "7", "--json", base=base, key=org.key)
    assert made.json()["limits"] == {"requests_per_minute": 7, "tokens_per_minute": None}
    listed = await run_volt("keys", "list", base=base, key=org.key)
    assert "7 rpm" in listed.stdout
