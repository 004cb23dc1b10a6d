"""Spark's side of the rate limits every replica shares: one call to the store at admission
(`rate_admit`, migration 0011: check and reserve under the org's lock), one when the request
ends (`rate_settle`: correct the reservation to the tokens used). The policy, what is reserved
and what the headers say, is scheduler/limits.py.

If the store cannot be reached the request is served without a limit (logged, and counted in
`RateLimiter.errors`): Spark keeps answering through a database restart, bounded
by each engine's own queue, rather than failing every request for want of a counter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import asyncpg
from aiohttp import web

from scheduler.limits import (
    WINDOW_S,
    Limit,
    Limits,
    ScopeState,
    binding,
    headers,
    resolve,
    retry_headers,
)
from voltcore.config import Tier, TierPolicy
from voltcore.errors import InvalidRequest, RateLimited
from voltcore.principal import Principal

log = logging.getLogger(__name__)

# What this request's response says of its limits (set at admission, sent with any response).
RATE_HEADERS = web.RequestKey("rate_headers", dict)

# A store slower than this is treated as unreachable for this request.
STORE_TIMEOUT_S = 2.0
# What "the store cannot be reached" looks like: no connection, a server error, a timeout.
_STORE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


# One row per scope, shaped as rate_admit's, reserving nothing.
_PEEK = """
SELECT 'org' AS scope, $3::integer AS requests_limit, u.used_requests AS requests_used,
       $4::bigint AS tokens_limit, u.used_tokens AS tokens_used, u.newest,
       u.requests_wait_s, u.tokens_wait_s, clock_timestamp() AS now
  FROM rate_scope_usage($1, NULL, $3, $4, 0, interval '60 seconds', clock_timestamp()) u
UNION ALL
SELECT 'key', $5, u.used_requests, $6, u.used_tokens, u.newest, u.requests_wait_s,
       u.tokens_wait_s, clock_timestamp()
  FROM rate_scope_usage($1, $2, $5, $6, 0, interval '60 seconds', clock_timestamp()) u
 WHERE $2::text IS NOT NULL"""


@dataclass
class Ticket:
    """An admitted request's reservation: `settle` it with the tokens used."""

    reservation: int | None
    reserved: int
    headers: dict[str, str] = field(default_factory=dict)


def limits_of(principal: Principal, tiers: Mapping[Tier, TierPolicy]) -> Limits:
    return resolve(tiers[cast("Tier", principal.tier)].limit, principal.overrides)


def _scope(row: asyncpg.Record) -> ScopeState:
    reset = 0.0
    if row["newest"] is not None:
        reset = max((row["newest"] - row["now"]).total_seconds() + WINDOW_S, 0.0)
    return ScopeState(
        Limit(row["requests_limit"], row["tokens_limit"]),
        row["requests_used"],
        row["tokens_used"],
        reset,
        row["requests_wait_s"],
        row["tokens_wait_s"],
    )


def _refusal(scopes: list[tuple[str, ScopeState]], tokens: int) -> RateLimited:
    name, worst = max(
        ((n, s) for n, s in scopes if s.wait_s != 0),
        key=lambda ns: float("inf") if ns[1].wait_s is None else ns[1].wait_s,
    )
    whose = "your organization" if name == "org" else "this API key"
    # A limit of 0 never admits; it may be raised, so the client is told to come back later.
    wait = WINDOW_S if worst.wait_s is None else worst.wait_s
    if worst.requests_wait_s != 0:
        what = f"requests per min (RPM): Limit {worst.limit.requests}, Used {worst.used_requests}"
    else:
        what = (
            f"tokens per min (TPM): Limit {worst.limit.tokens}, Used {worst.used_tokens}, "
            f"Requested {tokens}"
        )
    return RateLimited(
        f"Rate limit reached for {whose} on {what}. Please try again in {wait:.3f}s.",
        code="rate_limit_exceeded",
        headers={**headers(binding([s for _, s in scopes])), **retry_headers(wait)},
    )


class RateLimiter:
    """Usage: `ticket = await limiter.admit(principal, tokens)`; when the request ends,
    `limiter.settle(ticket, used)` (in the background: the response does not wait for it)."""

    def __init__(self, pool: asyncpg.Pool, tiers: Mapping[Tier, TierPolicy]) -> None:
        self._pool = pool
        self._tiers = tiers
        self._settling: set[asyncio.Task[None]] = set()
        self.errors = 0

    async def admit(
        self, principal: Principal, tokens: int, *, param: str, request_id: str | None = None
    ) -> Ticket:
        limits = limits_of(principal, self._tiers)
        smallest = min(limits.org.tokens, limits.key.tokens if limits.key else limits.org.tokens)
        if tokens > smallest:
            # Never admissible at these limits: retrying would not help, lowering max_tokens does.
            raise InvalidRequest(
                f"This request reserves {tokens} tokens (its prompt and max_tokens for each "
                f"sequence), more than the {smallest} tokens per minute its "
                f"{'API key' if limits.key and limits.key.tokens == smallest else 'organization'}"
                " may use; lower max_tokens or n, or shorten the prompt.",
                param=param,
                code="rate_limit_request_too_large",
            )
        key = limits.key
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                rows = await self._pool.fetch(
                    "SELECT * FROM rate_admit($1, $2, $3, $4, $5, $6, $7, $8)",
                    principal.org_id,
                    principal.api_key_id if key else None,
                    limits.org.requests,
                    limits.org.tokens,
                    key.requests if key else None,
                    key.tokens if key else None,
                    tokens,
                    request_id,
                )
        except _STORE_ERRORS as err:
            self.errors += 1
            log.warning("rate limit store unavailable", extra={"error": type(err).__name__})
            return Ticket(None, tokens)
        scopes = [(row["scope"], _scope(row)) for row in rows]
        if not rows[0]["admitted"]:
            raise _refusal(scopes, tokens)
        return Ticket(rows[0]["reservation"], tokens, headers(binding([s for _, s in scopes])))

    async def peek(self, principal: Principal) -> dict[str, str]:
        """The headers for a response that reserved nothing (a listing, a refusal before
        admission): the caller's window as it stands; {} if the store cannot say."""
        limits = limits_of(principal, self._tiers)
        key = limits.key
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                rows = await self._pool.fetch(
                    _PEEK,
                    principal.org_id,
                    principal.api_key_id if key else None,
                    limits.org.requests,
                    limits.org.tokens,
                    key.requests if key else None,
                    key.tokens if key else None,
                )
        except _STORE_ERRORS:
            self.errors += 1
            return {}
        return headers(binding([_scope(row) for row in rows]))

    def settle(self, ticket: Ticket, used: int) -> None:
        if ticket.reservation is None:
            return
        task = asyncio.create_task(self._settle(ticket.reservation, min(used, ticket.reserved)))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, reservation: int, used: int) -> None:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                await self._pool.execute("SELECT rate_settle($1, $2)", reservation, used)
        except _STORE_ERRORS as err:
            # The reservation stays as reserved until it leaves the window: conservative.
            self.errors += 1
            log.warning("rate limit settle failed", extra={"error": type(err).__name__})

    async def drain(self) -> None:
        """Wait for settlements in flight (at shutdown, and in tests)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)
