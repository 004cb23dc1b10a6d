"""The Forge reconciler: level-triggered and idempotent. Each pass observes Kubernetes, plans
(pure), acts with idempotent writes and records the transition with the row version, so that a
crash at any point resumes cleanly: the next pass simply finds what is there and carries on.

pending -> provisioning: picked up.
provisioning -> active: node labels, namespace and its objects exist, and the quota is enforced.
    While the API server is unreachable the lease stays provisioning with `last_error`.
active -> terminating: deleted by the tenant, or the duration ran out; either records where
    the lease ends (its target: terminated or expired).
terminating -> its target: the namespace is gone (its tokens die with its service
    account) and the node labels are removed; the GPUs are free again.
Namespaces Forge made for leases that no longer hold GPUs are deleted (no orphans).
Cluster-wide objects every lease relies on (the restricted PodSecurityPolicy, the admission
webhook) are ensured before any lease's namespace, and again at each resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any

import asyncpg
from kubernetes.client.exceptions import ApiException

from admin.forge import store
from admin.forge.config import ForgeSettings
from admin.forge.kube import KUBE_ERRORS, Kube
from admin.forge.plan import cluster_manifests, lease_manifests, node_label
from admin.forge.states import LeaseEvent, LeaseState
from admin.forge.store import Lease
from voltcore import versioned
from voltcore.loop import Loop, each

log = logging.getLogger(__name__)


def _error_code(err: BaseException) -> str:
    if isinstance(err, ApiException):
        return f"kubernetes_{err.status or 'error'}"
    return "apiserver_unreachable"


def _condition(kind: str, ok: bool, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message or None,
        "last_transition_time": int(time.time()),
    }


class Reconciler:
    """Usage: `await Reconciler(pool, kube, settings).run()` as a task; `reconcile_once()` for
    one pass (tests drive it step by step). `webhook_ca` is the CA of the admission webhook
    Volt serves (None: no webhook)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        kube: Kube,
        settings: ForgeSettings,
        webhook_ca: bytes | None = None,
    ) -> None:
        self.pool = pool
        self.kube = kube
        self.settings = settings
        self.webhook_ca = webhook_ca
        self._cluster_synced: float | None = None
        self._synced: dict[str, float] = {}
        self._loop = Loop("forge", self.reconcile_once, settings.reconcile_interval_s)

    def wake(self) -> None:
        self._loop.wake()

    async def run(self) -> None:
        await self._loop.run()

    async def reconcile_once(self) -> None:
        await each("forge", await store.LEASES.open(self.pool), self.reconcile)
        await self._collect_orphans()

    async def _k8s(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def reconcile(self, lease: Lease) -> None:
        if lease.status is LeaseState.PENDING:
            lease = await store.LEASES.apply(self.pool, lease, LeaseEvent.START)
        try:
            if lease.status is LeaseState.PROVISIONING:
                await self._provision(lease)
            elif lease.status is LeaseState.ACTIVE:
                await self._keep(lease)
            elif lease.status is LeaseState.TERMINATING:
                await self._clean(lease)
        except KUBE_ERRORS as err:
            message = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
            await store.LEASES.record(
                self.pool, lease, last_error=versioned.last_error(_error_code(err), message)
            )
            log.warning(
                "forge lease not converged",
                extra={"lease_id": lease.id, "error": _error_code(err)},
            )

    async def _ensure(self, lease: Lease) -> bool:
        """Make Kubernetes hold everything the lease needs; True once the quota is enforced."""
        await self._ensure_cluster()
        label = node_label(lease.id)
        for node in lease.placement:
            await self._k8s(self.kube.label_node, node, label, "true")
        for manifest in lease_manifests(lease.id, lease.org_id, lease.gpu_count, self.settings):
            await self._k8s(self.kube.apply, manifest)
        return bool(await self._k8s(self.kube.quota_enforced, lease.namespace))

    async def _ensure_cluster(self) -> None:
        # Before any namespace: a lease's Role grants Service writes only on the promise that
        # the webhook guards them, and its pods need the restricted policy to be admitted.
        last = self._cluster_synced
        if last is not None and time.monotonic() - last < self.settings.resync_s:
            return
        for manifest in cluster_manifests(self.settings, self.webhook_ca):
            await self._k8s(self.kube.apply, manifest)
        self._cluster_synced = time.monotonic()

    async def _simulated(self, lease: Lease) -> list[dict[str, Any]]:
        """A `Simulated` condition when any of the lease's nodes is simulated: a lab's lease
        must never pose as one on hardware."""
        selector = f"{self.settings.simulated_label}=true"
        simulated = set(await self._k8s(self.kube.nodes_labelled, selector))
        if not simulated & lease.placement.keys():
            return []
        message = "Placed on simulated nodes (a local lab): no GPUs are attached."
        return [_condition("Simulated", True, "SimulatedNodes", message)]

    async def _provision(self, lease: Lease) -> None:
        simulated = await self._simulated(lease)
        if not await self._ensure(lease):
            await store.LEASES.record(
                self.pool,
                lease,
                last_error=None,
                conditions=[
                    _condition("NamespaceReady", True, "Created"),
                    _condition("QuotaEnforced", False, "WaitingForQuotaController"),
                    *simulated,
                ],
            )
            return
        now = dt.datetime.now(dt.UTC)
        await store.LEASES.apply(
            self.pool,
            lease,
            LeaseEvent.READY,
            active_at=now,
            last_error=None,
            expires_at=now + dt.timedelta(seconds=lease.duration_s),
            conditions=[
                _condition("NamespaceReady", True, "Created"),
                _condition("QuotaEnforced", True, "QuotaComputed"),
                *simulated,
            ],
        )
        self._synced[lease.id] = time.monotonic()

    async def _keep(self, lease: Lease) -> None:
        # An active lease has expires_at: it is set by the transition to active.
        if lease.expires_at is None or lease.expires_at <= dt.datetime.now(dt.UTC):
            await store.LEASES.apply(self.pool, lease, LeaseEvent.EXPIRE, target=LeaseState.EXPIRED)
            return
        # Drift repair for active leases, at a gentler pace than provisioning.
        if time.monotonic() - self._synced.get(lease.id, 0.0) >= self.settings.resync_s:
            await self._ensure(lease)
            self._synced[lease.id] = time.monotonic()
            if lease.last_error is not None:
                await store.LEASES.record(self.pool, lease, last_error=None)

    async def _clean(self, lease: Lease) -> None:
        await self._k8s(self.kube.delete_namespace, lease.namespace)
        label = node_label(lease.id)
        for node in await self._k8s(self.kube.nodes_labelled, label):
            await self._k8s(self.kube.label_node, node, label, None)
        if await self._k8s(self.kube.namespace_phase, lease.namespace) is not None:
            return  # the namespace controller is still deleting its contents
        self._synced.pop(lease.id, None)
        await store.LEASES.apply(
            self.pool, lease, LeaseEvent.CLEANED, ended_at=dt.datetime.now(dt.UTC), last_error=None
        )

    async def _collect_orphans(self) -> None:
        try:
            managed = await self._k8s(self.kube.managed_namespaces, self.settings.installation)
        except KUBE_ERRORS:
            return  # the per-lease errors already say the API server is away
        if not managed:
            return
        holding = {lease.id for lease in await store.LEASES.open(self.pool)}
        for namespace, lease_id in managed.items():
            if lease_id not in holding:
                log.info("deleting orphaned lease namespace", extra={"namespace": namespace})
                with contextlib.suppress(*KUBE_ERRORS):
                    await self._k8s(self.kube.delete_namespace, namespace)
