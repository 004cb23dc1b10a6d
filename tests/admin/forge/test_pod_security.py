"""Tenant isolation below the API, against the real kube-apiserver and through a minted
kubeconfig: every way out of the namespace or onto the node is refused by the API server
(the restricted PodSecurityPolicy on the 1.20 peer, Volt's admission webhook, RBAC, quota),
and a compliant GPU pod is admitted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from admin.forge.plan import POD_SECURITY, RESTRICTED_PSP
from tests.admin.forge.conftest import ForgeService, tenant_api
from tests.admin.forge.test_leases import lease, wait_status
from tests.conftest import MakeOrg
from tests.support.forge import MIG

pytestmark = pytest.mark.slow
GPU = "nvidia.com/gpu"


def container(name: str = "c", gpus: int = 1, **security: Any) -> dict[str, Any]:
    """A container the restricted profile admits, with `security` overriding its context."""
    return {
        "name": name,
        "image": "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
        "resources": {"limits": {GPU: str(gpus)}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
            **security,
        },
    }


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [container()], **spec}}


HOST_ROOT = {"name": "root", "hostPath": {"path": "/"}}
ESCAPES: dict[str, tuple[dict[str, Any], str]] = {
    # name -> (pod, what the refusal names)
    "privileged": (
        pod("privileged", containers=[container(privileged=True, allowPrivilegeEscalation=None)]),
        "privileged",
    ),
    "host-path": (
        pod(
            "host-path",
            volumes=[HOST_ROOT],
            containers=[{**container(), "volumeMounts": [{"name": "root", "mountPath": "/h"}]}],
        ),
        "hostPath",
    ),
    "host-pid": (pod("host-pid", hostPID=True), "hostPID"),
    "host-ipc": (pod("host-ipc", hostIPC=True), "hostIPC"),
    "host-network": (pod("host-network", hostNetwork=True), "hostNetwork"),
    "host-port": (
        pod(
            "host-port",
            containers=[{**container(), "ports": [{"containerPort": 22, "hostPort": 22}]}],
        ),
        "hostPort",
    ),
    "sys-admin": (
        pod("sys-admin", containers=[container(capabilities={"add": ["SYS_ADMIN"]})]),
        "capabilities.add",
    ),
    "root": (pod("root", containers=[container(runAsUser=0, runAsNonRoot=None)]), "runAsUser"),
    "escalation": (
        pod("escalation", containers=[container(allowPrivilegeEscalation=True)]),
        "allowPrivilegeEscalation",
    ),
    "unconfined": (
        pod("unconfined", containers=[container(seccompProfile={"type": "Unconfined"})]),
        "seccomp",
    ),
    # Not pod security but the webhook: a pod bound to a node by hand, skipping the scheduler,
    "node-name": (pod("node-name", nodeName="fra1-h100-1"), "nodeName"),
    # and a GPU-less pod asking the runtime for every GPU.
    "visible-devices": (
        pod(
            "visible-devices",
            containers=[
                {
                    **container(),
                    "resources": {},
                    "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}],
                }
            ],
        ),
        "NVIDIA_VISIBLE_DEVICES",
    ),
}


async def refusal(fn: Callable[..., Any], *args: Any) -> ApiException:
    """The API server's refusal of `fn(*args)`. In a thread: the webhook it may call is served
    by this test's event loop."""
    with pytest.raises(ApiException) as refused:
        await asyncio.to_thread(fn, *args)
    return refused.value


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], **spec}}


