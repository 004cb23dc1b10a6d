"""Creating an org with its first admin user and API key (the `bootstrap` command)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from admin import tenancy
from voltcore.config import Tier
from voltcore.ids import spiffe_id
from voltcore.keys import ALL_SCOPES


@dataclass(frozen=True)
class Bootstrapped:
    org_id: str
    spiffe_id: str
    user_id: str
    api_key_id: str
    api_key: str


async def bootstrap_org(
    pool: asyncpg.Pool,
    *,
    name: str,
    tier: Tier,
    metro: str,
    admin_email: str,
    trust_domain: str,
) -> Bootstrapped:
    """All or nothing: the org, its admin user and a read+write key in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        org = await tenancy.create_org(conn, name, tier, metro)
        user = await tenancy.create_user(conn, org["id"], admin_email, role="admin")
        key = await tenancy.create_api_key(
            conn,
            org["id"],
            name="bootstrap",
            scopes=ALL_SCOPES,
            expires_at=None,
            created_by=user["id"],
        )
    return Bootstrapped(
        org["id"], spiffe_id(trust_domain, org["id"]), user["id"], key.row["id"], key.secret
    )
