"""The operator's bare-metal inventory: a YAML file of racks, their nodes, each node's BMC
(Redfish endpoint and admin credentials) and attestation agent. Loaded into Postgres at start,
with BMC passwords sealed; racks dropped from the file stop being offered but are kept while a
tenant may hold them.

    racks:
      - name: fra1-r01
        metro: fra1
        rack_type: gpu-8x-h100
        country: DE
        endpoint: https://10.10.0.10:6443
        reference_values: {0: [<sha256 hex>, ...], 4: [...]}
        nodes:
          - name: cp1
            role: controlplane
            address: 10.10.0.11
            redfish: {url: https://10.10.1.11, system_id: <id>, username: root, password: ...}
            agent_url: http://10.10.0.11:9100
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from admin.vault.sealing import Sealer
from voltcore.db import Conn

_SHA256 = r"^[0-9a-f]{64}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedfishEndpoint(_Model):
    url: str = Field(pattern=r"^https?://")
    system_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: SecretStr


class InventoryNode(_Model):
    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    role: Literal["controlplane", "worker"]
    address: str = Field(min_length=1)
    redfish: RedfishEndpoint
    agent_url: str | None = Field(None, pattern=r"^https?://")
    # Pinned by the operator (from the TPM's enrolment at rack build); else enrolled on first use.
    ak_public_pem: str | None = None


class InventoryRack(_Model):
    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    metro: str = Field(min_length=1)
    rack_type: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    endpoint: str = Field(pattern=r"^https://")
    reference_values: dict[int, list[str]] = Field(default_factory=dict)
    nodes: list[InventoryNode] = Field(min_length=1)


class Inventory(_Model):
    racks: list[InventoryRack] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Inventory:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})


def node_id(rack: str, node: str) -> str:
    """Stable across reloads, so a reservation's node list keeps pointing at the same machine."""
    return "node_" + hashlib.sha256(f"{rack}/{node}".encode()).hexdigest()[:20]


async def sync(conn: Conn, inventory: Inventory, sealer: Sealer) -> None:
    """Make the database hold the file's inventory (one transaction)."""
    async with conn.transaction():
        names = [r.name for r in inventory.racks]
        await conn.execute(
            "UPDATE vault_inventory_racks SET enabled = false, updated_at = now() "
            "WHERE NOT (name = ANY($1::text[]))",
            names,
        )
        for rack in inventory.racks:
            await conn.execute(
                """INSERT INTO vault_inventory_racks
                       (name, metro, rack_type, country, endpoint, reference_values, enabled)
                   VALUES ($1, $2, $3, $4, $5, $6, true)
                   ON CONFLICT (name) DO UPDATE SET metro = $2, rack_type = $3, country = $4,
                       endpoint = $5, reference_values = $6, enabled = true, updated_at = now()""",
                rack.name,
                rack.metro,
                rack.rack_type,
                rack.country,
                rack.endpoint,
                {str(pcr): digests for pcr, digests in rack.reference_values.items()},
            )
            ids = [node_id(rack.name, n.name) for n in rack.nodes]
            await conn.execute(
                "DELETE FROM vault_inventory_nodes WHERE rack = $1 AND NOT (id = ANY($2::text[]))",
                rack.name,
                ids,
            )
            for nid, node in zip(ids, rack.nodes, strict=True):
                await conn.execute(
                    """INSERT INTO vault_inventory_nodes (id, rack, name, role, address,
                           redfish_url, system_id, bmc_username, bmc_password_sealed, agent_url,
                           ak_public_pem, ak_enrolled_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                               CASE WHEN $11::text IS NULL THEN NULL ELSE now() END)
                       ON CONFLICT (id) DO UPDATE SET role = $4, address = $5, redfish_url = $6,
                           system_id = $7, bmc_username = $8, bmc_password_sealed = $9,
                           agent_url = $10,
                           ak_public_pem = COALESCE($11, vault_inventory_nodes.ak_public_pem),
                           ak_enrolled_at = CASE WHEN $11::text IS NULL
                               THEN vault_inventory_nodes.ak_enrolled_at ELSE now() END""",
                    nid,
                    rack.name,
                    node.name,
                    node.role,
                    node.address,
                    node.redfish.url,
                    node.redfish.system_id,
                    node.redfish.username,
                    sealer.seal(node.redfish.password.get_secret_value().encode()),
                    node.agent_url,
                    node.ak_public_pem,
                )
