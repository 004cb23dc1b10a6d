"""Forge end to end against a real kube-apiserver: availability, a lease's life from pending to
terminated, the namespace's guard rails seen through a minted kubeconfig, idempotency, capacity
errors and cross-org isolation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.admin.forge.conftest import A100, H100, ForgeService, tenant_api
from tests.conftest import MakeOrg, Org
from voltcore.appkeys import AUDIT
from voltcore.db import Pool

pytestmark = pytest.mark.slow


async def wait_status(
    forge: ForgeService, org: Org, lease_id: str, status: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        lease = (await forge.api.get(f"/v1/forge/leases/{lease_id}", key=org.key)).json()
        if lease["status"] == status:
            return lease  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, lease
        await asyncio.sleep(0.2)


def lease_request(forge: ForgeService, org: Org, **body: Any) -> Any:
    return forge.api.post(
        "/v1/forge/leases",
        key=org.key,
        json={"gpu_type": H100, "gpu_count": 1, "metro": "fra1", "duration_seconds": 3600, **body},
    )


async def lease(forge: ForgeService, org: Org, **body: Any) -> dict[str, Any]:
    r = await lease_request(forge, org, **{"gpu_count": 2, **body})
    assert r.status == 202, r.body
    return r.json()  # type: ignore[no-any-return]


async def test_availability_from_the_cluster(forge: ForgeService, org: Org) -> None:
    rows = (await forge.api.get("/v1/forge/availability", key=org.key)).json()["data"]
    by = {(r["metro"], r["gpu_type"]): r for r in rows}
    assert by[("fra1", H100)]["total_gpus"] == 16 and by[("ams1", A100)]["total_gpus"] == 4
    assert by[("fra1", H100)]["price_per_gpu_hour"] == 2.49
    only = (
        await forge.api.get("/v1/forge/availability", key=org.key, params={"metro": "ams1"})
    ).json()["data"]
    assert [r["gpu_type"] for r in only] == [A100]
    big = (await forge.api.get("/v1/forge/availability", key=org.key, params={"count": 5})).json()[
        "data"
    ]
    assert all(r["largest_lease_gpus"] >= 5 for r in big) and ("ams1", A100) not in {
        (r["metro"], r["gpu_type"]) for r in big
    }


async def test_lease_lifecycle_with_a_minted_kubeconfig(
    forge: ForgeService, make_org: MakeOrg, tmp_path: Path, pool: Pool
) -> None:
    org = await make_org()
    before = {
        (r["metro"], r["gpu_type"]): r["available_gpus"]
        for r in (await forge.api.get("/v1/forge/availability", key=org.key)).json()["data"]
    }
    created = await lease(forge, org, gpu_count=2)
    assert created["status"] == "pending" and created["namespace"].startswith("lease-")
    assert sum(n["gpus"] for n in created["nodes"]) == 2
    active = await wait_status(forge, org, created["id"], "active")
    assert active["started_at"] and active["expires_at"] - active["started_at"] == 3600
    ns = active["namespace"]

    admin = client.CoreV1Api(config.new_client_from_config(str(forge.cluster.admin_kubeconfig)))
    namespace = admin.read_namespace(ns)
    assert namespace.metadata.labels["forge.volt.dev/org"] == org.id
    quota = admin.read_namespaced_resource_quota("forge-quota", ns)
    assert quota.spec.hard["requests.nvidia.com/gpu"] == "2"
    node = admin.read_node(active["nodes"][0]["name"])
    assert node.metadata.labels[f"lease.forge.volt.dev/{created['id']}"] == "true"
    net = client.NetworkingV1Api(admin.api_client)
    assert {p.metadata.name for p in net.list_namespaced_network_policy(ns).items} == {
        "default-deny",
        "allow-same-namespace",
    }

    r = await forge.api.post(f"/v1/forge/leases/{created['id']}/kubeconfig", key=org.key)
    assert r.status == 201
    minted = r.json()
    await forge.app[AUDIT].flush()  # every mint is audited, with who minted it
    audited = await pool.fetchrow(
        "SELECT * FROM audit_log WHERE request_id = $1", r.headers["x-request-id"]
    )
    assert audited is not None and audited["principal"] == org.key_id
    assert audited["route"] == "/v1/forge/leases/{lease_id}/kubeconfig" and audited["status"] == 201
    assert minted["namespace"] == ns and minted["expires_at"] <= active["expires_at"]
    kubeconfig = yaml.safe_load(minted["kubeconfig"])
    assert kubeconfig["contexts"][0]["context"]["namespace"] == ns
    assert kubeconfig["clusters"][0]["cluster"]["server"] == forge.cluster.server
    tenant = tenant_api(minted["kubeconfig"], tmp_path)

    assert tenant.list_namespaced_pod(ns).items == []
    for forbidden in (
        lambda: tenant.list_namespaced_pod("default"),
        tenant.list_node,
        tenant.list_namespace,
        lambda: tenant.delete_namespaced_resource_quota("forge-quota", ns),
    ):
        with pytest.raises(ApiException) as denied:
            forbidden()
        assert denied.value.status == 403

    def pod(name: str, gpus: int) -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "cuda",
                        "resources": {
                            "limits": {"nvidia.com/gpu": str(gpus)},
                            "requests": {"nvidia.com/gpu": str(gpus)},
                        },
                    }
                ]
            },
        }

    # Pod writes in a thread: the admission webhook they call is served by this event loop.
    with pytest.raises(ApiException) as over:
        await asyncio.to_thread(tenant.create_namespaced_pod, ns, pod("too-big", 3))
    assert over.value.status == 403 and "exceeded quota" in over.value.body
    made = await asyncio.to_thread(tenant.create_namespaced_pod, ns, pod("fits", 2))
    # Pinned: the namespace's node selector sends the pod only to the placed nodes.
    assert made.spec.node_selector == {f"lease.forge.volt.dev/{created['id']}": "true"}

    r = await forge.api.delete(f"/v1/forge/leases/{created['id']}", key=org.key)
    assert r.status == 202 and r.json()["status"] == "terminating"
    ended = await wait_status(forge, org, created["id"], "terminated")
    assert ended["terminated_at"]
    with pytest.raises(ApiException) as gone:
        admin.read_namespace(ns)
    assert gone.value.status == 404
    # The API server's service-account cache may lag the deletion by a moment.
    deadline = time.monotonic() + 15
    while True:
        with pytest.raises(ApiException) as revoked:
            tenant.list_namespaced_pod(ns)
        if revoked.value.status == 401 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert revoked.value.status == 401
    node = admin.read_node(active["nodes"][0]["name"])
    assert f"lease.forge.volt.dev/{created['id']}" not in (node.metadata.labels or {})
    after = {
        (r["metro"], r["gpu_type"]): r["available_gpus"]
        for r in (await forge.api.get("/v1/forge/availability", key=org.key)).json()["data"]
    }
    assert after == before
    (
        await forge.api.post(f"/v1/forge/leases/{created['id']}/kubeconfig", key=org.key)
    ).expect_error(409, "lease_not_active")


async def test_idempotency_key(forge: ForgeService, org: Org) -> None:
    body = {"gpu_type": A100, "gpu_count": 1, "metro": "ams1", "duration_seconds": 600}
    headers = {"Idempotency-Key": f"retry-{time.time()}"}
    first = await forge.api.post("/v1/forge/leases", key=org.key, json=body, headers=headers)
    again = await forge.api.post("/v1/forge/leases", key=org.key, json=body, headers=headers)
    assert first.status == again.status == 202
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    listed = (await forge.api.get("/v1/forge/leases", key=org.key)).json()["data"]
    assert [x["id"] for x in listed].count(first.json()["id"]) == 1 and len(listed) == 1
    other = await forge.api.post(
        "/v1/forge/leases", key=org.key, headers=headers, json={**body, "gpu_count": 2}
    )
    other.expect_error(400, "idempotency_key_reused", "Idempotency-Key")
    await forge.api.delete(f"/v1/forge/leases/{first.json()['id']}", key=org.key)
    await wait_status(forge, org, first.json()["id"], "terminated")


async def test_capacity_and_bad_input(forge: ForgeService, org: Org) -> None:
    r = await forge.api.post(
        "/v1/forge/leases",
        key=org.key,
        json={"gpu_type": A100, "gpu_count": 5, "metro": "ams1", "duration_seconds": 600},
    )
    error = r.expect_error(409, "insufficient_capacity", "gpu_count")
    assert "largest lease" in error["message"]
    for body, param in [
        ({"gpu_type": "TPU", "gpu_count": 1, "metro": "fra1", "duration_seconds": 600}, "gpu_type"),
        ({"gpu_type": H100, "gpu_count": 0, "metro": "fra1", "duration_seconds": 600}, "gpu_count"),
        (
            {"gpu_type": H100, "gpu_count": 1, "metro": "fra1", "duration_seconds": 5},
            "duration_seconds",
        ),
        ({"gpu_type": H100, "gpu_count": 1, "metro": "fra1"}, "duration_seconds"),
        ({"gpu_type": H100, "gpu_count": 1, "metro": "fra1", "duration_seconds": 600, "x": 1}, "x"),
    ]:
        (await forge.api.post("/v1/forge/leases", key=org.key, json=body)).expect_error(
            400, param=param
        )


async def test_other_orgs_see_nothing(forge: ForgeService, make_org: MakeOrg) -> None:
    a, b = await make_org(), await make_org()
    mine = await lease(forge, a, gpu_count=1)
    await wait_status(forge, a, mine["id"], "active")
    base = f"/v1/forge/leases/{mine['id']}"
    for method, path in [("GET", base), ("DELETE", base), ("POST", f"{base}/kubeconfig")]:
        (await forge.api.request(method, path, key=b.key)).expect_error(
            404, "not_found", "lease_id"
        )
    assert (await forge.api.get("/v1/forge/leases", key=b.key)).json()["data"] == []
    assert (await forge.api.get(base, key=a.key)).json()["status"] == "active"
    active = (
        await forge.api.get("/v1/forge/leases", key=a.key, params={"status": "active"})
    ).json()
    assert [x["id"] for x in active["data"]] == [mine["id"]]
    none = (await forge.api.get("/v1/forge/leases", key=a.key, params={"status": "failed"})).json()
    assert none["data"] == [] and none["has_more"] is False
    await forge.api.delete(base, key=a.key)
    await wait_status(forge, a, mine["id"], "terminated")


async def test_orgs_do_not_share_nodes(forge: ForgeService, make_org: MakeOrg) -> None:
    # fra1 has two 8-GPU H100 nodes. Best fit alone would pack both orgs onto one.
    a, b, c = await make_org(), await make_org(), await make_org()
    first = await lease(forge, a, gpu_count=1)
    second = await lease(forge, b, gpu_count=1)
    (node_a,), (node_b,) = ([n["name"] for n in x["nodes"]] for x in (first, second))
    assert node_a != node_b
    # A third org finds no node of its own: nothing is offered, nothing can be had.
    (row,) = (
        await forge.api.get("/v1/forge/availability", key=c.key, params={"metro": "fra1"})
    ).json()["data"]
    assert row["available_gpus"] == row["largest_lease_gpus"] == 0 and row["total_gpus"] == 16
    (await lease_request(forge, c)).expect_error(409, "insufficient_capacity", "gpu_count")
    # An org's own leases still pack together.
    again = await lease(forge, a, gpu_count=1)
    assert [n["name"] for n in again["nodes"]] == [node_a]
    for org, made in ((a, first), (b, second), (a, again)):
        await forge.api.delete(f"/v1/forge/leases/{made['id']}", key=org.key)
    for org, made in ((a, first), (b, second), (a, again)):
        await wait_status(forge, org, made["id"], "terminated")
