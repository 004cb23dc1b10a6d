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
# The cluster's restricted PodSecurityPolicy (clusters before 1.25) and the per-lease Role and
# RoleBinding that let the lease's service accounts, and only them, use it.
RESTRICTED_PSP = "volt-forge-restricted"
POD_SECURITY = "forge-pod-security"
WEBHOOK_PATH = "/forge/admission"
# Pod Security Admission (1.23+): the restricted profile, enforced. GPU pods fit it: the device
# plugin hands devices over without privileges, host paths or added capabilities.
PSA_LABELS = {
    f"pod-security.kubernetes.io/{mode}{suffix}": value
    for mode in ("enforce", "audit", "warn")
    for suffix, value in (("", "restricted"), ("-version", "latest"))
}


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
    namespace["labels"].update(PSA_LABELS)
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
        # RBAC cannot look inside a Service: writes are granted only where the admission webhook
        # refuses externalIPs (CVE-2020-8554) and node ports or load balancers.
        {
            "apiGroups": [""],
            "resources": ["services"],
            "verbs": ["*"] if settings.webhook_port is not None else ["get", "list", "watch"],
        },
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
                        **{f"requests.{r}": "0" for r in settings.denied_device_resources},
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
        # PodSecurityPolicy checks the pod's creator and its service account: binding `use` to
        # every service account of the namespace gives bare pods and controller-made ones
        # (Deployments, Jobs) the restricted policy, and nothing else.
        Manifest(
            "Role",
            POD_SECURITY,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": _meta(POD_SECURITY, lease_id, ns),
                "rules": [
                    {
                        "apiGroups": ["policy"],
                        "resources": ["podsecuritypolicies"],
                        "resourceNames": [RESTRICTED_PSP],
                        "verbs": ["use"],
                    }
                ],
            },
        ),
        Manifest(
            "RoleBinding",
            POD_SECURITY,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": _meta(POD_SECURITY, lease_id, ns),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": POD_SECURITY,
                },
                "subjects": [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Group",
                        "name": f"system:serviceaccounts:{ns}",
                    }
                ],
            },
        ),
    ]


def restricted_psp() -> Manifest:
    """The restricted profile as a PodSecurityPolicy, for clusters that still have them (the
    1.20 test peer): what Pod Security Admission's `restricted` enforces, and GPU pods fit it.
    Cluster-wide and the same for every lease; the reconciler keeps it as it is here."""
    groups = {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]}
    return Manifest(
        "PodSecurityPolicy",
        RESTRICTED_PSP,
        {
            "apiVersion": "policy/v1beta1",
            "kind": "PodSecurityPolicy",
            "metadata": {
                "name": RESTRICTED_PSP,
                "labels": dict(MANAGED_BY),
                "annotations": {
                    "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "runtime/default",
                    "seccomp.security.alpha.kubernetes.io/defaultProfileName": "runtime/default",
                },
            },
            "spec": {
                "privileged": False,
                "allowPrivilegeEscalation": False,
                "defaultAllowPrivilegeEscalation": False,
                "requiredDropCapabilities": ["ALL"],
                "volumes": [
                    "configMap",
                    "emptyDir",
                    "projected",
                    "secret",
                    "downwardAPI",
                    "persistentVolumeClaim",
                ],
                "hostNetwork": False,
                "hostPID": False,
                "hostIPC": False,
                "runAsUser": {"rule": "MustRunAsNonRoot"},
                "seLinux": {"rule": "RunAsAny"},
                "supplementalGroups": groups,
                "fsGroup": groups,
            },
        },
    )


def admission_webhook(settings: ForgeSettings, ca_pem: bytes) -> Manifest:
    """The validating webhook (admin/forge/webhook.py) for this installation's lease namespaces.
    It fails closed: while Volt cannot answer, Services and pods there cannot be written."""
    name = f"volt-forge-{settings.installation}"
    url = settings.webhook_url or f"https://{settings.webhook_host}:{settings.webhook_port}"
    write = ["CREATE", "UPDATE"]
    return Manifest(
        "ValidatingWebhookConfiguration",
        name,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name, "labels": managed_labels(settings.installation)},
            "webhooks": [
                {
                    "name": "tenant-guard.forge.volt.dev",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 5,
                    "namespaceSelector": {"matchLabels": managed_labels(settings.installation)},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": write,
                            "resources": ["services"],
                            "scope": "Namespaced",
                        },
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pods"],
                            "scope": "Namespaced",
                        },
                    ],
                    "clientConfig": {
                        "url": url.rstrip("/") + WEBHOOK_PATH,
                        "caBundle": base64.b64encode(ca_pem).decode(),
                    },
                }
            ],
        },
    )


def cluster_manifests(settings: ForgeSettings, webhook_ca: bytes | None) -> list[Manifest]:
    """Cluster-wide objects every lease relies on; the webhook only when Volt serves one."""
    out = [restricted_psp()]
    if settings.webhook_port is not None and webhook_ca is not None:
        out.append(admission_webhook(settings, webhook_ca))
    return out


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
