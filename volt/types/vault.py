"""Vault: dedicated racks, BMC credentials, attestation."""

from __future__ import annotations

from typing import Any, Literal

from volt.types.common import Condition, LastError, VoltModel

RackStatus = Literal[
    "requested", "allocating", "provisioning", "ready", "releasing", "released", "failed"
]
TalosRole = Literal["controlplane", "worker", "talosconfig"]


class RackNode(VoltModel):
    id: str
    name: str | None = None
    role: Literal["controlplane", "worker"] | None = None
    status: str
    power_state: str | None = None
    boot_device: str | None = None
    redfish_url: str | None = None
    last_error: LastError | None = None


class Rack(VoltModel):
    """A dedicated, single-tenant rack."""

    id: str
    object: Literal["vault.rack"]
    org_id: str | None = None
    status: RackStatus
    metro: str
    rack_type: str
    country: str | None = None
    # The country the request required, if any.
    sovereignty: str | None = None
    endpoint: str | None = None
    nodes: list[RackNode]
    created_at: int
    ready_at: int | None = None
    released_at: int | None = None
    last_error: LastError | None
    conditions: list[Condition] | None = None


class RedfishNode(VoltModel):
    node_id: str
    redfish_url: str
    # The node's Redfish ComputerSystem id.
    system_id: str | None = None


class RedfishCredentials(VoltModel):
    """A time-limited BMC account on every node of a rack; the password is shown only once."""

    object: Literal["vault.redfish_credentials"] | None = None
    # The account set (`bmcacct_...`).
    id: str
    rack_id: str
    username: str
    password: str
    role: str | None = None
    expires_at: int
    nodes: list[RedfishNode]


class AttestationCheck(VoltModel):
    ok: bool
    reason: str | None = None


class Quote(VoltModel):
    message: str | None = None
    signature: str | None = None


class NodeAttestation(VoltModel):
    node_id: str
    name: str | None = None
    # True when this report enrolled the node's attestation key (first contact, now pinned).
    attestation_key_enrolled: bool | None = None
    verdict: Literal["pass", "fail"]
    quote: Quote | None = None
    pcrs: dict[str, Any] | None = None
    event_log: Any = None
    checks: dict[str, AttestationCheck]
    error: str | None = None


class AttestationReport(VoltModel):
    """A rack's measured-boot verdict: `pass` only when every node passes every check."""

    object: Literal["vault.attestation"] | None = None
    rack_id: str
    nonce: str
    time: int | None = None
    verdict: Literal["pass", "fail"]
    nodes: list[NodeAttestation]
