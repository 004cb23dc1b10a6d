"""`client.forge`: GPU availability, leases and kubeconfigs."""

from __future__ import annotations

from volt._call import Call, Executor, M, Resource, body, endpoint, paginated, path_id
from volt.types.common import CursorPage, ListObject
from volt.types.forge import ForgeAvailability, Kubeconfig, Lease, LeaseStatus


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
        return Call("GET", f"/v1/forge/leases/{path_id(lease_id)}", Lease)

    @endpoint
    def terminate(self, lease_id: str) -> Call[Lease]:
        """Usage: `client.forge.leases.terminate("lease_...").status == "terminating"`."""
        return Call("DELETE", f"/v1/forge/leases/{path_id(lease_id)}", Lease)

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
