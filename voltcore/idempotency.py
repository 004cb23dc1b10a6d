"""`Idempotency-Key` for POSTs that create things, with Stripe's semantics: a retry with the same
key and body gets the first response again (marked `idempotent-replayed: true`); the same key
with another body is a 400; a retry while the first is still running is a 409. Server errors are
not kept, so a retry after one runs again.

Keys expire after `Settings.idempotency_ttl_s` (24 h): an older key is free for any body, checked
when it is presented, and `sweep` deletes expired rows now and then (`sweep_ctx`). A key whose
first request never finished (its process died holding it) is taken over by a retry with the
same body after `Settings.idempotency_lock_timeout_s`, instead of answering 409 forever."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from voltcore.appkeys import POOL, SETTINGS
from voltcore.errors import Conflict, InvalidRequest, VoltError
from voltcore.http import json_response, route_template
from voltcore.loop import Loop
from voltcore.tasks import background

log = logging.getLogger(__name__)

Produce = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
HEADER = "Idempotency-Key"
# Expired keys are deleted this often, in batches of `SWEEP_BATCH` (short transactions).
SWEEP_INTERVAL_S = 600.0
SWEEP_BATCH = 1000


async def idempotent(
    request: web.Request, pool: asyncpg.Pool, org_id: str, payload: Any, produce: Produce
) -> web.Response:
    """Usage: `return await idempotent(request, pool, org, body.model_dump(), create)` where
    `create()` returns `(status, body)`."""
    key = request.headers.get(HEADER)
    if key is None:
        status, body = await produce()
        return json_response(body, status=status)
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable characters.",
            param=HEADER,
            code="invalid_value",
        )
    route = f"{request.method} {route_template(request)}"
    digest = hashlib.sha256(orjson.dumps([route, payload], option=orjson.OPT_SORT_KEYS)).digest()
    settings = request.app[SETTINGS]
    attempt = secrets.token_hex(8)
    # Claim the key: a new one, one past its TTL (any body), or one left in progress past the
    # lock timeout by a request that never finished (the same route and body only: it is a
    # retry of that request). Anything else is replayed or refused by `_replay`.
    claimed = await pool.fetchval(
        """INSERT INTO idempotency_keys (org_id, key, route, request_hash, attempt)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (org_id, key) DO UPDATE
               SET route = EXCLUDED.route, request_hash = EXCLUDED.request_hash,
                   status = NULL, response = NULL, created_at = now(), locked_at = now(),
                   attempt = EXCLUDED.attempt
               WHERE idempotency_keys.created_at < now() - make_interval(secs => $6)
                  OR (idempotency_keys.status IS NULL
                      AND idempotency_keys.locked_at < now() - make_interval(secs => $7)
                      AND idempotency_keys.route = EXCLUDED.route
                      AND idempotency_keys.request_hash = EXCLUDED.request_hash)
           RETURNING true""",
        org_id,
        key,
        route,
        digest,
        attempt,
        settings.idempotency_ttl_s,
        settings.idempotency_lock_timeout_s,
    )
    if not claimed:
        return await _replay(pool, org_id, key, route, digest)
    try:
        status, body = await produce()
    except VoltError as err:
        if err.status >= 500:
            await _release(pool, org_id, key, attempt)
            raise
        status, body = err.status, err.body()
    except BaseException:
        await _release(pool, org_id, key, attempt)
        raise
    # Only while this attempt still holds the key: after a takeover the new holder owns it.
    await pool.execute(
        """UPDATE idempotency_keys SET status = $4, response = $5
           WHERE org_id = $1 AND key = $2 AND attempt = $3""",
        org_id,
        key,
        attempt,
        status,
        body,
    )
    return json_response(body, status=status)


async def _release(pool: asyncpg.Pool, org_id: str, key: str, attempt: str) -> None:
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE org_id = $1 AND key = $2 AND attempt = $3",
        org_id,
        key,
        attempt,
    )


async def sweep(pool: asyncpg.Pool, ttl_s: float) -> int:
    """Delete keys past their TTL; returns how many. Safe on every replica at once."""
    deleted = 0
    while True:
        n = int(
            await pool.fetchval(
                """WITH gone AS (
                       DELETE FROM idempotency_keys WHERE ctid IN (
                           SELECT ctid FROM idempotency_keys
                           WHERE created_at < now() - make_interval(secs => $1)
                           LIMIT $2 FOR UPDATE SKIP LOCKED)
                       RETURNING 1)
                   SELECT count(*) FROM gone""",
                ttl_s,
                SWEEP_BATCH,
            )
        )
        deleted += n
        if n < SWEEP_BATCH:
            return deleted


async def sweep_ctx(app: web.Application) -> AsyncIterator[None]:
    """Usage: `app.cleanup_ctx.append(sweep_ctx)` after the database context. Expiry holds
    without it (checked when a key is presented); the sweep only keeps the table small."""
    pool, ttl_s = app[POOL], app[SETTINGS].idempotency_ttl_s

    async def run_pass() -> None:
        if n := await sweep(pool, ttl_s):
            log.info("expired idempotency keys deleted", extra={"count": n})

    async with background(
        Loop("idempotency-sweep", run_pass, SWEEP_INTERVAL_S).run(), name="idempotency-sweep"
    ):
        yield


async def _replay(
    pool: asyncpg.Pool, org_id: str, key: str, route: str, digest: bytes
) -> web.Response:
    row = await pool.fetchrow(
        "SELECT * FROM idempotency_keys WHERE org_id = $1 AND key = $2", org_id, key
    )
    if row is None:  # released by a failed first attempt in between: the caller may retry
        raise Conflict(
            "The first request with this Idempotency-Key failed; retry.",
            param=HEADER,
            code="idempotency_retry",
        )
    if row["route"] != route or bytes(row["request_hash"]) != digest:
        raise InvalidRequest(
            "This Idempotency-Key was already used with other parameters.",
            param=HEADER,
            code="idempotency_key_reused",
        )
    if row["status"] is None:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress.",
            param=HEADER,
            code="idempotency_request_in_progress",
        )
    return json_response(
        row["response"], status=row["status"], headers={"idempotent-replayed": "true"}
    )
