"""The reconciler against the real API server, driven pass by pass on a database of its own:
a crash mid-provisioning resumes with no duplicate or orphaned objects, an unreachable API
server leaves the lease provisioning with last_error until it returns, leases expire, a
loosened pod security policy is put back, and a dead admission webhook blocks writes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from admin.forge import store
from admin.forge.config import ForgeSettings
from admin.forge.kube import PSP_PATH, Kube
from admin.forge.plan import (
    RESTRICTED_PSP,
    TENANT,
    Manifest,
    kubeconfig,
    managed_labels,
    node_label,
)
from admin.forge.reconciler import Reconciler
from admin.forge.states import LeaseEvent, LeaseState
from admin.forge.store import Lease
from admin.forge.webhook import webhook_tls
from lab.kube import KubeCluster
from lab.ports import free_ports
from tests.admin.forge.conftest import A100, forge_settings, tenant_api
from voltcore.db import Pool

pytestmark = pytest.mark.slow
NODE = "ams1-a100-0"


class Crash(BaseException):
    """Stands for the process dying: nothing in the reconciler catches it."""


class CrashingKube(Kube):
    def __init__(self, *args: Any, writes_before_crash: int) -> None:
        super().__init__(*args)
        self.left = writes_before_crash

    def apply(self, manifest: Manifest) -> None:
        if self.left == 0:
            raise Crash
        self.left -= 1
        super().apply(manifest)


async def new_lease(db: Pool, duration_s: int = 3600) -> asyncpg.Record:
    org = f"org_{time.monotonic_ns()}"
    await db.execute(
        "INSERT INTO orgs (id, name, tier, home_metro) VALUES ($1, 'T', 'standard', 'ams1')", org
    )
    async with db.acquire() as conn:
        lease = await store.insert_lease(
            conn,
            org,
            gpu_type=A100,
            gpu_count=1,
            metro="ams1",
            duration_s=duration_s,
            placement={NODE: 1},
            price=1.29,
        )
    row = await db.fetchrow("SELECT * FROM forge_leases WHERE id = $1", lease.id)
    assert row is not None
    return row


async def converge(reconciler: Reconciler, db: Pool, lease_id: str, status: str) -> asyncpg.Record:
    deadline = time.monotonic() + 60
    while True:
        await reconciler.reconcile_once()
        row = await db.fetchrow("SELECT * FROM forge_leases WHERE id = $1", lease_id)
        assert row is not None
        if row["status"] == status:
            return row
        assert time.monotonic() < deadline, dict(row)
        await asyncio.sleep(0.2)


def names(items: list[Any]) -> list[str]:
    return sorted(i.metadata.name for i in items)


@pytest.fixture
def settings_(cluster: KubeCluster) -> ForgeSettings:
    return forge_settings(cluster, installation="reconciler-test")


async def test_crash_mid_provisioning_resumes_without_duplicates_or_orphans(
    cluster: KubeCluster, fresh_db: tuple[str, Pool], settings_: ForgeSettings
) -> None:
    _, db = fresh_db
    lease = await new_lease(db)
    crashing = CrashingKube(settings_.kubeconfig, writes_before_crash=3)
    with pytest.raises(Crash):
        await Reconciler(db, crashing, settings_).reconcile_once()
    row = await db.fetchrow("SELECT status FROM forge_leases WHERE id = $1", lease["id"])
    assert row is not None and row["status"] == "provisioning"

    kube = Kube(settings_.kubeconfig)  # a fresh process
    active = await converge(Reconciler(db, kube, settings_), db, lease["id"], "active")
    ns = active["namespace"]
    core, rbac = kube.core, kube.rbac
    net = client.NetworkingV1Api(kube.api)
    assert names(core.list_namespaced_resource_quota(ns).items) == ["forge-quota"]
    assert names(core.list_namespaced_limit_range(ns).items) == ["forge-limits"]
    assert names(net.list_namespaced_network_policy(ns).items) == [
        "allow-same-namespace",
        "default-deny",
    ]
    assert "tenant" in names(core.list_namespaced_service_account(ns).items)
    assert names(rbac.list_namespaced_role(ns).items) == ["forge-pod-security", "tenant"]
    assert names(rbac.list_namespaced_role_binding(ns).items) == ["forge-pod-security", "tenant"]

    # Crash in the middle of termination too; a fresh reconciler finishes it.
    await store.LEASES.apply(
        db, Lease.from_record(active), LeaseEvent.TERMINATE, target=LeaseState.TERMINATED
    )
    ended = await converge(Reconciler(db, kube, settings_), db, lease["id"], "terminated")
    assert ended["ended_at"] is not None
    assert kube.namespace_phase(ns) is None
    assert node_label(lease["id"]) not in (core.read_node(NODE).metadata.labels or {})


async def test_orphaned_namespaces_are_collected(
    cluster: KubeCluster, fresh_db: tuple[str, Pool], settings_: ForgeSettings
) -> None:
    _, db = fresh_db
    kube = Kube(settings_.kubeconfig)
    ghost = "lease-ghost0000000000000000000"
    kube.core.create_namespace(
        {
            "metadata": {
                "name": ghost,
                "labels": {
                    **managed_labels(settings_.installation),
                    "forge.volt.dev/lease": "lease_ghost",
                },
            }
        }
    )
    # Another installation's namespace is not ours to collect.
    other = "lease-other000000000000000000"
    kube.core.create_namespace(
        {
            "metadata": {
                "name": other,
                "labels": {**managed_labels("someone-else"), "forge.volt.dev/lease": "lease_other"},
            }
        }
    )
    await Reconciler(db, kube, settings_).reconcile_once()
    assert kube.namespace_phase(ghost) in (None, "Terminating")
    assert kube.namespace_phase(other) == "Active"
    kube.delete_namespace(other)


async def test_unreachable_api_server_leaves_last_error_then_converges(
    cluster: KubeCluster, fresh_db: tuple[str, Pool], settings_: ForgeSettings
) -> None:
    _, db = fresh_db
    lease = await new_lease(db)
    kube = Kube(settings_.kubeconfig)
    reconciler = Reconciler(db, kube, settings_)
    cluster.stop_apiserver()
    try:
        await reconciler.reconcile_once()
        await reconciler.reconcile_once()
        row = await db.fetchrow("SELECT * FROM forge_leases WHERE id = $1", lease["id"])
        assert row is not None and row["status"] == "provisioning"
        assert row["last_error"]["code"] == "apiserver_unreachable"
    finally:
        cluster.start_apiserver()
    active = await converge(reconciler, db, lease["id"], "active")
    assert active["last_error"] is None
    await store.LEASES.apply(
        db, Lease.from_record(active), LeaseEvent.TERMINATE, target=LeaseState.TERMINATED
    )
    await converge(reconciler, db, lease["id"], "terminated")


async def test_a_lease_expires_and_its_namespace_goes(
    cluster: KubeCluster, fresh_db: tuple[str, Pool], settings_: ForgeSettings
) -> None:
    _, db = fresh_db
    lease = await new_lease(db, duration_s=2)
    kube = Kube(settings_.kubeconfig)
    reconciler = Reconciler(db, kube, settings_)
    await converge(reconciler, db, lease["id"], "active")
    expired = await converge(reconciler, db, lease["id"], "expired")
    assert expired["end_reason"] == "expired" and kube.namespace_phase(lease["namespace"]) is None
    with pytest.raises(ApiException):
        client.CoreV1Api(config.new_client_from_config(str(settings_.kubeconfig))).read_namespace(
            lease["namespace"]
        )


async def test_a_loosened_pod_security_policy_is_put_back(
    cluster: KubeCluster, fresh_db: tuple[str, Pool], settings_: ForgeSettings
) -> None:
    _, db = fresh_db
    lease = await new_lease(db)
    kube = Kube(settings_.kubeconfig)
    reconciler = Reconciler(db, kube, settings_)
    active = await converge(reconciler, db, lease["id"], "active")
    path = f"{PSP_PATH}/{RESTRICTED_PSP}"
    loosened = kube._rest("PATCH", path, {"spec": {"privileged": True, "hostPID": True}})
    assert loosened["spec"]["privileged"] and loosened["spec"]["hostPID"]
    deadline = time.monotonic() + 30
    # false is left out of what the API server returns
    while (spec := kube._rest("GET", path)["spec"]).get("privileged") or spec.get("hostPID"):
        assert time.monotonic() < deadline, spec
        await reconciler.reconcile_once()  # drift repair at the resync pace (1 s here)
        await asyncio.sleep(0.2)
    await store.LEASES.apply(
        db, Lease.from_record(active), LeaseEvent.TERMINATE, target=LeaseState.TERMINATED
    )
    await converge(reconciler, db, lease["id"], "terminated")


async def test_a_dead_webhook_fails_closed(
    cluster: KubeCluster, fresh_db: tuple[str, Pool], settings_: ForgeSettings, tmp_path: Path
) -> None:
    """With the webhook registered but Volt not answering, a tenant's Service write is refused,
    not waved through."""
    _, db = fresh_db
    (dead,) = free_ports(1)  # nothing listens there
    settings = settings_.model_copy(update={"webhook_port": dead})
    lease = await new_lease(db)
    kube = Kube(settings.kubeconfig)
    hooks = client.AdmissionregistrationV1Api(kube.api)
    reconciler = Reconciler(db, kube, settings, webhook_ca=webhook_tls(settings).ca_pem)
    try:
        active = await converge(reconciler, db, lease["id"], "active")
        ns = active["namespace"]
        token, _ = kube.token(ns, TENANT, 600)
        minted = kubeconfig(kube.server, kube.ca_pem, ns, token, lease["id"])
        tenant = tenant_api(yaml.safe_dump(minted), tmp_path)
        body = {"metadata": {"name": "inside"}, "spec": {"ports": [{"port": 80}]}}
        with pytest.raises(ApiException) as refused:
            tenant.create_namespaced_service(ns, body)
        assert refused.value.status == 500 and "failed calling webhook" in refused.value.body
        assert kube.core.list_namespaced_service(ns).items == []
    finally:
        hooks.delete_validating_webhook_configuration(f"volt-forge-{settings.installation}")
    await store.LEASES.apply(
        db, Lease.from_record(active), LeaseEvent.TERMINATE, target=LeaseState.TERMINATED
    )
    await converge(reconciler, db, lease["id"], "terminated")
