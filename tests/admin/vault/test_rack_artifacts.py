"""A ready rack's Talos configs and attestation over the API. Talos: every document validates
against Talos's own schema, controlplane and worker share the rack's CAs, and a second download
is the same cluster. Attestation against swtpm-backed agents: a good rack passes; a tampered
event log, a replayed old quote, a wrong attestation key and an unexpected measurement each
fail with the reason named; an agent that is down fails its node, not the request."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from admin.bootstrap import bootstrap_org
from admin.tenancy import create_api_key
from admin.vault.agent import quote_json
from tests.admin.vault.conftest import Lab, vault_lab
from tests.admin.vault.test_enrolment import ForgedAgent
from tests.admin.vault.test_talos import validator as talos_validator
from tests.conftest import MakeOrg, Org, serve
from tests.support.openapi import Spec
from voltcore.appkeys import POOL
from voltcore.config import Settings

pytestmark = pytest.mark.slow
validator = talos_validator


@dataclasses.dataclass
class ReadyRack:
    lab: Lab
    org: Org
    rack: dict[str, Any]

    def path(self, tail: str) -> str:
        return f"/v1/vault/racks/{self.rack['id']}/{tail}"


@pytest_asyncio.fixture(scope="module")
async def ready(
    module_tmp: Path, settings: Settings, spec: Spec, pool: Any
) -> AsyncIterator[ReadyRack]:
    async with vault_lab(module_tmp, settings, spec) as lab:
        b = await bootstrap_org(
            pool,
            name="Rackco",
            tier="enterprise",
            metro="fra1",  # type: ignore[arg-type]
            admin_email="ops@rack.example",
            trust_domain=settings.trust_domain,
        )
        org = Org(b.org_id, b.api_key, b.api_key_id, b.spiffe_id)
        yield ReadyRack(lab, org, await lab.ready_rack(org.key))


async def talos(ready: ReadyRack, role: str) -> list[dict[str, Any]]:
    reply = await ready.lab.api.get(
        ready.path("talos-config"), key=ready.org.key, params={"role": role}
    )
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/yaml")
    return list(yaml.safe_load_all(reply.body))


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d.get("kind", "v1alpha1"): d for d in docs}


async def test_talos_configs_validate_and_describe_one_cluster(
    ready: ReadyRack, validator: Any
) -> None:
    control = by_kind(await talos(ready, "controlplane"))
    worker = by_kind(await talos(ready, "worker"))
    for docs in (control, worker):
        for kind, doc in docs.items():
            errors = [e.message[:200] for e in validator.iter_errors(doc)]
            assert not errors, (kind, errors[:3])
    assert control["v1alpha1"]["machine"]["type"] == "controlplane"
    assert worker["v1alpha1"]["machine"]["type"] == "worker"
    assert control["KubeClusterConfig"]["endpoint"] == "https://10.20.0.10:6443"
    assert set(control["v1alpha1"]["machine"]["certSANs"]) == {n.address for n in ready.lab.nodes}
    # One cluster: the same OS and Kubernetes CAs, discovery identity and join token.
    assert control["v1alpha1"]["machine"]["ca"]["crt"] == worker["v1alpha1"]["machine"]["ca"]["crt"]
    assert (
        control["KubeAPIServerCAConfig"]["issuingCA"]["cert"]
        == worker["KubeAPIServerCAConfig"]["issuingCA"]["cert"]
    )
    assert control["DiscoveryIdentityConfig"] == worker["DiscoveryIdentityConfig"]
    assert worker["v1alpha1"]["machine"]["ca"]["key"] == ""  # workers hold no CA keys
    # A second download is the same cluster (the bundle is stored, not regenerated).
    assert by_kind(await talos(ready, "controlplane")) == control
    client = yaml.safe_load(
        (
            await ready.lab.api.get(
                ready.path("talos-config"), key=ready.org.key, params={"role": "talosconfig"}
            )
        ).body
    )
    context = client["contexts"][client["context"]]
    assert context["ca"] == control["v1alpha1"]["machine"]["ca"]["crt"]
    assert context["endpoints"] == ["10.20.0.11"]


async def test_the_secrets_bundle_is_sealed_at_rest(ready: ReadyRack) -> None:
    pool = ready.lab.app[POOL]
    row = await pool.fetchrow(
        "SELECT secrets_sealed FROM vault_racks WHERE id = $1", ready.rack["id"]
    )
    control = by_kind(await talos(ready, "controlplane"))
    ca_key = base64.b64decode(control["v1alpha1"]["machine"]["ca"]["key"])
    assert b"PRIVATE KEY" in ca_key
    assert b"PRIVATE KEY" not in row["secrets_sealed"]
    node = await pool.fetchrow(
        "SELECT * FROM vault_inventory_nodes WHERE rack = $1 LIMIT 1", ready.lab.rack
    )
    assert ready.lab.bmc.password.encode() not in node["bmc_password_sealed"]
    bad = await ready.lab.api.get(
        ready.path("talos-config"), key=ready.org.key, params={"role": "etcd"}
    )
    bad.expect_error(400, param="role")


async def attest(ready: ReadyRack, **params: str) -> dict[str, Any]:
    reply = await ready.lab.api.get(ready.path("attestation"), key=ready.org.key, params=params)
    assert reply.status == 200, reply.body
    return reply.json()  # type: ignore[no-any-return]


def failures(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        n["name"]: {c: v["reason"] for c, v in n["checks"].items() if not v["ok"]}
        for n in report["nodes"]
    }


async def test_a_good_rack_passes_with_a_fresh_nonce_each_time(ready: ReadyRack) -> None:
    first = await attest(ready)
    assert first["verdict"] == "pass", failures(first)
    assert all(n["verdict"] == "pass" for n in first["nodes"])
    node = first["nodes"][0]
    assert set(node["checks"]) == {"signature", "nonce", "event_log", "measurements"}
    assert node["event_log"][0]["description"] == "firmware"
    assert len(node["pcrs"]["sha256"]) == 8 and node["quote"]["message"]
    second = await attest(ready)
    assert second["nonce"] != first["nonce"] and len(bytes.fromhex(first["nonce"])) == 32
    mine = secrets.token_hex(20)
    assert (await attest(ready, nonce=mine))["nonce"] == mine
    # Enrolled on first contact, then pinned.
    pool = ready.lab.app[POOL]
    pinned = await pool.fetch(
        "SELECT ak_public_pem FROM vault_inventory_nodes WHERE rack = $1", ready.lab.rack
    )
    assert all(r["ak_public_pem"].startswith("-----BEGIN PUBLIC KEY") for r in pinned)
    bad = await ready.lab.api.get(
        ready.path("attestation"), key=ready.org.key, params={"nonce": "xyz"}
    )
    bad.expect_error(400, param="nonce")


@pytest.fixture
def node0(ready: ReadyRack) -> Iterator[Any]:
    node = ready.lab.nodes[0]
    events = list(node.agent.events)
    yield node
    node.agent.events = events


async def test_a_tampered_event_log_fails(ready: ReadyRack, node0: Any) -> None:
    node0.agent.events[1] = dataclasses.replace(
        node0.agent.events[1], digest=hashlib.sha256(b"option ROM nic1").hexdigest()
    )
    report = await attest(ready)
    assert report["verdict"] == "fail"
    assert "event_log" in failures(report)["n0"] and "PCRs" in failures(report)["n0"]["event_log"]
    assert failures(report)["n1"] == {}


async def test_a_replayed_old_quote_fails_the_nonce_check(ready: ReadyRack) -> None:
    """An agent that answers every challenge with a quote it recorded earlier."""
    node = ready.lab.nodes[1]
    recorded = quote_json(node.agent.quote(secrets.token_bytes(32)))

    async def replay(_: web.Request) -> web.Response:
        return web.json_response(recorded)

    app = web.Application()
    app.router.add_post("/v1/quote", replay)
    runner, url = await serve(app)
    pool = ready.lab.app[POOL]
    node_id = await _node_id(ready, "n1")
    try:
        await pool.execute(
            "UPDATE vault_inventory_nodes SET agent_url = $2 WHERE id = $1", node_id, url
        )
        report = await attest(ready)
    finally:
        await pool.execute(
            "UPDATE vault_inventory_nodes SET agent_url = $2 WHERE id = $1", node_id, node.agent_url
        )
        await runner.cleanup()
    assert report["verdict"] == "fail"
    assert set(failures(report)["n1"]) == {"nonce"}
    assert "replayed" in failures(report)["n1"]["nonce"]


async def _node_id(ready: ReadyRack, name: str) -> str:
    return str(
        await ready.lab.app[POOL].fetchval(
            "SELECT id FROM vault_inventory_nodes WHERE rack = $1 AND name = $2",
            ready.lab.rack,
            name,
        )
    )


async def test_a_quote_not_signed_by_the_enrolled_key_fails(ready: ReadyRack) -> None:
    pool = ready.lab.app[POOL]
    node_id = await _node_id(ready, "n2")
    enrolled = await pool.fetchval(
        "SELECT ak_public_pem FROM vault_inventory_nodes WHERE id = $1", node_id
    )
    impostor = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    await pool.execute(
        "UPDATE vault_inventory_nodes SET ak_public_pem = $2 WHERE id = $1",
        node_id,
        impostor.decode(),
    )
    try:
        report = await attest(ready)
    finally:
        await pool.execute(
            "UPDATE vault_inventory_nodes SET ak_public_pem = $2 WHERE id = $1", node_id, enrolled
        )
    assert set(failures(report)["n2"]) == {"signature"}
    assert "attestation key" in failures(report)["n2"]["signature"]


async def test_an_agent_that_is_down_fails_its_node_only(ready: ReadyRack) -> None:
    pool = ready.lab.app[POOL]
    node_id = await _node_id(ready, "n1")
    url = ready.lab.nodes[1].agent_url
    await pool.execute(
        "UPDATE vault_inventory_nodes SET agent_url = 'http://127.0.0.1:9' WHERE id = $1", node_id
    )
    try:
        report = await attest(ready)
    finally:
        await pool.execute(
            "UPDATE vault_inventory_nodes SET agent_url = $2 WHERE id = $1", node_id, url
        )
    nodes = {n["name"]: n for n in report["nodes"]}
    assert report["verdict"] == "fail" and nodes["n1"]["verdict"] == "fail"
    assert "cannot be reached" in nodes["n1"]["error"]
    assert nodes["n0"]["verdict"] == "pass"


async def test_another_org_gets_404_on_the_rack_and_everything_under_it(
    ready: ReadyRack, make_org: MakeOrg
) -> None:
    other = await make_org("Other")
    api, rack_id = ready.lab.api, ready.rack["id"]
    for method, tail, body in [
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/redfish-credentials", {}),
        ("GET", "/talos-config", None),
        ("GET", "/talos-config?role=talosconfig", None),
        ("GET", "/attestation", None),
    ]:
        reply = await api.request(
            method, f"/v1/vault/racks/{rack_id}{tail}", key=other.key, json=body
        )
        reply.expect_error(404, param="rack_id")
        assert rack_id in reply.error["message"]
    listed = (await api.get("/v1/vault/racks", key=other.key)).json()
    assert listed["data"] == []
    still = await api.get(f"/v1/vault/racks/{rack_id}", key=ready.org.key)
    assert still.json()["status"] == "ready"


async def test_a_read_only_key_gets_no_secrets_and_changes_nothing(ready: ReadyRack) -> None:
    """Talos configs hold the cluster's CA private keys (talosconfig mints an admin client
    certificate) and attestation enrols keys: `write`, like every route that changes state."""
    pool = ready.lab.app[POOL]
    async with pool.acquire() as conn:
        reader = await create_api_key(
            conn, ready.org.id, name="reader", scopes=["read"], expires_at=None, created_by=None
        )
    api, rack_id = ready.lab.api, ready.rack["id"]
    node_id = await _node_id(ready, "n0")
    enrolled = await pool.fetchval(
        "SELECT ak_public_pem FROM vault_inventory_nodes WHERE id = $1", node_id
    )
    await pool.execute(
        "UPDATE vault_inventory_nodes SET ak_public_pem = NULL WHERE id = $1", node_id
    )
    try:
        for method, tail, body in [
            ("GET", "/talos-config", None),
            ("GET", "/talos-config?role=worker", None),
            ("GET", "/talos-config?role=talosconfig", None),
            ("GET", "/attestation", None),
            ("POST", "/redfish-credentials", {}),
            ("DELETE", "", None),
        ]:
            reply = await api.request(
                method, f"/v1/vault/racks/{rack_id}{tail}", key=reader.secret, json=body
            )
            reply.expect_error(403, "insufficient_scope")
            assert b"PRIVATE KEY" not in reply.body and "'write'" in reply.error["message"]
        reply = await api.post(
            "/v1/vault/racks", key=reader.secret, json={"metro": "fra1", "rack_type": "x"}
        )
        reply.expect_error(403, "insufficient_scope")
        # The attestation GET enrolled nothing, and no BMC account was made.
        assert (
            await pool.fetchval(
                "SELECT ak_public_pem FROM vault_inventory_nodes WHERE id = $1", node_id
            )
            is None
        )
        assert not await pool.fetchval(
            "SELECT count(*) FROM vault_bmc_accounts WHERE rack_id = $1", rack_id
        )
    finally:
        await pool.execute(
            "UPDATE vault_inventory_nodes SET ak_public_pem = $2 WHERE id = $1", node_id, enrolled
        )
    # Reading the rack itself is what `read` is for.
    got = await api.get(f"/v1/vault/racks/{rack_id}", key=reader.secret)
    assert got.status == 200 and got.json()["status"] == "ready"


async def test_a_forged_agent_serving_its_own_key_is_not_enrolled(ready: ReadyRack) -> None:
    """The tenant's OS runs an agent that serves a key it holds in software, with the node's
    genuine EK certificate, and relays the credential to the real TPM: refused, not enrolled."""
    pool = ready.lab.app[POOL]
    node = ready.lab.nodes[1]
    forged = ForgedAgent(node.agent)
    runner, url = await serve(forged.app())
    node_id = await _node_id(ready, "n1")
    enrolled = await pool.fetchval(
        "SELECT ak_public_pem FROM vault_inventory_nodes WHERE id = $1", node_id
    )
    await pool.execute(
        "UPDATE vault_inventory_nodes SET agent_url = $2, ak_public_pem = NULL WHERE id = $1",
        node_id,
        url,
    )
    try:
        report = await attest(ready)
        stored = await pool.fetchval(
            "SELECT ak_public_pem FROM vault_inventory_nodes WHERE id = $1", node_id
        )
    finally:
        await pool.execute(
            "UPDATE vault_inventory_nodes SET agent_url = $2, ak_public_pem = $3 WHERE id = $1",
            node_id,
            node.agent_url,
            enrolled,
        )
        await runner.cleanup()
    nodes = {n["name"]: n for n in report["nodes"]}
    assert report["verdict"] == "fail" and nodes["n1"]["verdict"] == "fail"
    assert "could not activate a credential" in nodes["n1"]["error"], nodes["n1"]["error"]
    assert forged.activations == 1 and stored is None
    assert nodes["n0"]["verdict"] == "pass"


async def test_an_unexpected_measurement_fails_naming_it(ready: ReadyRack, node0: Any) -> None:
    # The event log is honest, but the node booted something the rack was not built with.
    # A PCR cannot be un-extended, so this test runs last in the module.
    node0.agent.measure(4, b"bootkit 0.1", "bootkit")
    report = await attest(ready)
    assert report["verdict"] == "fail"
    assert set(failures(report)["n0"]) == {"measurements"}
    assert "PCR4 bootkit" in failures(report)["n0"]["measurements"]
