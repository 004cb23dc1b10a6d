"""Time-limited BMC credentials: minted on every node through the Redfish AccountService,
they log in to the real emulator, cannot manage accounts (least privilege), and stop working
once they expire or the rack is released; minting and deletion are audited."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from admin.vault.redfish import Bmc, BmcError
from tests.admin.vault.conftest import Lab
from tests.conftest import MakeOrg
from voltcore.appkeys import POOL

pytestmark = pytest.mark.slow


def logs_in(lab: Lab, username: str, password: str) -> bool:
    """Straight at the emulator: its basic auth is the real check."""
    try:
        Bmc(lab.bmc.emulator_url, username, password).systems()
        return True
    except BmcError as err:
        assert err.code == "bmc_auth_failed", err.code
        return False


async def wait_until(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):  # type: ignore[arg-type]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)


async def test_minted_credentials_work_until_they_expire(lab: Lab, make_org: MakeOrg) -> None:
    org = await make_org()
    rack = await lab.ready_rack(org.key)
    minted = await lab.api.post(
        f"/v1/vault/racks/{rack['id']}/redfish-credentials", key=org.key, json={"ttl_seconds": 600}
    )
    assert minted.status == 201, minted.body
    creds = minted.json()
    assert creds["role"] == "Operator" and creds["rack_id"] == rack["id"]
    assert abs(creds["expires_at"] - (time.time() + 600)) < 30
    assert {n["node_id"] for n in creds["nodes"]} == {n["id"] for n in rack["nodes"]}
    assert len(creds["password"]) >= 16
    assert await asyncio.to_thread(logs_in, lab, creds["username"], creds["password"])
    # Through the BMC's front door too, where an Operator may power-cycle but not add users.
    auth = aiohttp.BasicAuth(creds["username"], creds["password"])
    async with aiohttp.ClientSession(auth=auth) as bmc:
        async with bmc.get(f"{lab.bmc.url}/redfish/v1/Systems") as systems:
            assert systems.status == 200
        body = {"UserName": "backdoor", "Password": "x" * 20, "RoleId": "Administrator"}
        async with bmc.post(f"{lab.bmc.url}/redfish/v1/AccountService/Accounts", json=body) as r:
            assert r.status == 403
    # The password is nowhere at rest.
    pool = lab.app[POOL]
    row = await pool.fetchrow("SELECT * FROM vault_bmc_accounts WHERE id = $1", creds["id"])
    assert creds["password"] not in str(dict(row))

    # Time passes: the account's expiry is due, and the reconciler deletes it on every node.
    await pool.execute(
        "UPDATE vault_bmc_accounts SET expires_at = now() WHERE id = $1", creds["id"]
    )
    await wait_until(lambda: not logs_in(lab, creds["username"], creds["password"]))
    assert creds["username"] not in lab.bmc.htpasswd.read_text()
    await asyncio.sleep(1.5)  # the audit writer's flush
    routes = await pool.fetch(
        "SELECT method, route, principal FROM audit_log WHERE org_id = $1 ORDER BY seq", org.id
    )
    seen = {(r["method"], r["route"], r["principal"]) for r in routes}
    assert ("POST", "/v1/vault/racks/{rack_id}/redfish-credentials", org.key_id) in seen, seen
    deleted = (
        "DELETE",
        "/redfish/v1/AccountService/Accounts/{username}",
        "system:vault-reconciler",
    )
    assert deleted in seen, seen


async def test_release_deletes_minted_accounts(lab: Lab, make_org: MakeOrg) -> None:
    org = await make_org()
    rack = await lab.ready_rack(org.key)
    creds = (
        await lab.api.post(f"/v1/vault/racks/{rack['id']}/redfish-credentials", key=org.key)
    ).json()
    assert abs(creds["expires_at"] - (time.time() + 3600)) < 30  # the default hour
    assert await asyncio.to_thread(logs_in, lab, creds["username"], creds["password"])
    await lab.api.delete(f"/v1/vault/racks/{rack['id']}", key=org.key)
    await lab.wait(rack["id"], org.key, "released")
    assert not await asyncio.to_thread(logs_in, lab, creds["username"], creds["password"])
    late = await lab.api.post(f"/v1/vault/racks/{rack['id']}/redfish-credentials", key=org.key)
    late.expect_error(409, "rack_not_allocated", "rack_id")


async def test_credential_requests_are_checked(lab: Lab, make_org: MakeOrg) -> None:
    org = await make_org()
    rack = await lab.ready_rack(org.key)
    path = f"/v1/vault/racks/{rack['id']}/redfish-credentials"
    for ttl in (10, 86_401, "1h"):
        (await lab.api.post(path, key=org.key, json={"ttl_seconds": ttl})).expect_error(
            400, param="ttl_seconds"
        )
    (await lab.api.post(path, key=org.key, json={"role": "Administrator"})).expect_error(
        400, param="role"
    )
