"""Vault's API objects, rendered from the store's rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from admin.tenancy import unix
from admin.vault import store
from admin.vault.states import RackState
from admin.vault.store import PhysicalRack, Rack


def rack(row: Rack, physical: PhysicalRack | None) -> dict[str, Any]:
    """The API's view. The physical rack's name and BMC admin details are never shown."""
    allocated = row.status not in (RackState.REQUESTED, RackState.RELEASED)
    return {
        "id": row.id,
        "object": "vault.rack",
        "org_id": row.org_id,
        "status": row.status.value,
        "metro": row.metro,
        "rack_type": row.rack_type,
        "country": physical.country if physical is not None else None,
        "sovereignty": row.sovereignty,
        "endpoint": physical.endpoint if physical is not None and allocated else None,
        "nodes": row.nodes,
        "created_at": unix(row.created_at),
        "ready_at": unix(row.ready_at),
        "released_at": unix(row.released_at),
        "last_error": row.last_error,
        "conditions": row.conditions,
    }


async def racks(pool: asyncpg.Pool, rows: Sequence[Rack]) -> list[dict[str, Any]]:
    """Racks with their physical racks' country and endpoint, read in one query."""
    physical = await store.physical_racks(pool, (r.inventory_rack for r in rows))
    return [rack(r, physical.get(r.inventory_rack)) for r in rows]
