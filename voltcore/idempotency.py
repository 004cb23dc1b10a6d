"""`Idempotency-Key` for POSTs that create things, with Stripe's semantics: a retry with the same
key and body gets the first response again (marked `idempotent-replayed: true`); the same key
with another body is a 400; a retry while the first is still running is a 409. Server errors are
not kept, so a retry after one runs again."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from voltcore.errors import Conflict, InvalidRequest, VoltError
from voltcore.http import json_response, route_template

Produce = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
HEADER = "Idempotency-Key"


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
    claimed = await pool.fetchval(
        """INSERT INTO idempotency_keys (org_id, key, route, request_hash) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        org_id,
        key,
        route,
        digest,
    )
    if not claimed:
        return await _replay(pool, org_id, key, route, digest)
    try:
        status, body = await produce()
    except VoltError as err:
        if err.status >= 500:
            await _release(pool, org_id, key)
            raise
        status, body = err.status, err.body()
    except BaseException:
        await _release(pool, org_id, key)
        raise
    await pool.execute(
        "UPDATE idempotency_keys SET status = $3, response = $4 WHERE org_id = $1 AND key = $2",
        org_id,
        key,
        status,
        body,
    )
    return json_response(body, status=status)


async def _release(pool: asyncpg.Pool, org_id: str, key: str) -> None:
    await pool.execute("DELETE FROM idempotency_keys WHERE org_id = $1 AND key = $2", org_id, key)


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
