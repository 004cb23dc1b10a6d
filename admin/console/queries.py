"""What the console shows of one org: every query filters on the session's org_id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import asyncpg

from admin.forge.store import Lease
from admin.vault.store import Rack
from finetune.store import Event, Job

# Rows a console table shows at most: the API pages through the rest.
LIMIT = 100


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
               ORDER BY since DESC LIMIT $2""",
            org_id,
            LIMIT,
        )
    )


# The tables whose newest rows a page lists: a closed set, so the name is never input.
Table = Literal["api_keys", "forge_leases", "vault_racks", "ft_jobs"]


async def _latest(pool: asyncpg.Pool, table: Table, org_id: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            f"""SELECT * FROM {table} WHERE org_id = $1
                ORDER BY created_at DESC, id DESC LIMIT $2""",
            org_id,
            LIMIT,
        )
    )


async def api_keys(pool: asyncpg.Pool, org_id: str) -> list[asyncpg.Record]:
    return await _latest(pool, "api_keys", org_id)


async def leases(pool: asyncpg.Pool, org_id: str) -> list[Lease]:
    return [Lease.from_record(r) for r in await _latest(pool, "forge_leases", org_id)]


async def racks(pool: asyncpg.Pool, org_id: str) -> list[Rack]:
    return [Rack.from_record(r) for r in await _latest(pool, "vault_racks", org_id)]


async def jobs(pool: asyncpg.Pool, org_id: str) -> list[Job]:
    return [Job.from_record(r) for r in await _latest(pool, "ft_jobs", org_id)]


async def last_metrics(
    pool: asyncpg.Pool, org_id: str, job_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each job's latest per-step metrics (step, total_steps, train_loss, ...), as the
    worker recorded them in its `metrics` events."""
    rows = await pool.fetch(
        """SELECT DISTINCT ON (job_id) job_id, data FROM ft_events
           WHERE org_id = $1 AND job_id = ANY($2::text[]) AND type = 'metrics'
           ORDER BY job_id, seq DESC""",
        org_id,
        list(job_ids),
    )
    return {r["job_id"]: r["data"] for r in rows if r["data"] is not None}


async def job_metrics(pool: asyncpg.Pool, org_id: str, job_id: str) -> list[Event]:
    """A job's `metrics` events oldest first: the same rows `GET .../events` pages through,
    only those, in step order."""
    rows = await pool.fetch(
        """SELECT * FROM ft_events WHERE org_id = $1 AND job_id = $2 AND type = 'metrics'
           ORDER BY seq""",
        org_id,
        job_id,
    )
    return [Event.from_record(r) for r in rows]
