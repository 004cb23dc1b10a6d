"""What the admission webhook refuses in lease namespaces: pure policy over the object the API
server sends, no I/O. Pod security and RBAC cover the rest; these are the holes they leave.

- `Service.spec.externalIPs`: any tenant could claim any IP cluster-wide and intercept its
  traffic (CVE-2020-8554). Never allowed.
- `NodePort` and `LoadBalancer` Services: they open the lease to the outside, past its network
  policies. Refused unless the operator allows external services.
- `NVIDIA_VISIBLE_DEVICES` set by hand: with a container toolkit that honours the variable for
  unprivileged containers, a pod without a GPU request would see the node's GPUs, other
  tenants' included. The device plugin sets it itself for containers that were given GPUs.
- `spec.nodeName`: binding a pod to a node by hand skips the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

GPU_ENV = "NVIDIA_VISIBLE_DEVICES"
EXTERNAL_TYPES = ("NodePort", "LoadBalancer")


def refusal(kind: str, obj: Mapping[str, Any], *, allow_external_services: bool) -> str | None:
    """Why `obj` (a Pod or Service) may not be written, or None when it may.

    Usage: `refusal("Service", service, allow_external_services=settings.allow_external_services)`.
    """
    spec = obj.get("spec") or {}
    if kind == "Service":
        if spec.get("externalIPs"):
            return "spec.externalIPs is not allowed in a Forge lease (CVE-2020-8554)."
        if spec.get("type") in EXTERNAL_TYPES and not allow_external_services:
            return (
                f"spec.type {spec['type']} is not allowed in a Forge lease: it exposes the "
                "lease outside its network policies; use ClusterIP."
            )
    elif kind == "Pod":
        if spec.get("nodeName"):
            # A named node skips the scheduler (and its taints); the namespace's node selector
            # is what places a lease's pods.
            return "spec.nodeName may not be set in a Forge lease; pods go to the lease's nodes."
        for where, container in _containers(spec):
            for i, env in enumerate(container.get("env") or []):
                if (env or {}).get("name") == GPU_ENV:
                    return (
                        f"{where}.env[{i}]: {GPU_ENV} is set by the device plugin for the GPUs "
                        "a container requests; request nvidia.com/gpu instead."
                    )
    return None


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(spec.get(field) or []):
            yield f"spec.{field}[{i}]", container or {}
