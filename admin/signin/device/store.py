"""Device codes and OAuth tokens in Postgres. Codes and tokens are stored only hashed; every
state change happens under a row lock, so a code yields tokens once however polls race."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from admin.signin.device.config import OAuthSettings
from admin.signin.device.policy import Poll, code_hash, decide_poll, new_user_code
from voltcore.db import Conn
from voltcore.ids import new_id
from voltcore.keys import ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, generate_secret


@dataclass(frozen=True)
class NewDeviceCode:
    device_code: str
    user_code: str
    expires_in: int
    interval: int


async def create_device_code(
    pool: asyncpg.Pool, *, client_id: str, scopes: Sequence[str], settings: OAuthSettings
) -> NewDeviceCode:
    # The device code is a bearer secret for the tokens to come: 256 bits, stored hashed.
    device_code = secrets.token_urlsafe(32)
    async with pool.acquire() as conn:
        # Long-expired codes go, so that user codes (unique while stored) stay available; an
        # hour's grace keeps `expired_token` (rather than `invalid_grant`) for late pollers.
        await conn.execute(
            "DELETE FROM oauth_device_codes WHERE expires_at < now() - interval '1 hour'"
        )
        for attempt in range(5):
            user_code = new_user_code()
            try:
                await conn.execute(
                    """INSERT INTO oauth_device_codes (id, device_code_hash, user_code_hash,
                           client_id, scopes, interval_s, expires_at)
                       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))""",
                    new_id("devc"),
                    code_hash(device_code),
                    code_hash(user_code.replace("-", "")),
                    client_id,
                    sorted(set(scopes)),
                    settings.interval_s,
                    float(settings.device_code_ttl_s),
                )
                break
            except asyncpg.UniqueViolationError:  # a live user code drawn twice: draw again
                if attempt == 4:
                    raise
    return NewDeviceCode(device_code, user_code, settings.device_code_ttl_s, settings.interval_s)


@dataclass(frozen=True, slots=True)
class PendingCode:
    """A device's request, awaiting a decision: who asks, and for which scopes."""

    client_id: str
    scopes: tuple[str, ...]


async def pending_code(
    pool: asyncpg.Pool, user_code: str | None, *, max_failures: int
) -> PendingCode | None:
    """The pending, unexpired request a normalized user code names, if any, and not past its
    budget of wrong guesses. An entry that names none is a wrong guess at every pending code
    (a guesser aims at all of them at once), charged to each in the transaction that looked
    the code up: however many sessions guess concurrently, no code can be approved after
    `max_failures` wrong guesses were made while it was pending. `None` (not even shaped
    like a code) is charged too."""
    digest = code_hash(user_code) if user_code is not None else b""
    async with pool.acquire() as conn, conn.transaction():
        # Locked, so a guess waits for the charges committed before it and sees their count.
        row = await conn.fetchrow(
            """SELECT id, user_code_hash, client_id, scopes FROM oauth_device_codes
               WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > now()
                 AND failed_attempts < $2
               FOR UPDATE""",
            digest,
            max_failures,
        )
        if row is None:
            # Locked in id order: concurrent charges queue instead of deadlocking.
            await conn.execute(
                """UPDATE oauth_device_codes SET failed_attempts = failed_attempts + 1
                   WHERE id IN (SELECT id FROM oauth_device_codes
                                WHERE status = 'pending' AND expires_at > now()
                                  AND failed_attempts < $1
                                ORDER BY id FOR UPDATE)""",
                max_failures,
            )
    # The lookup is by digest, so timing reveals nothing about the code; the explicit
    # constant-time check keeps it that way should the lookup ever change.
    if row is None or not hmac.compare_digest(row["user_code_hash"], digest):
        return None
    return PendingCode(row["client_id"], tuple(row["scopes"]))


Decision = Literal["approved", "denied"]


async def decide(
    pool: asyncpg.Pool,
    user_code: str,
    *,
    decision: Decision,
    org_id: str,
    user_id: str,
    granted: Sequence[str],
) -> bool:
    """Approve (for `org_id`, with `granted` scopes) or deny a pending code; False when no
    pending code has this user code (unknown, expired or already decided)."""
    decided = await pool.fetchval(
        """UPDATE oauth_device_codes
           SET status = $2, org_id = $3, granted_scopes = $4, decided_by = $5, decided_at = now()
           WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > now()
           RETURNING id""",
        code_hash(user_code),
        decision,
        org_id if decision == "approved" else None,
        sorted(set(granted)) if decision == "approved" else None,
        user_id,
    )
    return decided is not None


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int
    scopes: tuple[str, ...]

    def response(self) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1)."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": " ".join(self.scopes),
        }


async def _issue(
    conn: Conn,
    *,
    org_id: str,
    user_id: str | None,
    client_id: str,
    scopes: Sequence[str],
    grant_id: str,
    settings: OAuthSettings,
) -> TokenSet:
    access, refresh = generate_secret(ACCESS_TOKEN_PREFIX), generate_secret(REFRESH_TOKEN_PREFIX)
    for kind, secret, ttl in (
        ("access", access, settings.access_token_ttl_s),
        ("refresh", refresh, settings.refresh_token_ttl_s),
    ):
        await conn.execute(
            """INSERT INTO oauth_tokens (id, org_id, kind, token_hash, scopes, client_id,
                   user_id, grant_id, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))""",
            new_id("tok"),
            org_id,
            kind,
            code_hash(secret),
            sorted(set(scopes)),
            client_id,
            user_id,
            grant_id,
            float(ttl),
        )
    return TokenSet(access, refresh, settings.access_token_ttl_s, tuple(sorted(set(scopes))))


