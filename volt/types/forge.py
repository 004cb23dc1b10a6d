"""Forge: GPU availability, leases and minted kubeconfigs."""

from __future__ import annotations

from typing import Literal

from volt.types.common import Condition, LastError, VoltModel

LeaseStatus = Literal[
    "pending", "provisioning", "active", "terminating", "terminated", "failed", "expired"
]
# States a lease never leaves.
ENDED_LEASE_STATUSES: frozenset[str] = frozenset({"terminated", "failed", "expired"})


class ForgeAvailability(VoltModel):
    """What can be leased now in one metro for one GPU type, and at what price."""

    object: Literal["forge.availability"] | None = None
    metro: str
    gpu_type: str
    total_gpus: int | None = None
    available_gpus: int
    largest_lease_gpus: int
    price_per_gpu_hour: float
    currency: str = "usd"


class LeaseNode(VoltModel):
    name: str
    gpus: int


class Lease(VoltModel):
    """A GPU lease in its own Kubernetes namespace."""

    id: str
    object: Literal["forge.lease"]
    org_id: str | None = None
    status: LeaseStatus
    gpu_type: str
    gpu_count: int
    metro: str
    duration_seconds: int | None = None
    namespace: str | None = None
    nodes: list[LeaseNode] | None = None
    price_per_gpu_hour: float | None = None
    currency: str | None = None
    created_at: int
    started_at: int | None = None
    expires_at: int | None = None
    terminated_at: int | None = None
    last_error: LastError | None
    conditions: list[Condition] | None = None


class Kubeconfig(VoltModel):
    """A minted, namespace-scoped kubeconfig; not stored by Volt."""

    object: Literal["forge.kubeconfig"] | None = None
    lease_id: str
    namespace: str
    expires_at: int
    kubeconfig: str
