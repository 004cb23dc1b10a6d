"""Console sessions in Postgres: opened at sign-in (with the user, created on first sign-in),
looked up by the SHA-256 of the cookie the browser holds (so the table alone lets no one in),
revoked at sign-out; and the wrong user codes a session entered."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from admin.signin.roles import ROLE_SCOPES, Role
from voltcore.ids import new_id, spiffe_id
from voltcore.principal import Principal


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class UnknownOrg(Exception):
    """The mapping names an org that does not exist (a configuration error)."""


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf_token: str


async def open_session(
    pool: asyncpg.Pool,
    *,
    org_id: str,
    email: str,
    role: Role,
    provider: str,
    ttl_s: int,
) -> NewSession:
    """The user (created on first sign-in, role refreshed from the IdP every time) and a
    fresh session for them."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with pool.acquire() as conn, conn.transaction():
        try:
            user = await conn.fetchrow(
                """INSERT INTO users (id, org_id, email, role) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (org_id, email) DO UPDATE SET role = EXCLUDED.role
                   RETURNING id""",
                new_id("user"),
                org_id,
                email,
                role,
            )
        except asyncpg.ForeignKeyViolationError as err:
            raise UnknownOrg(org_id) from err
        assert user is not None
        await conn.execute(
            """INSERT INTO console_sessions (id, session_hash, org_id, user_id, role, provider,
                                            csrf_token, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))""",
            new_id("sess"),
            _digest(cookie),
            org_id,
            user["id"],
            role,
            provider,
            csrf,
            float(ttl_s),
        )
    return NewSession(cookie, csrf)


@dataclass(frozen=True)
class Session:
    id: str
    org_id: str
    org_name: str
    user_id: str
    email: str
    role: Role
    csrf_token: str
    failed_codes: int
    failed_since: dt.datetime | None
    principal: Principal


async def load_session(pool: asyncpg.Pool, cookie: str, trust_domain: str) -> Session | None:
    row = await pool.fetchrow(
        """SELECT s.*, o.name AS org_name, o.tier, u.email FROM console_sessions s
           JOIN orgs o ON o.id = s.org_id JOIN users u ON u.id = s.user_id
           WHERE s.session_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()""",
        _digest(cookie),
    )
    if row is None:
        return None
    principal = Principal(
        org_id=row["org_id"],
        spiffe_id=spiffe_id(trust_domain, row["org_id"]),
        kind="session",
        subject=row["user_id"],
        scopes=ROLE_SCOPES[row["role"]],
        tier=row["tier"],
    )
    return Session(
        row["id"],
        row["org_id"],
        row["org_name"],
        row["user_id"],
        row["email"],
        row["role"],
        row["csrf_token"],
        row["failed_codes"],
        row["failed_since"],
        principal,
    )


async def end_session(pool: asyncpg.Pool, cookie: str) -> None:
    await pool.execute(
        "UPDATE console_sessions SET revoked_at = now() WHERE session_hash = $1 "
        "AND revoked_at IS NULL",
        _digest(cookie),
    )


_NEW_WINDOW = "failed_since IS NULL OR failed_since < now() - make_interval(secs => $2)"


async def reserve_code_attempt(
    pool: asyncpg.Pool, session_id: str, window_s: int, max_failures: int
) -> bool:
    """Count a user-code attempt as wrong before it is checked, in the one statement that
    checks the limit: concurrent attempts cannot all pass a check made before any of them
    counted. False (nothing counted) when the session has used up its window."""
    reserved = await pool.fetchval(
        f"""UPDATE console_sessions SET
               failed_codes = CASE WHEN {_NEW_WINDOW} THEN 1 ELSE failed_codes + 1 END,
               failed_since = CASE WHEN {_NEW_WINDOW} THEN now() ELSE failed_since END
           WHERE id = $1 AND (({_NEW_WINDOW}) OR failed_codes < $3)
           RETURNING id""",
        session_id,
        float(window_s),
        max_failures,
    )
    return reserved is not None


async def refund_code_attempt(pool: asyncpg.Pool, session_id: str) -> None:
    """The reserved attempt named a pending code after all: it was not a wrong one."""
    await pool.execute(
        "UPDATE console_sessions SET failed_codes = greatest(failed_codes - 1, 0) WHERE id = $1",
        session_id,
    )


async def record_code_failure(pool: asyncpg.Pool, session_id: str, window_s: int) -> None:
    """Count a wrong user code; a new window starts once the last one has passed."""
    await pool.execute(
        """UPDATE console_sessions SET
               failed_codes = CASE WHEN failed_since IS NULL
                   OR failed_since < now() - make_interval(secs => $2) THEN 1
                   ELSE failed_codes + 1 END,
               failed_since = CASE WHEN failed_since IS NULL
                   OR failed_since < now() - make_interval(secs => $2) THEN now()
                   ELSE failed_since END
           WHERE id = $1""",
        session_id,
        float(window_s),
    )
