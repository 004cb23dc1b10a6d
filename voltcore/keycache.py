"""API-key (and OAuth access token) authentication with a cache that revocation clears within a
second everywhere.

Every process keeps resolved keys in memory and LISTENs on Postgres channel `volt_api_keys`,
which a trigger notifies on any change to a key. While the listening connection is down the
cache is bypassed (and cleared when it comes back), so a missed notification can never keep a
revoked key alive; expiry is checked at every use.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any, Literal

import asyncpg

from voltcore.errors import AuthenticationFailed
from voltcore.keys import ACCESS_TOKEN_PREFIX, hash_key, is_well_formed
from voltcore.principal import KeyRecord, Principal, principal_for

log = logging.getLogger(__name__)

CHANNEL = "volt_api_keys"


# What authentication reads of a credential. Only access tokens are loaded from oauth_tokens:
# a refresh token is good at the token endpoint and nowhere else.
_LOAD = {
    "api_key": """SELECT k.id, k.org_id, o.tier, k.scopes, k.expires_at, k.revoked_at
                  FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.secret_hash = $1""",
    "oauth_token": """SELECT t.id, t.org_id, o.tier, t.scopes, t.expires_at, t.revoked_at
                      FROM oauth_tokens t JOIN orgs o ON o.id = t.org_id
                      WHERE t.token_hash = $1 AND t.kind = 'access'""",
}


async def load_record(pool: asyncpg.Pool, key: str) -> KeyRecord | None:
    """The database's record of a key or access token (by its hash), or None."""
    kind: Literal["api_key", "oauth_token"] = (
        "oauth_token" if key.startswith(ACCESS_TOKEN_PREFIX) else "api_key"
    )
    row = await pool.fetchrow(_LOAD[kind], hash_key(key))
    if row is None:
        return None
    return KeyRecord(
        row["id"],
        row["org_id"],
        row["tier"],
        frozenset(row["scopes"]),
        row["expires_at"],
        row["revoked_at"],
        kind=kind,
    )


class KeyAuthenticator:
    """Usage: `auth = KeyAuthenticator(pool, trust_domain=...)`; `await auth.start()`;
    `principal = await auth.authenticate(key)`; `await auth.close()`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        trust_domain: str,
        ttl_s: float = 300.0,
        heartbeat_s: float = 0.5,
        max_entries: int = 100_000,
    ) -> None:
        self._pool = pool
        self._trust_domain = trust_domain
        self._ttl = ttl_s
        self._heartbeat = heartbeat_s
        self._max = max_entries
        self._cache: dict[bytes, tuple[KeyRecord, float]] = {}
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._listening

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="key-invalidation")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def authenticate(self, key: str) -> Principal:
        if not is_well_formed(key):
            raise AuthenticationFailed("Malformed API key.", code="invalid_api_key")
        digest = hash_key(key)
        record = self._cached(digest)
        if record is None:
            # OAuth access tokens live in their own table; both kinds share this cache and its
            # invalidation channel (the token table's trigger notifies with the token id).
            record = await load_record(self._pool, key)
            if record is not None and self._listening:
                if len(self._cache) >= self._max:
                    self._cache.clear()
                self._cache[digest] = (record, time.monotonic())
        return principal_for(
            key, record, trust_domain=self._trust_domain, now=dt.datetime.now(dt.UTC)
        )

    def forget(self, key_id: str | None = None) -> None:
        """Drop one key (or every key) from this process's cache."""
        if key_id is None:
            self._cache.clear()
            return
        for digest in [d for d, (r, _) in self._cache.items() if r.key_id == key_id]:
            self._cache.pop(digest, None)

    def _cached(self, digest: bytes) -> KeyRecord | None:
        if not self._listening:
            return None
        hit = self._cache.get(digest)
        if hit is None or time.monotonic() - hit[1] > self._ttl:
            return None
        return hit[0]

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        self.forget(None if payload == "*" else str(payload))

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await conn.add_listener(CHANNEL, self._on_notify)
                    try:
                        self._cache.clear()  # whatever changed while deaf is forgotten
                        self._listening = True
                        backoff = 0.1
                        while True:  # a dead connection must be noticed, not assumed alive
                            await asyncio.sleep(self._heartbeat)
                            async with asyncio.timeout(self._heartbeat * 2):
                                await conn.fetchval("SELECT 1")
                    finally:
                        self._listening = False
                        self._cache.clear()
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(CHANNEL, self._on_notify)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                log.warning("key invalidation listener lost", extra={"error": repr(err)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
