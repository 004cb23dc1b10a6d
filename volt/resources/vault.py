"""`client.vault.racks`: dedicated racks, BMC credentials, Talos configs, attestation."""

from __future__ import annotations

from collections.abc import Callable

from volt._call import Call, body, path_id
from volt._constants import DEFAULT_POLL_INTERVAL_S, DEFAULT_WAIT_TIMEOUT_S
from volt._resource import Executor, M, Resource, endpoint, paginated, waiter
from volt._waiting import Lifecycle, Wait
from volt.types.common import CursorPage
from volt.types.vault import AttestationReport, Rack, RackStatus, RedfishCredentials, TalosRole

# `failed` is in neither: the reconciler retries a failed rack, so a wait goes on through it.
RACK_LIFECYCLE = Lifecycle(
    "rack",
    order={"requested": 0, "allocating": 1, "provisioning": 2, "ready": 3, "releasing": 4},
    final=frozenset({"released"}),
)


def _rack(rack_id: str, rest: str = "") -> str:
    return f"/v1/vault/racks/{path_id(rack_id)}{rest}"


class Racks(Resource[M]):
    @endpoint
    def create(
        self,
        *,
        metro: str,
        rack_type: str,
        sovereignty: str | None = None,
        idempotency_key: str | None = None,
    ) -> Call[Rack]:
        """Reserve a whole rack; returns at once in `requested`.

        Usage: `client.vault.racks.create(metro="fra1", rack_type="gpu-8x-h100")`.
        """
        json = body(metro=metro, rack_type=rack_type, sovereignty=sovereignty)
        return Call("POST", "/v1/vault/racks", Rack, json=json, idempotency_key=idempotency_key)

    @paginated
    def list(
        self,
        *,
        status: RackStatus | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Call[CursorPage[Rack]]:
        """Newest first. Usage: `for rack in client.vault.racks.list(): ...`."""
        params = body(status=status, limit=limit, after=after)
        return Call("GET", "/v1/vault/racks", CursorPage[Rack], params=params)

    @endpoint
    def retrieve(self, rack_id: str) -> Call[Rack]:
        """Usage: `client.vault.racks.retrieve("rack_...").nodes`."""
        return Call("GET", _rack(rack_id), Rack)

    @waiter
    def wait(
        self,
        rack_id: str,
        *,
        until: RackStatus = "ready",
        timeout: float = DEFAULT_WAIT_TIMEOUT_S,
        poll_interval: float = DEFAULT_POLL_INTERVAL_S,
        on_update: Callable[[Rack], object] | None = None,
    ) -> Wait[Rack]:
        """Poll the rack until it is `until`, through `failed` (the reconciler retries it);
        `on_update` sees every snapshot. Raises `UnexpectedStatusError` once it cannot get
        there (`released`), `WaitTimeoutError` after `timeout` seconds, naming the last status
        and `last_error`.

        Usage: `client.vault.racks.wait(rack.id, until="ready", timeout=1800).endpoint`.
        """
        return Wait(
            Call("GET", _rack(rack_id), Rack),
            RACK_LIFECYCLE,
            frozenset({until}),
            timeout,
            poll_interval,
            on_update,
        )

    @endpoint
    def release(self, rack_id: str) -> Call[Rack]:
        """Usage: `client.vault.racks.release("rack_...").status == "releasing"`."""
        return Call("DELETE", _rack(rack_id), Rack)

    @endpoint
    def redfish_credentials(
        self, rack_id: str, *, ttl_seconds: int | None = None
    ) -> Call[RedfishCredentials]:
        """Mint a time-limited BMC account on every node; the password is shown only here.

        Usage: `client.vault.racks.redfish_credentials("rack_...", ttl_seconds=600)`.
        """
        return Call(
            "POST",
            _rack(rack_id, "/redfish-credentials"),
            RedfishCredentials,
            json=body(ttl_seconds=ttl_seconds),
        )

    @endpoint
    def talos_config(self, rack_id: str, *, role: TalosRole | None = None) -> Call[str]:
        """A Talos machine config (or `talosconfig`) as YAML.

        Usage: `client.vault.racks.talos_config("rack_...", role="worker")`.
        """
        return Call("GET", _rack(rack_id, "/talos-config"), str, params=body(role=role))

    @endpoint
    def attestation(self, rack_id: str, *, nonce: str | None = None) -> Call[AttestationReport]:
        """Fresh TPM quotes from every node, verified.

        Usage: `client.vault.racks.attestation("rack_...").verdict == "pass"`.
        """
        params = body(nonce=nonce)
        return Call("GET", _rack(rack_id, "/attestation"), AttestationReport, params=params)


class Vault(Resource[M]):
    def __init__(self, client: Executor[M]) -> None:
        super().__init__(client)
        self.racks: Racks[M] = Racks(client)
