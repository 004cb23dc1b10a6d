"""Orgs, users and API keys in Postgres. Every query is filtered by org_id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from scheduler.limits import Overrides, resolve
from voltcore.config import Tier, TierPolicy
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


# ---------------------------------------------------------------- rate limits
# Who sets what (migration 0011): the tier gives every org its default; the operator may grant an
# org another ceiling (`volt-admin limits`); the org may cap itself below its ceiling (PATCH
# /v1/orgs/{org_id}/limits) and each key below the org (at creation). An org can lower its limits
# and raise them back to its ceiling, never past it: that is a grant, not a setting.

# The columns' ranges (integer and bigint), so an oversized value is a 400, not a database error.
MAX_RPM = 2**31 - 1
MAX_TPM = 2**63 - 1


@dataclass(frozen=True, slots=True)
class LimitValues:
    """Requests and tokens per minute, each None where unset (as in a request body or a
    key's row)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def object(self) -> dict[str, int | None]:
        return {
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
        }


def org_overrides(row: asyncpg.Record) -> Overrides:
    return Overrides(
        org_ceiling_requests=row["rpm_ceiling"],
        org_ceiling_tokens=row["tpm_ceiling"],
        org_requests=row["rpm_limit"],
        org_tokens=row["tpm_limit"],
    )


def _one_limit(limit: int, ceiling: int, own: int | None, granted: int | None) -> dict[str, Any]:
    # `source` says what decides `limit`: the org's own cap where it is below (or at) the
    # ceiling, else the ceiling, which is the operator's grant or the tier's default.
    source = "org" if own is not None and own <= ceiling else "tier"
    if source == "tier" and granted is not None:
        source = "operator"
    return {"limit": limit, "ceiling": ceiling, "source": source}


def limits_object(row: asyncpg.Record, tiers: dict[Tier, TierPolicy]) -> dict[str, Any]:
    """An org's limits as the API and `volt-admin limits` show them (row: the org's)."""
    resolved = resolve(tiers[row["tier"]].limit, org_overrides(row))
    org, ceiling = resolved.org, resolved.ceiling
    return {
        "object": "organization.limits",
        "org_id": row["id"],
        "tier": row["tier"],
        "requests_per_minute": _one_limit(
            org.requests, ceiling.requests, row["rpm_limit"], row["rpm_ceiling"]
        ),
        "tokens_per_minute": _one_limit(
            org.tokens, ceiling.tokens, row["tpm_limit"], row["tpm_ceiling"]
        ),
    }


def _beyond(asked: int | None, bound: int, what: str, param: str, code: str) -> None:
    """403 naming `param` when `asked` is above `bound` (`what`: "this organization's
    ceiling of {bound}; only the operator can raise it")."""
    if asked is not None and asked > bound:
        raise PermissionDenied(
            f"'{param}' ({asked}) is above {what.format(bound=bound)}.", param=param, code=code
        )


async def update_org_limits(
    pool: asyncpg.Pool,
    org_id: str,
    tiers: dict[Tier, TierPolicy],
    values: LimitValues,
    fields: Set[str],
) -> asyncpg.Record:
    """The org's own caps: each field in `fields` is set (None: back to the ceiling), within
    the ceiling (else 403 naming it); the others are left alone. Returns the org's row."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT * FROM orgs WHERE id = $1 FOR UPDATE", org_id)
        if row is None:
            raise NotFound(f"No such organization: '{org_id}'.", param="org_id")
        ceiling = resolve(tiers[row["tier"]].limit, org_overrides(row)).ceiling
        what = "this organization's ceiling of {bound}; only the operator can raise it"
        _beyond(
            values.requests_per_minute,
            ceiling.requests,
            what,
            "requests_per_minute",
            "exceeds_ceiling",
        )
        _beyond(
            values.tokens_per_minute, ceiling.tokens, what, "tokens_per_minute", "exceeds_ceiling"
        )
        updated = await conn.fetchrow(
            """UPDATE orgs SET rpm_limit = CASE WHEN $2 THEN $3 ELSE rpm_limit END,
                               tpm_limit = CASE WHEN $4 THEN $5 ELSE tpm_limit END
               WHERE id = $1 RETURNING *""",
            org_id,
            "requests_per_minute" in fields,
            values.requests_per_minute,
            "tokens_per_minute" in fields,
            values.tokens_per_minute,
        )
    assert updated is not None
    return updated


async def set_org_ceilings(
    pool: asyncpg.Pool,
    org_id: str,
    *,
    requests: int | Literal["keep"] | None = "keep",
    tokens: int | Literal["keep"] | None = "keep",
) -> asyncpg.Record:
    """The operator's grant (None: back to the tier's default; "keep": unchanged). An org cap
    above a lowered ceiling stays stored but binds no more (`resolve` takes the smaller)."""
    row = await pool.fetchrow(
        """UPDATE orgs SET rpm_ceiling = CASE WHEN $2 THEN $3 ELSE rpm_ceiling END,
                           tpm_ceiling = CASE WHEN $4 THEN $5 ELSE tpm_ceiling END
           WHERE id = $1 RETURNING *""",
        org_id,
        requests != "keep",
        None if requests == "keep" else requests,
        tokens != "keep",
        None if tokens == "keep" else tokens,
    )
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
        "limits": LimitValues(row["rpm_limit"], row["tpm_limit"]).object(),
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
    limits: LimitValues = LimitValues(),
) -> NewKey:
    """`grant_id`: the device-flow grant the key lives and dies with (`KeyBounds`); `limits`:
    the key's own, already checked against its org's (`check_key_limits`)."""
    secret = generate_key()
    row = await conn.fetchrow(
        """INSERT INTO api_keys (id, org_id, name, secret_hash, redacted_value, scopes,
                                 expires_at, created_by, grant_id, rpm_limit, tpm_limit)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *""",
        new_id("key"),
        org_id,
        name,
        hash_key(secret),
        redact(secret),
        sorted(set(scopes)),
        expires_at,
        created_by,
        grant_id,
        limits.requests_per_minute,
        limits.tokens_per_minute,
    )
    assert row is not None
    return NewKey(row, secret)


async def check_key_limits(
    conn: Conn,
    principal: Principal,
    tiers: dict[Tier, TierPolicy],
    asked: LimitValues,
) -> LimitValues:
    """A new key's limits: each within its org's limit, and, when the caller is a key with
    limits of its own, within those too (unset, the caller's are inherited), so that a capped
    key cannot mint an uncapped one. Else 403 naming the field (`limits.requests_per_minute`)."""
    org = await get_org(conn, principal.org_id)
    limit = resolve(tiers[org["tier"]].limit, org_overrides(org)).org
    what = "this organization's limit of {bound}"
    rpm, tpm = "limits.requests_per_minute", "limits.tokens_per_minute"
    _beyond(asked.requests_per_minute, limit.requests, what, rpm, "exceeds_limit")
    _beyond(asked.tokens_per_minute, limit.tokens, what, tpm, "exceeds_limit")
    mine = principal.overrides
    what = "{bound}, the limit of the key making this request"
    if mine.key_requests is not None:
        _beyond(asked.requests_per_minute, mine.key_requests, what, rpm, "exceeds_limit")
    if mine.key_tokens is not None:
        _beyond(asked.tokens_per_minute, mine.key_tokens, what, tpm, "exceeds_limit")
    return LimitValues(
        mine.key_requests if asked.requests_per_minute is None else asked.requests_per_minute,
        mine.key_tokens if asked.tokens_per_minute is None else asked.tokens_per_minute,
    )


def _tighter(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


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
    """Issue a replacement with the same name, scopes, expiry and limits; the old key stops
    working after `grace` (at once when zero), as Stripe's key rolling does. The caller must
    hold every scope of the key (rotating is minting), its `KeyBounds` cap the new expiry, and
    its own key limits, if any, cap the new key's."""
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
        # The old key's limits, tightened by the caller's own where it has them (as at creation).
        mine = principal.overrides
        limits = LimitValues(
            _tighter(old["rpm_limit"], mine.key_requests),
            _tighter(old["tpm_limit"], mine.key_tokens),
        )
        new = await create_api_key(
            conn,
            org_id,
            name=old["name"],
            scopes=old["scopes"],
            expires_at=new_expiry,
            created_by=principal.subject,
            grant_id=bounds.grant_id or old["grant_id"],
            limits=limits,
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
