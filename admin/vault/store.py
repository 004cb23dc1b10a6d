"""Racks in Postgres: reservation of a free physical rack under one lock, transitions guarded
by the row version, the inventory the reconciler drives, and minted BMC accounts."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any

import asyncpg

from admin.tenancy import unix
from admin.vault.states import RackEvent, RackState, next_state
from voltcore import versioned
from voltcore.db import Conn
from voltcore.errors import NotFound

# Serialises reservation: two orgs must never be given the same physical rack.
RESERVATION_LOCK = 0x766F6C74_0005
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


async def free_rack(
    conn: Conn, *, metro: str, rack_type: str, country: str | None
) -> asyncpg.Record | None:
    """A physical rack that matches and that no reservation holds (call under the lock)."""
    return await conn.fetchrow(
        """SELECT i.* FROM vault_inventory_racks i
           WHERE i.enabled AND i.metro = $1 AND i.rack_type = $2
             AND ($3::text IS NULL OR i.country = $3)
             AND NOT EXISTS (SELECT 1 FROM vault_racks r
                             WHERE r.inventory_rack = i.name AND r.status <> 'released')
           ORDER BY i.name LIMIT 1""",
        metro,
        rack_type,
        country,
    )


async def insert_rack(
    conn: Conn, org_id: str, inventory: asyncpg.Record, sovereignty: str | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO vault_racks (id, org_id, inventory_rack, metro, rack_type, sovereignty,
                                    status)
           VALUES ($1, $2, $3, $4, $5, $6, 'requested') RETURNING *""",
        new_id("rack_"),
        org_id,
        inventory["name"],
        inventory["metro"],
        inventory["rack_type"],
        sovereignty,
    )
    assert row is not None
    return row


async def get_rack(conn: Conn | asyncpg.Pool, org_id: str, rack_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM vault_racks WHERE org_id = $1 AND id = $2", org_id, rack_id
    )
    if row is None:
        raise NotFound(f"No such rack: '{rack_id}'.", param="rack_id")
    return row


async def open_racks(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch("SELECT * FROM vault_racks WHERE status <> 'released' ORDER BY created_at")
    )


async def inventory_rack(conn: Conn | asyncpg.Pool, name: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM vault_inventory_racks WHERE name = $1", name)
    assert row is not None  # inventory racks are disabled, never deleted
    return row


async def inventory_nodes(conn: Conn | asyncpg.Pool, rack: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM vault_inventory_nodes WHERE rack = $1 ORDER BY role, name", rack
        )
    )


def distinct_bmcs(nodes: list[asyncpg.Record]) -> list[asyncpg.Record]:
    """One node per BMC endpoint: accounts live on a BMC, and a multi-node chassis (or the
    emulator) serves several systems from one."""
    return list({n["redfish_url"]: n for n in reversed(nodes)}.values())


async def enrol_ak(pool: asyncpg.Pool, node_id: str, pem: str) -> None:
    """Trust on first use, once: a key already enrolled is never replaced this way."""
    await pool.execute(
        """UPDATE vault_inventory_nodes SET ak_public_pem = $2, ak_enrolled_at = now()
           WHERE id = $1 AND ak_public_pem IS NULL""",
        node_id,
        pem,
    )


async def apply(
    pool: asyncpg.Pool | Conn, rack: asyncpg.Record, event: RackEvent, **changes: Any
) -> asyncpg.Record:
    """Persist one transition (and field changes) if nobody moved the rack meanwhile; raises
    Conflict otherwise, and the caller looks again."""
    state = next_state(RackState(rack["status"]), event, rack["failed_in"])
    return await versioned.update(
        pool, "vault_racks", rack, changes, state=state.value, code="rack_changed"
    )


async def record(pool: asyncpg.Pool, rack: asyncpg.Record, **changes: Any) -> asyncpg.Record:
    """Update observations (nodes, last_error) without a state change, guarded by the version
    too, so a stale pass cannot overwrite a newer state's observations."""
    return await versioned.update(pool, "vault_racks", rack, changes, code="rack_changed")


def rack_object(row: asyncpg.Record, inventory: asyncpg.Record | None) -> dict[str, Any]:
    """The API's view. The physical rack's name and BMC admin details are never shown."""
    allocated = row["status"] not in (RackState.REQUESTED, RackState.RELEASED)
    return {
        "id": row["id"],
        "object": "vault.rack",
        "org_id": row["org_id"],
        "status": row["status"],
        "metro": row["metro"],
        "rack_type": row["rack_type"],
        "country": inventory["country"] if inventory is not None else None,
        "sovereignty": row["sovereignty"],
        "endpoint": inventory["endpoint"] if inventory is not None and allocated else None,
        "nodes": row["nodes"],
        "created_at": unix(row["created_at"]),
        "ready_at": unix(row["ready_at"]),
        "released_at": unix(row["released_at"]),
        "last_error": row["last_error"],
        "conditions": row["conditions"],
    }


async def insert_account(
    pool: asyncpg.Pool, org_id: str, rack_id: str, role: str, expires_at: dt.datetime
) -> asyncpg.Record:
    account_id = new_id("bmcacct_")
    # Redfish user names are short on many BMCs (16 characters on iDRAC).
    username = "volt" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    row = await pool.fetchrow(
        """INSERT INTO vault_bmc_accounts (id, org_id, rack_id, username, role, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        account_id,
        org_id,
        rack_id,
        username,
        role,
        expires_at,
    )
    assert row is not None
    return row


async def accounts_to_delete(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Live accounts that expired or whose rack is being (or was) released."""
    return list(
        await pool.fetch(
            """SELECT a.*, r.inventory_rack FROM vault_bmc_accounts a
               JOIN vault_racks r ON r.id = a.rack_id
               WHERE a.deleted_at IS NULL
                 AND (a.expires_at <= now() OR r.status IN ('releasing', 'released'))"""
        )
    )


async def live_accounts(pool: asyncpg.Pool, rack_id: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM vault_bmc_accounts WHERE rack_id = $1 AND deleted_at IS NULL",
            rack_id,
        )
    )


async def mark_deleted(pool: asyncpg.Pool, account_id: str) -> None:
    await pool.execute(
        "UPDATE vault_bmc_accounts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
        account_id,
    )


def from_now(seconds: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
