"""Orgs, users and API keys in Postgres. Every query is filtered by org_id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from voltcore.config import Tier
from voltcore.db import Conn
from voltcore.errors import Conflict, NotFound, PermissionDenied
from voltcore.ids import new_id, spiffe_id
from voltcore.keys import generate_key, hash_key, redact
from voltcore.principal import Principal, key_status


def unix(t: dt.datetime | None) -> int | None:
    return None if t is None else int(t.timestamp())


def org_object(row: asyncpg.Record, trust_domain: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "organization",
        "name": row["name"],
        "tier": row["tier"],
        "home_metro": row["home_metro"],
        "spiffe_id": spiffe_id(trust_domain, row["id"]),
        "created_at": unix(row["created_at"]),
    }


async def create_org(conn: Conn, name: str, tier: Tier, metro: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO orgs (id, name, tier, home_metro) VALUES ($1, $2, $3, $4) RETURNING *",
        new_id("org"),
        name,
        tier,
        metro,
    )
    assert row is not None
    return row


async def get_org(conn: Conn | asyncpg.Pool, org_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM orgs WHERE id = $1", org_id)
    if row is None:
        raise NotFound(f"No such organization: '{org_id}'.", param="org_id")
    return row


async def create_user(conn: Conn, org_id: str, email: str, role: str = "member") -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO users (id, org_id, email, role) VALUES ($1, $2, $3, $4) RETURNING *",
        new_id("user"),
        org_id,
        email,
        role,
    )
    assert row is not None
    return row


def key_object(row: asyncpg.Record, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    return {
        "id": row["id"],
        "object": "api_key",
        "org_id": row["org_id"],
        "name": row["name"],
        "redacted_value": row["redacted_value"],
        "scopes": sorted(row["scopes"]),
        "status": key_status(row["revoked_at"], row["expires_at"], now),
        "created_at": unix(row["created_at"]),
        "expires_at": unix(row["expires_at"]),
        "last_used_at": unix(row["last_used_at"]),
        "revoked_at": unix(row["revoked_at"]),
        "replaced_by": row["replaced_by"],
    }


@dataclass(frozen=True)
class NewKey:
    row: asyncpg.Record
    secret: str

    def object(self) -> dict[str, Any]:
        return {**key_object(self.row), "secret": self.secret}


async def create_api_key(
    conn: Conn,
    org_id: str,
    *,
    name: str,
    scopes: Sequence[str],
    expires_at: dt.datetime | None,
    created_by: str | None,
    grant_id: str | None = None,
) -> NewKey:
    """`grant_id`: the device-flow grant the key lives and dies with (`KeyBounds`)."""
    secret = generate_key()
    row = await conn.fetchrow(
        """INSERT INTO api_keys (id, org_id, name, secret_hash, redacted_value, scopes,
                                 expires_at, created_by, grant_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
        new_id("key"),
        org_id,
        name,
        hash_key(secret),
        redact(secret),
        sorted(set(scopes)),
        expires_at,
        created_by,
        grant_id,
    )
    assert row is not None
    return NewKey(row, secret)


@dataclass(frozen=True)
class KeyBounds:
    """What a caller may put into a key it creates or rotates: at most its own scopes, and,
    for a device-flow access token of anyone but an org admin, no life past the token's grant
    (`expires_at`), to which the key is tied (`grant_id`: revoking the grant revokes it)."""

    scopes: frozenset[str]
    expires_at: dt.datetime | None = None
    grant_id: str | None = None

    def beyond(self, scopes: Sequence[str]) -> list[str]:
        return sorted(set(scopes) - self.scopes)


async def key_bounds(conn: Conn | asyncpg.Pool, principal: Principal) -> KeyBounds:
    if principal.kind != "oauth_token":
        return KeyBounds(principal.scopes)
    # The grant ends when its last live token does (its refresh token, unless revoked); the
    # approving user's role is read now, so a demoted admin's CLI is bounded from then on.
    row = await conn.fetchrow(
        """SELECT t.grant_id, u.role,
                  (SELECT max(g.expires_at) FROM oauth_tokens g
                   WHERE g.grant_id = t.grant_id AND g.revoked_at IS NULL) AS grant_expires_at
           FROM oauth_tokens t LEFT JOIN users u ON u.id = t.user_id AND u.org_id = t.org_id
           WHERE t.org_id = $1 AND t.id = $2""",
        principal.org_id,
        principal.subject,
    )
    if row is not None and row["role"] == "admin":
        return KeyBounds(principal.scopes)
    now = dt.datetime.now(dt.UTC)
    if row is None or row["grant_expires_at"] is None:  # revoked meanwhile: nothing may outlive it
        return KeyBounds(principal.scopes, now, row["grant_id"] if row else principal.subject)
    return KeyBounds(principal.scopes, row["grant_expires_at"], row["grant_id"])


async def get_api_key(
    conn: Conn | asyncpg.Pool, org_id: str, key_id: str, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM api_keys WHERE org_id = $1 AND id = $2" + (" FOR UPDATE" if lock else ""),
        org_id,
        key_id,
    )
    if row is None:
        raise NotFound(f"No such API key: '{key_id}'.", param="key_id")
    return row


async def revoke_api_key(pool: asyncpg.Pool, org_id: str, key_id: str) -> asyncpg.Record:
    """Idempotent: revoking a revoked key returns it unchanged."""
    row = await pool.fetchrow(
        """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE org_id = $1 AND id = $2 RETURNING *""",
        org_id,
        key_id,
    )
    if row is None:
        raise NotFound(f"No such API key: '{key_id}'.", param="key_id")
    return row


async def rotate_api_key(
    pool: asyncpg.Pool, principal: Principal, key_id: str, *, grace: dt.timedelta
) -> NewKey:
    """Issue a replacement with the same name, scopes and expiry; the old key stops working
    after `grace` (at once when zero), as Stripe's key rolling does. The caller must hold
    every scope of the key (rotating is minting), and its `KeyBounds` cap the new expiry."""
    org_id = principal.org_id
    async with pool.acquire() as conn, conn.transaction():
        old = await get_api_key(conn, org_id, key_id, lock=True)
        now = dt.datetime.now(dt.UTC)
        status = key_status(old["revoked_at"], old["expires_at"], now)
        if status != "active":
            raise Conflict(
                f"API key '{key_id}' is {status} and cannot be rotated.",
                param="key_id",
                code="api_key_not_active",
            )
        bounds = await key_bounds(conn, principal)
        beyond = bounds.beyond(old["scopes"])
        if beyond:
            raise PermissionDenied(
                f"Cannot rotate a key with scopes this credential lacks: {beyond}.",
                param="scopes",
            )
        new_expiry = old["expires_at"]
        if bounds.expires_at is not None:
            new_expiry = min(new_expiry or bounds.expires_at, bounds.expires_at)
        new = await create_api_key(
            conn,
            org_id,
            name=old["name"],
            scopes=old["scopes"],
            expires_at=new_expiry,
            created_by=principal.subject,
            grant_id=bounds.grant_id or old["grant_id"],
        )
        expires_at, revoked_at = old["expires_at"], None
        if grace > dt.timedelta(0):
            expires_at = min(now + grace, expires_at or now + grace)
        else:
            revoked_at = now
        await conn.execute(
            """UPDATE api_keys SET expires_at = $3, revoked_at = $4, replaced_by = $5
               WHERE org_id = $1 AND id = $2""",
            org_id,
            key_id,
            expires_at,
            revoked_at,
            new.row["id"],
        )
        return new
