"""Leases in Postgres: creation with placement under one lock, transitions guarded by the row
version (optimistic concurrency), and the views the API and reconciler need."""

from __future__ import annotations

import secrets
import string
from typing import Any

import asyncpg

from admin.forge.plan import namespace_for
from admin.forge.states import HOLDING, LeaseEvent, LeaseState, next_state
from admin.tenancy import unix
from voltcore import versioned
from voltcore.db import Conn
from voltcore.errors import NotFound

# Serialises placement: two leases must never be given the same free GPUs.
PLACEMENT_LOCK = 0x766F6C74_0004
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_lease_id() -> str:
    # Lowercase only: the id is also the namespace name and a label key.
    return "lease_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


async def allocated_gpus(conn: Conn) -> dict[str, int]:
    """GPUs held per node by every lease that has not ended."""
    rows = await conn.fetch(
        "SELECT placement FROM forge_leases WHERE status = ANY($1::text[])", list(HOLDING)
    )
    held: dict[str, int] = {}
    for row in rows:
        for node, gpus in row["placement"].items():
            held[node] = held.get(node, 0) + gpus
    return held


async def insert_lease(
    conn: Conn,
    org_id: str,
    *,
    gpu_type: str,
    gpu_count: int,
    metro: str,
    duration_s: int,
    placement: dict[str, int],
    price: float,
) -> asyncpg.Record:
    lease_id = new_lease_id()
    row = await conn.fetchrow(
        """INSERT INTO forge_leases (id, org_id, gpu_type, gpu_count, metro, duration_s, status,
                                     placement, namespace, price_per_gpu_hour)
           VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9) RETURNING *""",
        lease_id,
        org_id,
        gpu_type,
        gpu_count,
        metro,
        duration_s,
        placement,
        namespace_for(lease_id),
        price,
    )
    assert row is not None
    return row


async def get_lease(conn: Conn | asyncpg.Pool, org_id: str, lease_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM forge_leases WHERE org_id = $1 AND id = $2", org_id, lease_id
    )
    if row is None:
        raise NotFound(f"No such lease: '{lease_id}'.", param="lease_id")
    return row


async def open_leases(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT * FROM forge_leases WHERE status = ANY($1::text[]) ORDER BY created_at",
            list(HOLDING),
        )
    )


async def apply(
    pool: asyncpg.Pool | Conn, lease: asyncpg.Record, event: LeaseEvent, **changes: Any
) -> asyncpg.Record:
    """Persist one transition (and any field changes) if nobody moved the lease meanwhile;
    raises Conflict otherwise, and the reconciler simply looks again."""
    state = next_state(LeaseState(lease["status"]), event, lease["end_reason"])
    return await versioned.update(
        pool, "forge_leases", lease, changes, state=state.value, code="lease_changed"
    )


async def record(pool: asyncpg.Pool, lease: asyncpg.Record, **changes: Any) -> asyncpg.Record:
    """Update observations (last_error, conditions) without a state change."""
    return await versioned.update(pool, "forge_leases", lease, changes, code="lease_changed")


def lease_object(row: asyncpg.Record, currency: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "forge.lease",
        "org_id": row["org_id"],
        "status": row["status"],
        "gpu_type": row["gpu_type"],
        "gpu_count": row["gpu_count"],
        "metro": row["metro"],
        "duration_seconds": row["duration_s"],
        "namespace": row["namespace"],
        "nodes": [{"name": n, "gpus": g} for n, g in sorted(row["placement"].items())],
        "price_per_gpu_hour": row["price_per_gpu_hour"],
        "currency": currency,
        "created_at": unix(row["created_at"]),
        "started_at": unix(row["active_at"]),
        "expires_at": unix(row["expires_at"]),
        "terminated_at": unix(row["ended_at"]),
        "last_error": row["last_error"],
        "conditions": row["conditions"],
    }
