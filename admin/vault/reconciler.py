"""The Vault reconciler, level-triggered and idempotent like Ironic's conductor: each pass
observes the BMCs, acts with idempotent Redfish calls and records the transition with the row
version, so a crash at any point resumes cleanly.

requested -> allocating: picked up.
allocating -> provisioning: the rack's Talos secrets bundle is generated once and sealed.
provisioning -> ready: every node's boot device is set (PXE, into the installer) and it is
    powered on, verified by reading the BMC back (a power change lands seconds later).
provisioning/releasing -> failed: a BMC refused or is down; `last_error` and the node's own
    error say which, and the rack's target records the step. Retried with backoff: the rack
    resumes at its target.
releasing -> released: the tenant's BMC accounts are deleted, then every other account on
    the BMCs but the operator's is swept, and the nodes are powered off (verified); only then
    is the physical rack free for the next tenant.
Minted BMC accounts are deleted when they expire, on every node, and the deletion is audited.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import yaml

from admin.vault import store
from admin.vault.bmcs import distinct_bmcs, on_bmcs
from admin.vault.config import VaultSettings
from admin.vault.inventory import Inventory
from admin.vault.inventory import sync as sync_inventory
from admin.vault.power import PowerRequests
from admin.vault.redfish import Bmc, BmcError, NodeObservation
from admin.vault.sealing import Sealer
from admin.vault.states import RackEvent, RackState, retry_delay
from admin.vault.store import PhysicalNode, Rack
from admin.vault.talos import generate_bundle
from voltcore import versioned
from voltcore.audit import AuditEntry
from voltcore.loop import Loop, each

log = logging.getLogger(__name__)

Audit = Callable[[AuditEntry], None]


class NodeFailed(Exception):
    def __init__(self, nodes: list[dict[str, Any]], error: BmcError) -> None:
        self.nodes, self.error = nodes, error


def node_view(
    node: PhysicalNode,
    status: str,
    seen: NodeObservation | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name,
        "role": node.role,
        "status": status,
        "power_state": seen.power_state if seen else None,
        "boot_device": seen.boot_target if seen else None,
        "redfish_url": node.redfish_url,
        "last_error": error,
    }


class Reconciler:
    """Usage: `await Reconciler(pool, sealer, settings, audit_writer.add).run()` as a task;
    `reconcile_once()` for one pass."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        sealer: Sealer,
        settings: VaultSettings,
        audit: Audit,
        service: str = "volt-admin",
    ) -> None:
        self.pool = pool
        self.sealer = sealer
        self.settings = settings
        self.audit = audit
        self.service = service
        self._loop = Loop("vault", self.reconcile_once, settings.reconcile_interval_s)
        self._inventory_seen: tuple[int, int] | None = None
        self._power = PowerRequests(settings.power_wait_s)

    def wake(self) -> None:
        self._loop.wake()

    async def run(self) -> None:
        await self._loop.run()

    async def load_inventory(self) -> None:
        """The operator's file into Postgres, again whenever it changes: a corrected BMC
        password or a new rack takes effect without a restart."""
        if self.settings.inventory is None:
            return
        stat = self.settings.inventory.stat()
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == self._inventory_seen:
            return
        loaded = Inventory.load(self.settings.inventory)
        async with self.pool.acquire() as conn:
            await sync_inventory(conn, loaded, self.sealer)
        self._inventory_seen = seen
        log.info("vault inventory loaded", extra={"racks": len(loaded.racks)})

    async def reconcile_once(self) -> None:
        try:
            await self.load_inventory()
        except (OSError, ValueError, yaml.YAMLError) as err:  # broken file: keep the last one
            log.error("vault inventory not reloaded", extra={"error": str(err)[:300]})
        await each("vault", await store.RACKS.open(self.pool), self.reconcile)
        await self._delete_accounts()

    async def reconcile(self, rack: Rack) -> None:
        if rack.status is RackState.REQUESTED:
            rack = await store.RACKS.apply(self.pool, rack, RackEvent.START)
        if rack.status is RackState.ALLOCATING:
            rack = await self._allocate(rack)
        if rack.status is RackState.FAILED:
            delay = retry_delay(
                rack.attempts, self.settings.retry_base_s, self.settings.retry_max_s
            )
            if dt.datetime.now(dt.UTC) - rack.updated_at < dt.timedelta(seconds=delay):
                return
            rack = await store.RACKS.apply(self.pool, rack, RackEvent.RETRY)
        state = rack.status
        try:
            if state is RackState.PROVISIONING:
                await self._provision(rack)
            elif state is RackState.RELEASING:
                await self._release(rack)
        except NodeFailed as failed:
            error = versioned.last_error(failed.error.code, failed.error.message)
            await store.RACKS.apply(
                self.pool,
                rack,
                RackEvent.FAIL,
                target=state,  # what a retry resumes
                nodes=failed.nodes,
                last_error=error,
                attempts=rack.attempts + 1,
            )
            log.warning("vault rack failed", extra={"rack_id": rack.id, "error": failed.error.code})

    async def _allocate(self, rack: Rack) -> Rack:
        # One bundle per reservation: a new tenant of the same hardware gets a new cluster.
        bundle = await asyncio.to_thread(generate_bundle)
        nodes = await store.inventory_nodes(self.pool, rack.inventory_rack)
        return await store.RACKS.apply(
            self.pool,
            rack,
            RackEvent.ALLOCATED,
            secrets_sealed=self.sealer.seal_json(bundle.to_dict()),
            nodes=[node_view(n, "pending") for n in nodes],
        )

    async def _each_node(
        self,
        rack: Rack,
        act: Callable[..., NodeObservation],
        power: str,
        done: Callable[[NodeObservation], bool],
        busy: str,
        finished: str,
    ) -> tuple[bool, list[dict[str, Any]]]:
        """Run `act(bmc, system_id, ask=...)`, which drives a node to `power`, on every node's
        BMC (in threads, nodes in parallel); True when every node reads back `done`. Raises
        NodeFailed with every node's view if any BMC failed."""
        nodes = await store.inventory_nodes(self.pool, rack.inventory_rack)

        def one(bmc: Bmc, node: PhysicalNode) -> NodeObservation:
            return self._power.drive(
                node.system_id, power, lambda ask: act(bmc, node.system_id, ask=ask)
            )

        results = await on_bmcs(self.sealer, nodes, one)
        views, first_error = [], None
        for node, result in zip(nodes, results, strict=True):
            if isinstance(result, BmcError):
                first_error = first_error or result
                views.append(
                    node_view(
                        node, "failed", error=versioned.last_error(result.code, result.message)
                    )
                )
            elif isinstance(result, BaseException):
                raise result
            else:
                views.append(node_view(node, finished if done(result) else busy, result))
        if first_error is not None:
            raise NodeFailed(views, first_error)
        return all(v["status"] == finished for v in views), views

    async def _provision(self, rack: Rack) -> None:
        ready, views = await self._each_node(
            rack,
            Bmc.ensure_provisioning_boot,
            "On",
            lambda seen: seen.booted_for_provisioning,
            "provisioning",
            "ready",
        )
        if not ready:
            if views != rack.nodes or rack.last_error is not None:
                await store.RACKS.record(self.pool, rack, nodes=views, last_error=None)
            return
        await store.RACKS.apply(
            self.pool,
            rack,
            RackEvent.READY,
            nodes=views,
            last_error=None,
            attempts=0,
            ready_at=dt.datetime.now(dt.UTC),
        )

    async def _release(self, rack: Rack) -> None:
        await self._delete_accounts(rack.id)
        if await store.live_accounts(self.pool, rack.id):
            return  # a BMC kept an account: try again next pass
        if not await self._sweep_accounts(rack):
            return  # not released (nor offered to anyone) until every BMC is clean
        off, views = await self._each_node(
            rack,
            Bmc.power_off,
            "Off",
            lambda seen: seen.power_state == "Off",
            "releasing",
            "released",
        )
        if not off:
            if views != rack.nodes:
                await store.RACKS.record(self.pool, rack, nodes=views, last_error=None)
            return
        await store.RACKS.apply(
            self.pool,
            rack,
            RackEvent.RELEASED,
            nodes=views,
            last_error=None,
            attempts=0,
            secrets_sealed=None,  # the cluster identity dies with the reservation
            released_at=dt.datetime.now(dt.UTC),
        )

    async def _sweep_accounts(self, rack: Rack) -> bool:
        """Delete every account on the rack's BMCs but the operator's (and another rack's
        live ones on a shared BMC); True once none is left. Called after the tenant's recorded
        accounts are gone and while no mint can start (the rack is releasing), so whatever is
        left was made outside Volt's records: by the tenant, or by a mint that died midway."""
        nodes = distinct_bmcs(await store.inventory_nodes(self.pool, rack.inventory_rack))
        keep = {
            n.redfish_url: await store.kept_usernames(self.pool, rack.id, n.redfish_url)
            for n in nodes
        }

        def sweep(bmc: Bmc, node: PhysicalNode) -> list[str]:
            return bmc.sweep_accounts(keep[node.redfish_url])

        clean = True
        for node, result in zip(nodes, await on_bmcs(self.sealer, nodes, sweep), strict=True):
            if isinstance(result, BmcError):
                log.warning("bmc not swept yet", extra={"rack_id": rack.id, "error": result.code})
                clean = False
            elif isinstance(result, BaseException):
                raise result
            else:
                for username in result:
                    log.warning(
                        "swept an unrecorded bmc account",
                        extra={"rack_id": rack.id, "node_id": node.id, "username": username},
                    )
                    self._audit_deletion(rack.org_id, rack.id)
        return clean

    def _audit_deletion(self, org_id: str, request_id: str) -> None:
        self.audit(
            AuditEntry(
                time=dt.datetime.now(dt.UTC),
                org_id=org_id,
                principal="system:vault-reconciler",
                spiffe_id=None,
                method="DELETE",
                route="/redfish/v1/AccountService/Accounts/{username}",
                status=204,
                request_id=request_id,
                service=self.service,
            )
        )

    async def _delete_accounts(self, rack_id: str | None = None) -> None:
        """Delete expired accounts (and a releasing rack's) from every node of their rack."""
        for account, physical in await store.accounts_to_delete(self.pool):
            if rack_id is not None and account.rack_id != rack_id:
                continue
            nodes = await store.inventory_nodes(self.pool, physical)

            def delete(bmc: Bmc, _: PhysicalNode, user: str = account.username) -> int:
                return bmc.delete_accounts(user)

            results = await on_bmcs(self.sealer, distinct_bmcs(nodes), delete)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                if not isinstance(errors[0], BmcError):
                    raise errors[0]
                log.warning(
                    "bmc account not deleted yet",
                    extra={"account_id": account.id, "error": errors[0].code},
                )
                continue
            await store.mark_deleted(self.pool, account.id)
            self._audit_deletion(account.org_id, account.id)
