"""`client.forge`: GPU availability, leases and kubeconfigs."""

from __future__ import annotations

from collections.abc import Callable

from volt._call import Call, body, path_id
from volt._constants import DEFAULT_POLL_INTERVAL_S, DEFAULT_WAIT_TIMEOUT_S
from volt._resource import Executor, M, Resource, endpoint, paginated, waiter
from volt._waiting import Lifecycle, Wait
from volt.types.common import CursorPage, ListObject
from volt.types.forge import ENDED_LEASE_STATUSES, ForgeAvailability, Kubeconfig, Lease, LeaseStatus

LEASE_LIFECYCLE = Lifecycle(
    "lease",
    order={"pending": 0, "provisioning": 1, "active": 2, "terminating": 3},
    final=ENDED_LEASE_STATUSES,
)


def _lease(lease_id: str) -> Call[Lease]:
    return Call("GET", f"/v1/forge/leases/{path_id(lease_id)}", Lease)


class Leases(Resource[M]):
    @endpoint
    def create(
        self,
        *,
        gpu_type: str,
        gpu_count: int,
        metro: str,
        duration_seconds: int,
        idempotency_key: str | None = None,
    ) -> Call[Lease]:
        """Lease GPUs; returns at once with the lease in `pending`.

        Usage: `client.forge.leases.create(gpu_type="h100-80gb", gpu_count=8, metro="fra1",
        duration_seconds=3600)`.
        """
        return Call(
            "POST",
            "/v1/forge/leases",
            Lease,
            json={
                "gpu_type": gpu_type,
                "gpu_count": gpu_count,
                "metro": metro,
                "duration_seconds": duration_seconds,
            },
            idempotency_key=idempotency_key,
        )

    @paginated
    def list(
        self,
        *,
        status: LeaseStatus | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Call[CursorPage[Lease]]:
        """Newest first. Usage: `for lease in client.forge.leases.list(status="active"): ...`."""
        params = body(status=status, limit=limit, after=after)
        return Call("GET", "/v1/forge/leases", CursorPage[Lease], params=params)

    @endpoint
    def retrieve(self, lease_id: str) -> Call[Lease]:
        """Usage: `client.forge.leases.retrieve("lease_...")`."""
        return _lease(lease_id)

    @endpoint
    def terminate(self, lease_id: str) -> Call[Lease]:
        """Usage: `client.forge.leases.terminate("lease_...").status == "terminating"`."""
        return Call("DELETE", f"/v1/forge/leases/{path_id(lease_id)}", Lease)

    @waiter
    def wait(
        self,
        lease_id: str,
        *,
        until: LeaseStatus = "active",
        timeout: float = DEFAULT_WAIT_TIMEOUT_S,
        poll_interval: float = DEFAULT_POLL_INTERVAL_S,
        on_update: Callable[[Lease], object] | None = None,
    ) -> Wait[Lease]:
        """Poll the lease until it is `until`; `on_update` sees every snapshot. Raises
        `UnexpectedStatusError` once it cannot get there (`terminated` while waiting for
        `active`), `WaitTimeoutError` after `timeout` seconds.

        Usage: `client.forge.leases.wait(lease.id, until="active", timeout=600).namespace`.
        """
        return Wait(
            _lease(lease_id),
            LEASE_LIFECYCLE,
            frozenset({until}),
            timeout,
            poll_interval,
            on_update,
        )

    @endpoint
    def kubeconfig(self, lease_id: str) -> Call[Kubeconfig]:
        """Mint a kubeconfig for an active lease's namespace.

        Usage: `Path("kubeconfig").write_text(client.forge.leases.kubeconfig(id).kubeconfig)`.
        """
        return Call("POST", f"/v1/forge/leases/{path_id(lease_id)}/kubeconfig", Kubeconfig)


class Forge(Resource[M]):
    def __init__(self, client: Executor[M]) -> None:
        super().__init__(client)
        self.leases: Leases[M] = Leases(client)

    @endpoint
    def availability(
        self, *, metro: str | None = None, gpu_type: str | None = None, count: int | None = None
    ) -> Call[ListObject[ForgeAvailability]]:
        """What can be leased now, per metro and GPU type, with prices.

        Usage: `client.forge.availability(metro="fra1").data`.
        """
        params = body(metro=metro, gpu_type=gpu_type, count=count)
        return Call("GET", "/v1/forge/availability", ListObject[ForgeAvailability], params=params)