async def test_a_minted_kubeconfig_cannot_leave_its_namespace_or_reach_the_node(
    forge: ForgeService, make_org: MakeOrg, tmp_path: Path
) -> None:
    org = await make_org()
    created = await lease(forge, org, gpu_count=2)
    ns = (await wait_status(forge, org, created["id"], "active"))["namespace"]
    minted = await forge.api.post(f"/v1/forge/leases/{created['id']}/kubeconfig", key=org.key)
    tenant = tenant_api(minted.json()["kubeconfig"], tmp_path)
    admin = client.CoreV1Api(config.new_client_from_config(str(forge.cluster.admin_kubeconfig)))
    labels = admin.read_namespace(ns).metadata.labels
    # For current clusters (Pod Security Admission); the 1.20 peer ignores these.
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    for name, (body, field) in ESCAPES.items():
        refused = await refusal(tenant.create_namespaced_pod, ns, body)
        assert refused.status == 403, (name, refused.body)
        assert field in refused.body, (name, refused.body)

    # Every field through which a pod claims GPUs counts against the lease's 2.
    claims = {
        "limits only": pod("limits-only", containers=[container(gpus=3)]),
        "init container": pod(
            "init-gpus", initContainers=[container("init", gpus=3)], containers=[container()]
        ),
        "two containers": pod("two", containers=[container("a", 2), container("b", 1)]),
        "a MIG slice": pod(
            "mig", containers=[{**container(), "resources": {"limits": {MIG: "1"}}}]
        ),
    }
    for name, body in claims.items():
        over = await refusal(tenant.create_namespaced_pod, ns, body)
        assert over.status == 403 and "exceeded quota" in over.body, name
    # A GPU request above its limit would overcommit a device: validation refuses it.
    overcommit = container()
    overcommit["resources"] = {"requests": {GPU: "2"}, "limits": {GPU: "1"}}
    invalid = await refusal(
        tenant.create_namespaced_pod, ns, pod("overcommit", containers=[overcommit])
    )
    assert invalid.status == 422 and GPU in invalid.body

    # A compliant GPU pod is admitted, under the restricted policy.
    made = await asyncio.to_thread(
        tenant.create_namespaced_pod, ns, pod("train", containers=[container(gpus=2)])
    )
    assert made.metadata.annotations["kubernetes.io/psp"] == RESTRICTED_PSP

    for name, spec, field in [
        ("external-ips", {"externalIPs": ["10.0.0.1"]}, "externalIPs"),
        ("node-port", {"type": "NodePort"}, "NodePort"),
        ("load-balancer", {"type": "LoadBalancer"}, "LoadBalancer"),
    ]:
        refused = await refusal(tenant.create_namespaced_service, ns, service(name, **spec))
        assert refused.status == 403 and field in refused.body, refused.body
    # ClusterIP stays useful.
    await asyncio.to_thread(tenant.create_namespaced_service, ns, service("inside"))
    # Nor can a ClusterIP Service be turned into one afterwards.
    patch = {"spec": {"externalIPs": ["10.0.0.2"]}}
    refused = await refusal(tenant.patch_namespaced_service, "inside", ns, patch)
    assert refused.status == 403 and "externalIPs" in refused.body

    # The tenant cannot undo the binding to the restricted policy, nor bind itself another.
    rbac = client.RbacAuthorizationV1Api(tenant.api_client)
    for attempt in (
        lambda: rbac.delete_namespaced_role_binding(POD_SECURITY, ns),
        lambda: rbac.create_namespaced_role_binding(
            ns,
            {
                "metadata": {"name": "mine"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": ns}],
            },
        ),
    ):
        assert (await refusal(attempt)).status == 403

    # Pods a controller makes for the tenant get the same policy: a privileged Deployment
    # yields a ReplicaSet whose pods are refused.
    apps = client.AppsV1Api(tenant.api_client)
    template = pod("x", containers=[container(privileged=True, allowPrivilegeEscalation=None)])
    template["metadata"] = {"labels": {"app": "escape"}}
    await asyncio.to_thread(
        apps.create_namespaced_deployment,
        ns,
        {
            "metadata": {"name": "escape"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "escape"}},
                "template": template,
            },
        },
    )
    deadline = time.monotonic() + 60
    while True:
        sets = (await asyncio.to_thread(apps.list_namespaced_replica_set, ns)).items
        failed = [
            c.message
            for rs in sets
            for c in (rs.status.conditions or [])
            if c.type == "ReplicaFailure"
        ]
        if failed:
            break
        assert time.monotonic() < deadline, [rs.status for rs in sets]
        await asyncio.sleep(0.5)
    assert "PodSecurityPolicy" in failed[0] and "privileged" in failed[0], failed
    assert tenant.list_namespaced_pod(ns, label_selector="app=escape").items == []

    await forge.api.delete(f"/v1/forge/leases/{created['id']}", key=org.key)
    await wait_status(forge, org, created["id"], "terminated")
