"""Racks in Postgres: reservation of a free physical rack under one lock, transitions guarded
by the row version, the inventory the reconciler drives, and minted BMC accounts. Rows leave
as frozen dataclasses: `Rack`, `PhysicalRack`, `PhysicalNode` and `BmcAccount`."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from admin.vault.states import MACHINE, RackEvent, RackState
from voltcore.db import Conn
from voltcore.errors import Conflict, NotFound
from voltcore.rows import StateTable, columns, stateful

# Serialises reservation: two orgs must never be given the same physical rack.
RESERVATION_LOCK = 0x766F6C74_0005
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Rack:
    """A row of `vault_racks`: a tenant's reservation of one physical rack (`inventory_rack`).
    `target_status` is the step a retry resumes (provisioning or releasing); `nodes` is what
    the reconciler last observed of each node."""

    id: str
    org_id: str
    inventory_rack: str
    metro: str
    rack_type: str
    sovereignty: str | None
    status: RackState
    target_status: RackState | None
    nodes: list[dict[str, Any]]
    secrets_sealed: bytes | None
    last_error: dict[str, Any] | None
    conditions: list[dict[str, Any]]
    attempts: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    ready_at: dt.datetime | None
    released_at: dt.datetime | None
    # Locked in at reservation; None: metered, not charged (see VaultSettings.prices).
    price_per_rack_hour: float | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Rack:
        return stateful(cls, record, RackState)


@dataclass(frozen=True, slots=True)
class PhysicalRack:
    """A row of `vault_inventory_racks`, from the operator's inventory file. `reference_values`
    is PCR index -> the sha256 digests its boot chain may measure."""

    name: str
    metro: str
    rack_type: str
    country: str
    endpoint: str
    reference_values: dict[int, set[str]]
    enabled: bool

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> PhysicalRack:
        values = record["reference_values"].items()
        return columns(cls, record, reference_values={int(p): set(d) for p, d in values})


@dataclass(frozen=True, slots=True)
class PhysicalNode:
    """A row of `vault_inventory_nodes`: a node's BMC (its admin password sealed) and its
    attestation agent and key."""

    id: str
    rack: str
    name: str
    role: str
    address: str
    redfish_url: str
    system_id: str
    bmc_username: str
    bmc_password_sealed: bytes
    agent_url: str | None
    ak_public_pem: str | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> PhysicalNode:
        return columns(cls, record)


@dataclass(frozen=True, slots=True)
class BmcAccount:
    """A row of `vault_bmc_accounts`: one username on every BMC of the rack."""

    id: str
    org_id: str
    rack_id: str
    username: str
    role: str
    expires_at: dt.datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> BmcAccount:
        return columns(cls, record)


# `RACKS.apply(pool, rack, RackEvent.RELEASE, target=RackState.RELEASING)` is one transition;
# `RACKS.record` writes observations (nodes, last_error) without one.
RACKS: StateTable[Rack, RackState, RackEvent] = StateTable(
    "vault_racks", MACHINE, Rack.from_record, noun="rack"
)


async def share_rack(conn: Conn, org_id: str, rack_id: str) -> Rack:
    """The org's rack under a share lock held until `conn`'s transaction ends (call in one):
    a state change (a release is an UPDATE of the row) waits for the holder to finish, so
    whatever the holder put on the hardware meanwhile is recorded before anything sweeps it."""
    row = await conn.fetchrow(
        "SELECT * FROM vault_racks WHERE org_id = $1 AND id = $2 FOR SHARE", org_id, rack_id
    )
    if row is None:  # the same 404 as RACKS.get: another org's rack reads as none
        raise NotFound(f"No such rack: '{rack_id}'.", param="rack_id")
    return Rack.from_record(row)


def require_state(rack: Rack, states: frozenset[RackState], what: str) -> bytes:
    """The rack's sealed secrets bundle, if it is in one of `states`; a 409 otherwise."""
    # A rack released before allocation can fail while releasing without ever having secrets.
    if rack.status not in states or rack.secrets_sealed is None:
        raise Conflict(
            f"Rack '{rack.id}' is {rack.status}; {what}.",
            param="rack_id",
            code="rack_not_allocated",
        )
    return rack.secrets_sealed


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


