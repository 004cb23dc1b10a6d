"""Leases in Postgres: creation with placement under one lock, transitions guarded by the row
version (optimistic concurrency), and the GPUs held per node. Leases leave as `Lease` rows."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass
from typing import Any

import asyncpg

from admin.forge.plan import namespace_for
from admin.forge.states import HOLDING, MACHINE, LeaseEvent, LeaseState
from voltcore.db import Conn
from voltcore.rows import StateTable, stateful

# Serialises placement: two leases must never be given the same free GPUs.
PLACEMENT_LOCK = 0x766F6C74_0004
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True, slots=True)
class Lease:
    """A row of `forge_leases`. `placement` is node name -> GPUs; `target_status` is where a
    terminating lease ends (terminated or expired)."""

    id: str
    org_id: str
    status: LeaseState
    target_status: LeaseState | None
    gpu_type: str
    gpu_count: int
    metro: str
    duration_s: int
    placement: dict[str, int]
    namespace: str
    price_per_gpu_hour: float
    last_error: dict[str, Any] | None
    conditions: list[dict[str, Any]]
    version: int
    created_at: dt.datetime
    active_at: dt.datetime | None
    expires_at: dt.datetime | None
    ended_at: dt.datetime | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Lease:
        return stateful(cls, record, LeaseState)


# `LEASES.apply(pool, lease, LeaseEvent.EXPIRE, target=LeaseState.EXPIRED)` is one transition;
# `LEASES.record` writes observations (last_error, conditions) without one.
LEASES: StateTable[Lease, LeaseState, LeaseEvent] = StateTable(
    "forge_leases", MACHINE, Lease.from_record, noun="lease"
)


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


async def node_orgs(conn: Conn) -> dict[str, set[str]]:
    """The orgs holding GPUs on each node, for the co-location policy."""
    rows = await conn.fetch(
        "SELECT org_id, placement FROM forge_leases WHERE status = ANY($1::text[])", list(HOLDING)
    )
    owners: dict[str, set[str]] = {}
    for row in rows:
        for node in row["placement"]:
            owners.setdefault(node, set()).add(row["org_id"])
    return owners


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
) -> Lease:
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
    return Lease.from_record(row)
