"""Racks end to end against sushy-tools' emulator with basic auth: a rack provisions to ready
with every node powered on and set to network boot (read back from the emulator itself), is
single-tenant and sovereign, releases to powered-off nodes, and a BMC that refuses or is down
leaves the rack failed with `last_error` until a retry converges."""

from __future__ import annotations

import bcrypt
import pytest

from admin.vault.redfish import Bmc
from tests.admin.vault.conftest import Lab, write_inventory
from tests.conftest import MakeOrg
from voltcore.appkeys import POOL

pytestmark = pytest.mark.slow
RACK = {"metro": "fra1", "rack_type": "gpu-8x-h100"}


def emulator_view(lab: Lab) -> dict[str, tuple[str | None, str | None]]:
    """Power and boot target of each system, asked of the emulator directly (no shim)."""
    bmc = Bmc(lab.bmc.emulator_url, lab.bmc.username, lab.bmc.password)
    seen = {s: bmc.observe(s) for s in lab.bmc.systems}
    return {s: (o.power_state, o.boot_target) for s, o in seen.items()}


async def test_a_rack_provisions_to_ready_with_nodes_on_and_booting_the_installer(
    lab: Lab, make_org: MakeOrg
) -> None:
    org = await make_org()
    headers = {"Idempotency-Key": "rack-1"}
    created = await lab.api.post(
        "/v1/vault/racks", key=org.key, json={**RACK, "sovereignty": "DE"}, headers=headers
    )
    assert created.status == 202, created.body
    rack = created.json()
    assert rack["status"] == "requested" and rack["country"] == "DE"
    assert rack["org_id"] == org.id and rack["last_error"] is None
    again = await lab.api.post(
        "/v1/vault/racks", key=org.key, json={**RACK, "sovereignty": "DE"}, headers=headers
    )
    assert again.json()["id"] == rack["id"] and again.headers["idempotent-replayed"] == "true"

    ready = await lab.wait(rack["id"], org.key, "ready")
    assert ready["ready_at"] and ready["endpoint"] == "https://10.20.0.10:6443"
    assert len(ready["nodes"]) == 3
    for node in ready["nodes"]:
        assert node["status"] == "ready", node
        assert node["power_state"] == "On" and node["boot_device"] == "Pxe"
        assert node["redfish_url"] == lab.bmc.url and node["last_error"] is None
    assert set(emulator_view(lab).values()) == {("On", "Pxe")}

    listed = (await lab.api.get("/v1/vault/racks", key=org.key)).json()
    assert [r["id"] for r in listed["data"]] == [rack["id"]]
    only_ready = await lab.api.get("/v1/vault/racks", key=org.key, params={"status": "failed"})
    assert only_ready.json()["data"] == []


async def test_a_rack_is_single_tenant_sovereign_and_free_again_once_released(
    lab: Lab, make_org: MakeOrg
) -> None:
    a, b = await make_org("A"), await make_org("B")
    elsewhere = await lab.api.post("/v1/vault/racks", key=a.key, json={**RACK, "sovereignty": "CH"})
    elsewhere.expect_error(409, "insufficient_capacity", "rack_type")
    rack = await lab.ready_rack(a.key)
    taken = await lab.api.post("/v1/vault/racks", key=b.key, json=RACK)
    taken.expect_error(409, "insufficient_capacity")

    released = await lab.api.delete(f"/v1/vault/racks/{rack['id']}", key=a.key)
    assert released.status == 202 and released.json()["status"] == "releasing"
    done = await lab.wait(rack["id"], a.key, "released")
    assert done["released_at"] and done["endpoint"] is None
    assert {n["status"] for n in done["nodes"]} == {"released"}
    assert {p for p, _ in emulator_view(lab).values()} == {"Off"}
    again = await lab.api.delete(f"/v1/vault/racks/{rack['id']}", key=a.key)
    assert again.status == 202 and again.json()["status"] == "released"
    # The cluster identity went with the reservation.
    gone = await lab.api.get(f"/v1/vault/racks/{rack['id']}/talos-config", key=a.key)
    gone.expect_error(409, "rack_not_allocated", "rack_id")

    # The next tenant gets the same hardware as a new reservation, with nothing of A's.
    theirs = await lab.ready_rack(b.key)
    assert theirs["id"] != rack["id"]
    (await lab.api.get(f"/v1/vault/racks/{rack['id']}", key=b.key)).expect_error(404)