async def free_rack(
    conn: Conn, *, metro: str, rack_type: str, country: str | None
) -> PhysicalRack | None:
    """A physical rack that matches and that no reservation holds (call under the lock)."""
    row = await conn.fetchrow(
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
    return None if row is None else PhysicalRack.from_record(row)


async def insert_rack(
    conn: Conn,
    org_id: str,
    physical: PhysicalRack,
    sovereignty: str | None,
    *,
    price: float | None = None,
) -> Rack:
    row = await conn.fetchrow(
        """INSERT INTO vault_racks (id, org_id, inventory_rack, metro, rack_type, sovereignty,
                                    status, price_per_rack_hour)
           VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7) RETURNING *""",
        new_id("rack_"),
        org_id,
        physical.name,
        physical.metro,
        physical.rack_type,
        sovereignty,
        price,
    )
    assert row is not None
    return Rack.from_record(row)


async def physical_racks(
    conn: Conn | asyncpg.Pool, names: Iterable[str]
) -> dict[str, PhysicalRack]:
    """By name; inventory racks are disabled, never deleted, so every rack's is there."""
    rows = await conn.fetch(
        "SELECT * FROM vault_inventory_racks WHERE name = ANY($1::text[])", list(set(names))
    )
    return {r["name"]: PhysicalRack.from_record(r) for r in rows}


async def inventory_rack(conn: Conn | asyncpg.Pool, name: str) -> PhysicalRack:
    return (await physical_racks(conn, [name]))[name]


async def inventory_nodes(conn: Conn | asyncpg.Pool, rack: str) -> list[PhysicalNode]:
    rows = await conn.fetch(
        "SELECT * FROM vault_inventory_nodes WHERE rack = $1 ORDER BY role, name", rack
    )
    return [PhysicalNode.from_record(r) for r in rows]


async def enrol_ak(pool: asyncpg.Pool, node_id: str, pem: str) -> None:
    """Trust on first use, once: a key already enrolled is never replaced this way."""
    await pool.execute(
        """UPDATE vault_inventory_nodes SET ak_public_pem = $2, ak_enrolled_at = now()
           WHERE id = $1 AND ak_public_pem IS NULL""",
        node_id,
        pem,
    )


async def insert_account(
    pool: Conn | asyncpg.Pool, rack: Rack, role: str, expires_at: dt.datetime
) -> BmcAccount:
    # Redfish user names are short on many BMCs (16 characters on iDRAC).
    username = "volt" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    row = await pool.fetchrow(
        """INSERT INTO vault_bmc_accounts (id, org_id, rack_id, username, role, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        new_id("bmcacct_"),
        rack.org_id,
        rack.id,
        username,
        role,
        expires_at,
    )
    assert row is not None
    return BmcAccount.from_record(row)


async def expire_account(pool: Conn | asyncpg.Pool, account_id: str) -> None:
    """Due now: the reconciler deletes it (whatever part of it was made) on every node."""
    await pool.execute("UPDATE vault_bmc_accounts SET expires_at = now() WHERE id = $1", account_id)


async def accounts_to_delete(pool: asyncpg.Pool) -> list[tuple[BmcAccount, str]]:
    """Live accounts that expired or whose rack is being (or was) released, each with its
    rack's physical rack."""
    rows = await pool.fetch(
        """SELECT a.*, r.inventory_rack FROM vault_bmc_accounts a
           JOIN vault_racks r ON r.id = a.rack_id
           WHERE a.deleted_at IS NULL
             AND (a.expires_at <= now() OR r.status IN ('releasing', 'released'))"""
    )
    return [(BmcAccount.from_record(r), r["inventory_rack"]) for r in rows]


async def live_accounts(pool: asyncpg.Pool, rack_id: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM vault_bmc_accounts WHERE rack_id = $1 AND deleted_at IS NULL",
            rack_id,
        )
    )


async def mark_deleted(pool: Conn | asyncpg.Pool, account_id: str) -> None:
    await pool.execute(
        "UPDATE vault_bmc_accounts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
        account_id,
    )


async def kept_usernames(pool: asyncpg.Pool, rack_id: str, redfish_url: str) -> set[str]:
    """What a release sweep of this BMC must leave: the operator's own logins on it (every
    inventory node it serves) and accounts Volt minted, still live, for another rack that shares
    the BMC (a chassis BMC serving several racks' systems)."""
    rows = await pool.fetch(
        """SELECT bmc_username AS name FROM vault_inventory_nodes WHERE redfish_url = $2
           UNION
           SELECT a.username FROM vault_bmc_accounts a
           JOIN vault_racks r ON r.id = a.rack_id
           JOIN vault_inventory_nodes n ON n.rack = r.inventory_rack
           WHERE a.deleted_at IS NULL AND a.rack_id <> $1 AND n.redfish_url = $2""",
        rack_id,
        redfish_url,
    )
    return {r["name"] for r in rows}


def from_now(seconds: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
