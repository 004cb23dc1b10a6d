"""Sign-ins in progress in Postgres, keyed by the SHA-256 of the `state` the browser carries
back, so the table alone completes no one's sign-in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg

from admin.signin.oidc.pkce import LoginSecrets


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def save_login(
    pool: asyncpg.Pool, provider: str, login: LoginSecrets, return_to: str, ttl_s: int
) -> None:
    await pool.execute(
        "DELETE FROM oidc_logins WHERE expires_at < now()"  # abandoned sign-ins
    )
    await pool.execute(
        """INSERT INTO oidc_logins (state_hash, provider, nonce, code_verifier, return_to,
                                    expires_at)
           VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))""",
        _digest(login.state),
        provider,
        login.nonce,
        login.verifier,
        return_to,
        float(ttl_s),
    )


@dataclass(frozen=True)
class PendingLogin:
    provider: str
    secrets: LoginSecrets
    return_to: str


async def take_login(pool: asyncpg.Pool, state: str) -> PendingLogin | None:
    """Single use: the row is gone once taken, so a replayed callback (same state, same
    nonce) finds nothing."""
    row = await pool.fetchrow(
        "DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING *, expires_at > now() AS live",
        _digest(state),
    )
    if row is None or not row["live"]:
        return None
    return PendingLogin(
        row["provider"], LoginSecrets(state, row["nonce"], row["code_verifier"]), row["return_to"]
    )
