"""What Kubernetes should hold for a lease: pure manifests, no I/O. The reconciler compares and
applies them; names are deterministic so that a retry after a crash can never duplicate."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from admin.forge.config import ForgeSettings

MANAGED_BY = {"app.kubernetes.io/managed-by": "volt-forge"}
LEASE_LABEL = "forge.volt.dev/lease"
INSTALLATION_LABEL = "forge.volt.dev/installation"
TENANT = "tenant"  # the service account, role and role binding of every lease namespace


def namespace_for(lease_id: str) -> str:
    # Lease ids are lowercase base36 after the prefix, so this is a valid DNS-1123 label.
    return lease_id.replace("_", "-")


def node_label(lease_id: str) -> str:
    """The label on a placed node; the namespace's node selector requires it, so the lease's
    pods can only land on the GPUs it was given."""
    return f"lease.forge.volt.dev/{lease_id}"


@dataclass(frozen=True)
class Manifest:
    kind: str
    name: str
    body: dict[str, Any]


def managed_labels(installation: str) -> dict[str, str]:
    return {**MANAGED_BY, INSTALLATION_LABEL: installation}


def _meta(name: str, lease_id: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, LEASE_LABEL: lease_id}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def lease_manifests(
    lease_id: str, org_id: str, gpus: int, settings: ForgeSettings
) -> list[Manifest]:
    """Namespace first: everything else lives in it."""
    ns = namespace_for(lease_id)
    namespace = _meta(ns, lease_id)
    namespace["labels"].update(managed_labels(settings.installation))
    namespace["labels"]["forge.volt.dev/org"] = org_id
    namespace["annotations"] = {
        "scheduler.alpha.kubernetes.io/node-selector": f"{node_label(lease_id)}=true"
    }
    cpu, memory = str(gpus * settings.cpu_per_gpu), f"{gpus * settings.memory_gib_per_gpu}Gi"
    gpu = settings.gpu_resource
    both = ["Ingress", "Egress"]
    rules = [
        {
            "apiGroups": [""],
            "resources": [
                "pods",
                "pods/log",
                "pods/exec",
                "pods/portforward",
                "services",
                "configmaps",
                "secrets",
                "persistentvolumeclaims",
                "events",
            ],
            "verbs": ["*"],
        },
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "statefulsets", "replicasets"],
            "verbs": ["*"],
        },
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["*"]},
        # Read-only view of its own limits, never the right to change them.
        {
            "apiGroups": [""],
            "resources": ["resourcequotas", "limitranges"],
            "verbs": ["get", "list", "watch"],
        },
    ]
    return [
        Manifest("Namespace", ns, {"apiVersion": "v1", "kind": "Namespace", "metadata": namespace}),
        Manifest(
            "ResourceQuota",
            "forge-quota",
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": _meta("forge-quota", lease_id, ns),
                "spec": {
                    "hard": {
                        f"requests.{gpu}": str(gpus),
                        "requests.cpu": cpu,
                        "limits.cpu": cpu,
                        "requests.memory": memory,
                        "limits.memory": memory,
                    }
                },
            },
        ),
        # Defaults, so that pods without resource requests still fit the quota.
        Manifest(
            "LimitRange",
            "forge-limits",
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": _meta("forge-limits", lease_id, ns),
                "spec": {
                    "limits": [
                        {
                            "type": "Container",
                            "default": {"cpu": "1", "memory": "2Gi"},
                            "defaultRequest": {"cpu": "500m", "memory": "1Gi"},
                        }
                    ]
                },
            },
        ),
        Manifest(
            "NetworkPolicy",
            "default-deny",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": _meta("default-deny", lease_id, ns),
                "spec": {"podSelector": {}, "policyTypes": both},
            },
        ),
        # The lease's own pods may talk to each other (multi-node training), nothing else.
        Manifest(
            "NetworkPolicy",
            "allow-same-namespace",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": _meta("allow-same-namespace", lease_id, ns),
                "spec": {
                    "podSelector": {},
                    "policyTypes": both,
                    "ingress": [{"from": [{"podSelector": {}}]}],
                    "egress": [{"to": [{"podSelector": {}}]}],
                },
            },
        ),
        Manifest(
            "ServiceAccount",
            TENANT,
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(TENANT, lease_id, ns)},
        ),
        Manifest(
            "Role",
            TENANT,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": _meta(TENANT, lease_id, ns),
                "rules": rules,
            },
        ),
        Manifest(
            "RoleBinding",
            TENANT,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": _meta(TENANT, lease_id, ns),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": TENANT,
                },
                "subjects": [{"kind": "ServiceAccount", "name": TENANT, "namespace": ns}],
            },
        ),
    ]


def kubeconfig(
    server: str, ca_pem: bytes, namespace: str, token: str, lease_id: str
) -> dict[str, Any]:
    """A kubeconfig with the CA embedded and the lease namespace as its only context."""
    name = f"volt-{lease_id}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
        ],
        "current-context": name,
    }
