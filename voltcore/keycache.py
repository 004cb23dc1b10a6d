"""API-key (and OAuth access token) authentication with a cache that revocation clears within a
second everywhere.

Every process keeps resolved keys in memory and LISTENs on Postgres channel `volt_api_keys`,
which a trigger notifies on any change to a key. While the listening connection is down the
cache is bypassed (and cleared when it comes back), so a missed notification can never keep a
revoked key alive; expiry is checked at every use. A lookup stores its result only if no
invalidation arrived while it was in flight (a generation count), since what it read may be
older than the change the notification announced.

Well-formed keys the database does not know are remembered too (by hash, briefly), and a
client gets only so many such lookups per window: a flood of random keys must not hold the
pool's connections that every authenticated caller needs. Creating a key or token notifies
its hash, so a remembered "unknown" never outlives the key's creation.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from typing import Any, Literal

import asyncpg

from scheduler.limits import Overrides
from scheduler.ratelimit import WindowLimiter
from voltcore.errors import AuthenticationFailed, RateLimited
from voltcore.keys import ACCESS_TOKEN_PREFIX, hash_key, is_well_formed
from voltcore.principal import KeyRecord, Principal, principal_for

log = logging.getLogger(__name__)

CHANNEL = "volt_api_keys"
# A notification `+<hex sha256>` announces a new key or token (migration 0009); any other
# payload is the id of a changed one, or `*` for all.
CREATED_PREFIX = "+"


# What authentication reads of a credential. Only access tokens are loaded from oauth_tokens:
# a refresh token is good at the token endpoint and nowhere else. The limit overrides come along
# (migration 0011), so the rate limiter needs no query of its own; an access token has no limits
# of its own, only its org's.
_ORG_LIMITS = "o.rpm_ceiling, o.tpm_ceiling, o.rpm_limit, o.tpm_limit"
_LOAD = {
    "api_key": f"""SELECT k.id, k.org_id, o.tier, k.scopes, k.expires_at, k.revoked_at,
                          {_ORG_LIMITS}, k.rpm_limit AS key_rpm, k.tpm_limit AS key_tpm
                   FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.secret_hash = $1""",
    "oauth_token": f"""SELECT t.id, t.org_id, o.tier, t.scopes, t.expires_at, t.revoked_at,
                              {_ORG_LIMITS}, NULL::integer AS key_rpm, NULL::bigint AS key_tpm
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
        overrides=Overrides(
            org_ceiling_requests=row["rpm_ceiling"],
            org_ceiling_tokens=row["tpm_ceiling"],
            org_requests=row["rpm_limit"],
            org_tokens=row["tpm_limit"],
            key_requests=row["key_rpm"],
            key_tokens=row["key_tpm"],
        ),
    )


class KeyAuthenticator:
    """Usage: `auth = KeyAuthenticator(pool, trust_domain=...)`; `await auth.start()`;
    `principal = await auth.authenticate(key, client=addr)`; `await auth.close()`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        trust_domain: str,
        ttl_s: float = 300.0,
        unknown_ttl_s: float = 60.0,
        heartbeat_s: float = 0.5,
        max_entries: int = 100_000,
        failed_per_window: int = 30,
        failed_window_s: float = 60.0,
    ) -> None:
        self._pool = pool
        self._trust_domain = trust_domain
        self._ttl = ttl_s
        self._unknown_ttl = unknown_ttl_s
        self._heartbeat = heartbeat_s
        self._max = max_entries
        self._cache: dict[bytes, tuple[KeyRecord, float]] = {}
        self._unknown: dict[bytes, float] = {}
        # Bumped by every invalidation of known keys (`_generation`) and by every creation
        # (`_created`): a lookup that saw either move while it awaited keeps its answer to itself.
        self._generation = 0
        self._created = 0
        # Lookups that found nothing, per client; counted before the query (so a burst of
        # concurrent ones cannot all get through) and handed back when the key is found.
        self._failures = WindowLimiter(failed_per_window, failed_window_s)
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

    async def authenticate(self, key: str, *, client: str = "") -> Principal:
        """The principal `key` stands for; 401 when none, 429 when `client` (its address,
        `voltcore.clientaddr`) has had too many lookups of unknown keys lately."""
        if not is_well_formed(key):
            raise AuthenticationFailed("Malformed API key.", code="invalid_api_key")
        digest = hash_key(key)
        now = time.monotonic()
        record = self._cached(digest, now)
        if record is None and not self._known_unknown(digest, now):
            record = await self._load(key, digest, client, now)
        return principal_for(
            key, record, trust_domain=self._trust_domain, now=dt.datetime.now(dt.UTC)
        )

    async def _load(self, key: str, digest: bytes, client: str, now: float) -> KeyRecord | None:
        wait = self._failures.hit(client, now)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise RateLimited(
                "Too many requests with unknown API keys from this address; "
                f"retry in {seconds} seconds.",
                code="too_many_failed_authentications",
                headers={"Retry-After": str(seconds)},
            )
        generation, created = self._generation, self._created
        # OAuth access tokens live in their own table; both kinds share this cache and its
        # invalidation channel (the token table's trigger notifies with the token id).
        try:
            record = await load_record(self._pool, key)
        except BaseException:  # no answer (database away, client gone) is no failed attempt
            self._failures.refund(client)
            raise
        if record is not None:
            self._failures.refund(client)
            if self._listening and generation == self._generation:
                if len(self._cache) >= self._max:
                    self._cache.clear()
                self._cache[digest] = (record, time.monotonic())
        elif self._listening and created == self._created:
            if len(self._unknown) >= self._max:
                self._unknown.clear()
            self._unknown[digest] = time.monotonic()
        return record

    def forget(self, key_id: str | None = None) -> None:
        """Drop one key (or every key, and every remembered unknown) from this process's
        cache; a lookup in flight will not store what it read."""
        self._generation += 1
        if key_id is None:
            self._created += 1
            self._cache.clear()
            self._unknown.clear()
            return
        for digest in [d for d, (r, _) in self._cache.items() if r.key_id == key_id]:
            self._cache.pop(digest, None)

    def created(self, digest: bytes) -> None:
        """A key or token with this hash now exists: it is unknown no longer."""
        self._created += 1
        self._unknown.pop(digest, None)

    def _cached(self, digest: bytes, now: float) -> KeyRecord | None:
        if not self._listening:
            return None
        hit = self._cache.get(digest)
        if hit is None or now - hit[1] > self._ttl:
            return None
        return hit[0]

    def _known_unknown(self, digest: bytes, now: float) -> bool:
        if not self._listening:
            return False
        seen = self._unknown.get(digest)
        return seen is not None and now - seen <= self._unknown_ttl

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        text = str(payload)
        if not text.startswith(CREATED_PREFIX):
            self.forget(None if text == "*" else text)
            return
        try:
            self.created(bytes.fromhex(text[len(CREATED_PREFIX) :]))
        except ValueError:  # not a hash after all: forget everything rather than guess
            self.forget(None)

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await conn.add_listener(CHANNEL, self._on_notify)
                    try:
                        self.forget()  # whatever changed while deaf is forgotten
                        self._listening = True
                        backoff = 0.1
                        while True:  # a dead connection must be noticed, not assumed alive
                            await asyncio.sleep(self._heartbeat)
                            async with asyncio.timeout(self._heartbeat * 2):
                                await conn.fetchval("SELECT 1")
                    finally:
                        self._listening = False
                        self.forget()
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(CHANNEL, self._on_notify)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                log.warning("key invalidation listener lost", extra={"error": repr(err)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