@dataclass(frozen=True)
class PollResult:
    """Either tokens, or the poll outcome the token endpoint turns into an OAuth error."""

    poll: Poll | None
    tokens: TokenSet | None = None


async def poll(
    pool: asyncpg.Pool, device_code: str, *, client_id: str | None, settings: OAuthSettings
) -> PollResult | None:
    """One token poll with a device code; None when the code is unknown or another client's.
    The poll is recorded (last poll, raised interval) before the answer goes out."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT *, now() AS now FROM oauth_device_codes WHERE device_code_hash = $1 FOR UPDATE",
            code_hash(device_code),
        )
        if row is None or (client_id is not None and client_id != row["client_id"]):
            return None
        decision = decide_poll(
            status=row["status"],
            expires_at=row["expires_at"],
            last_polled_at=row["last_polled_at"],
            interval_s=row["interval_s"],
            now=row["now"],
        )
        if decision.outcome == "issue":
            await conn.execute(
                "UPDATE oauth_device_codes SET status = 'consumed' WHERE id = $1", row["id"]
            )
            tokens = await _issue(
                conn,
                org_id=row["org_id"],
                user_id=row["decided_by"],
                client_id=row["client_id"],
                scopes=row["granted_scopes"],
                grant_id=row["id"],
                settings=settings,
            )
            return PollResult(decision, tokens)
        if decision.outcome in ("authorization_pending", "slow_down"):
            await conn.execute(
                "UPDATE oauth_device_codes SET last_polled_at = $2, interval_s = $3 WHERE id = $1",
                row["id"],
                row["now"],
                decision.interval_s,
            )
        return PollResult(decision)


@dataclass(frozen=True)
class RefreshResult:
    outcome: Literal["ok", "invalid", "reused", "invalid_scope"]
    tokens: TokenSet | None = None
    revoked: tuple[str, ...] = ()


async def refresh(
    pool: asyncpg.Pool,
    refresh_token: str,
    *,
    client_id: str | None,
    scopes: Sequence[str] | None,
    settings: OAuthSettings,
) -> RefreshResult:
    """Rotate a refresh token: the old one stops working, a new access and refresh token come
    back (optionally with fewer scopes). Presenting a rotated-away refresh token again means
    it was copied, so the whole grant is revoked (OAuth 2.0 Security BCP §4.14)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """SELECT *, now() AS now FROM oauth_tokens
               WHERE token_hash = $1 AND kind = 'refresh' FOR UPDATE""",
            code_hash(refresh_token),
        )
        if row is None or (client_id is not None and client_id != row["client_id"]):
            return RefreshResult("invalid")
        if row["revoked_at"] is not None:
            revoked = await _revoke_grant(conn, row["grant_id"])
            return RefreshResult("reused", revoked=revoked)
        if row["expires_at"] <= row["now"]:
            return RefreshResult("invalid")
        granted = tuple(sorted(row["scopes"]))
        if scopes is not None:
            if not set(scopes) <= set(granted):
                return RefreshResult("invalid_scope")
            granted = tuple(sorted(set(scopes)))
        await conn.execute("UPDATE oauth_tokens SET revoked_at = now() WHERE id = $1", row["id"])
        tokens = await _issue(
            conn,
            org_id=row["org_id"],
            user_id=row["user_id"],
            client_id=row["client_id"],
            scopes=granted,
            grant_id=row["grant_id"],
            settings=settings,
        )
        return RefreshResult("ok", tokens, revoked=(row["id"],))


async def _revoke_grant(conn: Conn, grant_id: str) -> tuple[str, ...]:
    """The grant's tokens, and the keys its non-admin tokens minted (which must not outlive
    it); returns every id revoked, for the caches."""
    rows = await conn.fetch(
        """UPDATE oauth_tokens SET revoked_at = now()
           WHERE grant_id = $1 AND revoked_at IS NULL RETURNING id""",
        grant_id,
    )
    keys = await conn.fetch(
        """UPDATE api_keys SET revoked_at = now()
           WHERE grant_id = $1 AND revoked_at IS NULL RETURNING id""",
        grant_id,
    )
    return tuple(r["id"] for r in [*rows, *keys])


async def revoke(pool: asyncpg.Pool, token: str) -> tuple[str, ...]:
    """RFC 7009: revoking a refresh token revokes its whole grant (the access tokens issued
    from it too); an access token goes alone. Returns the ids revoked."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT id, kind, grant_id FROM oauth_tokens WHERE token_hash = $1",
            code_hash(token),
        )
        if row is None:
            return ()
        if row["kind"] == "refresh":
            return await _revoke_grant(conn, row["grant_id"])
        await conn.execute(
            "UPDATE oauth_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
            row["id"],
        )
        return (row["id"],)


async def revoke_grant_for_org(pool: asyncpg.Pool, org_id: str, grant_id: str) -> tuple[str, ...]:
    """The console's "sign out this CLI": only the org's own grants."""
    async with pool.acquire() as conn, conn.transaction():
        owned = await conn.fetchval(
            "SELECT 1 FROM oauth_tokens WHERE org_id = $1 AND grant_id = $2 LIMIT 1",
            org_id,
            grant_id,
        )
        return () if owned is None else await _revoke_grant(conn, grant_id)
