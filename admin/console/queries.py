"""What the console shows of one org: every query filters on the session's org_id."""

from __future__ import annotations

import asyncpg


async def api_keys(pool: asyncpg.Pool, org_id: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            """SELECT * FROM api_keys WHERE org_id = $1
               ORDER BY created_at DESC, id DESC LIMIT 100""",
            org_id,
        )
    )


async def cli_grants(pool: asyncpg.Pool, org_id: str) -> list[asyncpg.Record]:
    """Signed-in CLIs: one row per device approval whose refresh token still works."""
    return list(
        await pool.fetch(
            """SELECT t.grant_id, t.client_id, t.scopes, u.email, min(t.created_at) AS since,
                      max(t.expires_at) AS expires_at
               FROM oauth_tokens t LEFT JOIN users u ON u.id = t.user_id
               WHERE t.org_id = $1 AND t.kind = 'refresh' AND t.revoked_at IS NULL
                 AND t.expires_at > now()
               GROUP BY t.grant_id, t.client_id, t.scopes, u.email
               ORDER BY since DESC LIMIT 100""",
            org_id,
        )
    )


async def usage_by_model(pool: asyncpg.Pool, org_id: str, days: int = 30) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            """SELECT model, sum(requests)::bigint AS requests,
                      sum(prompt_tokens)::bigint AS input_tokens,
                      sum(completion_tokens)::bigint AS output_tokens
               FROM usage_events
               WHERE org_id = $1 AND time >= now() - make_interval(days => $2)
               GROUP BY model ORDER BY model""",
            org_id,
            days,
        )
    )


async def leases(pool: asyncpg.Pool, org_id: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            """SELECT id, gpu_type, gpu_count, metro, status, created_at, expires_at
               FROM forge_leases WHERE org_id = $1
               ORDER BY created_at DESC, id DESC LIMIT 100""",
            org_id,
        )
    )