async def test_a_refusing_bmc_fails_the_rack_and_a_retry_converges(
    lab: Lab, make_org: MakeOrg
) -> None:
    org = await make_org()
    # The BMC's admin password was changed behind our back: every call gets a 401.
    lab.bmc.password = "changed-at-the-bmc"
    hashed = bcrypt.hashpw(lab.bmc.password.encode(), bcrypt.gensalt(4)).decode()
    lab.bmc.htpasswd.write_text(f"{lab.bmc.username}:{hashed}\n")
    created = await lab.api.post("/v1/vault/racks", key=org.key, json=RACK)
    failed = await lab.wait(created.json()["id"], org.key, "failed")
    assert failed["last_error"]["code"] == "bmc_auth_failed", failed
    assert {n["last_error"]["code"] for n in failed["nodes"]} == {"bmc_auth_failed"}
    assert {n["status"] for n in failed["nodes"]} == {"failed"}

    # The operator puts the new password in the inventory file; no restart, the next retry
    # reads it and converges.
    write_inventory(lab.inventory, lab.rack, lab.bmc, lab.nodes)
    ready = await lab.wait(created.json()["id"], org.key, "ready")
    assert ready["last_error"] is None
    assert {n["status"] for n in ready["nodes"]} == {"ready"}
    sealed = await lab.app[POOL].fetchval(
        "SELECT bmc_password_sealed FROM vault_inventory_nodes WHERE rack = $1 LIMIT 1", lab.rack
    )
    assert lab.bmc.password.encode() not in sealed


async def test_an_unreachable_bmc_fails_the_rack_and_a_retry_converges(
    lab: Lab, make_org: MakeOrg
) -> None:
    org = await make_org()
    lab.bmc.stop()
    created = await lab.api.post("/v1/vault/racks", key=org.key, json=RACK)
    failed = await lab.wait(created.json()["id"], org.key, "failed")
    assert failed["last_error"]["code"] == "bmc_unreachable", failed
    lab.bmc.start()
    await lab.wait(created.json()["id"], org.key, "ready")
    assert set(emulator_view(lab).values()) == {("On", "Pxe")}


async def test_bad_rack_requests_name_the_parameter(lab: Lab, make_org: MakeOrg) -> None:
    org = await make_org()
    (await lab.api.post("/v1/vault/racks", key=org.key, json={"metro": "fra1"})).expect_error(
        400, param="rack_type"
    )
    bad_country = {**RACK, "sovereignty": "germany"}
    (await lab.api.post("/v1/vault/racks", key=org.key, json=bad_country)).expect_error(
        400, param="sovereignty"
    )
    (await lab.api.post("/v1/vault/racks", key=org.key, json={**RACK, "gpus": 8})).expect_error(
        400, param="gpus"
    )
    bad_status = await lab.api.get("/v1/vault/racks", key=org.key, params={"status": "on"})
    bad_status.expect_error(400, param="status")
    (await lab.api.get("/v1/vault/racks/rack_nope", key=org.key)).expect_error(404)


async def test_a_restart_mid_provisioning_resumes_and_converges(
    lab: Lab, make_org: MakeOrg
) -> None:
    org = await make_org()
    created = await lab.api.post("/v1/vault/racks", key=org.key, json=RACK)
    await lab.wait(created.json()["id"], org.key, "provisioning")
    await lab.restart()
    ready = await lab.wait(created.json()["id"], org.key, "ready")
    assert {n["status"] for n in ready["nodes"]} == {"ready"}
