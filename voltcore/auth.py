"""API key format and authentication of a bearer credential to a principal.

A key is `volt_sk_live_` + 40 random base62 characters (238 bits) + a 6-character CRC32
checksum, so a mistyped or truncated key is rejected without touching the database and secret
scanners can recognise leaked keys. Only the SHA-256 of a key is stored; the key being
high-entropy, a fast hash is enough (no salt or stretching needed, as for GitHub's tokens).
OAuth access and refresh tokens (device flow) have the same shape under their own prefixes,
`volt_at_` and `volt_rt_`; an access token authenticates wherever a key does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from voltcore.db import Conn
from voltcore.errors import AuthenticationFailed, NotFound, PermissionDenied
from voltcore.ids import ALPHABET, random_base62, spiffe_id
from voltcore.writers import BatchWriter

KEY_PREFIX = "volt_sk_live_"
ACCESS_TOKEN_PREFIX = "volt_at_"  # noqa: S105 (a prefix, not a secret)
REFRESH_TOKEN_PREFIX = "volt_rt_"  # noqa: S105
_RANDOM_LEN = 40
_CHECK_LEN = 6
_SECRET_RE = re.compile(
    rf"^(volt_sk_live_|volt_at_|volt_rt_)([A-Za-z0-9]{{{_RANDOM_LEN}}})([A-Za-z0-9]{{{_CHECK_LEN}}})$"
)

Scope = Literal["read", "write"]
ALL_SCOPES: tuple[Scope, ...] = ("read", "write")


def _checksum(body: str) -> str:
    n = zlib.crc32(body.encode())
    out = ""
    for _ in range(_CHECK_LEN):
        n, r = divmod(n, len(ALPHABET))
        out = ALPHABET[r] + out
    return out


def generate_secret(prefix: str) -> str:
    """A fresh credential under one of the known prefixes (key, access or refresh token)."""
    body = random_base62(_RANDOM_LEN)
    return f"{prefix}{body}{_checksum(body)}"


def generate_key() -> str:
    return generate_secret(KEY_PREFIX)


def is_well_formed(key: str) -> bool:
    match = _SECRET_RE.match(key)
    return bool(match) and _checksum(match[2]) == match[3]  # type: ignore[index]


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def redact(key: str) -> str:
    prefix = next(
        (p for p in (ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX) if key.startswith(p)), KEY_PREFIX
    )
    return f"{prefix}...{key[-4:]}"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: always an org (and its SPIFFE ID), with the scopes granted."""

    org_id: str
    spiffe_id: str
    kind: Literal["api_key", "oauth_token", "session"]
    subject: str
    scopes: frozenset[str]
    tier: str
    api_key_id: str | None = None

    def require_scope(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(
                f"This credential lacks the '{scope}' scope required for this request.",
            )

    def require_org(self, org_id: str) -> None:
        """Another org's resources do not exist for this principal (404, not 403)."""
        if org_id != self.org_id:
            raise NotFound(f"No such organization: '{org_id}'.", param="org_id")


_MISSING = (
    "You didn't provide an API key. Provide it in the Authorization header using Bearer auth "
    "(Authorization: Bearer volt_sk_live_...)."
)


def bearer_token(header: str | None) -> str:
    if not header:
        raise AuthenticationFailed(_MISSING, code="missing_api_key")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "The Authorization header must be 'Bearer <API key>'.", code="invalid_authorization"
        )
    return token.strip()


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What authentication needs to know about a key (or an OAuth access token, whose id is
    then `key_id`), as read from the database."""

    key_id: str
    org_id: str
    tier: str
    scopes: frozenset[str]
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    kind: Literal["api_key", "oauth_token"] = "api_key"


async def load_access_token(pool: asyncpg.Pool, secret_hash: bytes) -> KeyRecord | None:
    """Only access tokens: a refresh token is good at the token endpoint and nowhere else."""
    row = await pool.fetchrow(
        """SELECT t.id, t.org_id, o.tier, t.scopes, t.expires_at, t.revoked_at
           FROM oauth_tokens t JOIN orgs o ON o.id = t.org_id
           WHERE t.token_hash = $1 AND t.kind = 'access'""",
        secret_hash,
    )
    if row is None:
        return None
    return KeyRecord(
        row["id"],
        row["org_id"],
        row["tier"],
        frozenset(row["scopes"]),
        row["expires_at"],
        row["revoked_at"],
        kind="oauth_token",
    )


async def load_key(pool: asyncpg.Pool, secret_hash: bytes) -> KeyRecord | None:
    row = await pool.fetchrow(
        """SELECT k.id, k.org_id, o.tier, k.scopes, k.expires_at, k.revoked_at
           FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.secret_hash = $1""",
        secret_hash,
    )
    if row is None:
        return None
    return KeyRecord(
        row["id"],
        row["org_id"],
        row["tier"],
        frozenset(row["scopes"]),
        row["expires_at"],
        row["revoked_at"],
    )


def key_status(
    revoked_at: dt.datetime | None, expires_at: dt.datetime | None, now: dt.datetime
) -> Literal["active", "revoked", "expired"]:
    """One rule for whether a key works, shared by authentication and the key API."""
    if revoked_at is not None and revoked_at <= now:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def principal_for(
    key: str, record: KeyRecord | None, *, trust_domain: str, now: dt.datetime
) -> Principal:
    """Pure: the principal a key stands for, or the 401 that says why it stands for none."""
    if record is None:
        if key.startswith(ACCESS_TOKEN_PREFIX):
            raise AuthenticationFailed(
                f"Incorrect access token provided: {redact(key)}.", code="invalid_token"
            )
        if key.startswith(REFRESH_TOKEN_PREFIX):
            raise AuthenticationFailed(
                "A refresh token is not a bearer credential; exchange it at /oauth/token.",
                code="invalid_token",
            )
        raise AuthenticationFailed(f"Incorrect API key provided: {redact(key)}.")
    status = key_status(record.revoked_at, record.expires_at, now)
    if status != "active":
        wording = "has been revoked" if status == "revoked" else "has expired"
        if record.kind == "oauth_token":
            raise AuthenticationFailed(f"This access token {wording}.", code=f"{status}_token")
        raise AuthenticationFailed(f"This API key {wording}.", code=f"{status}_api_key")
    return Principal(
        org_id=record.org_id,
        spiffe_id=spiffe_id(trust_domain, record.org_id),
        kind=record.kind,
        subject=record.key_id,
        scopes=record.scopes,
        tier=record.tier,
        api_key_id=record.key_id if record.kind == "api_key" else None,
    )


class KeyUseRecorder(BatchWriter[tuple[str, dt.datetime]]):
    """Records `last_used_at` of API keys and access tokens off the request path, at most once a
    minute per credential: a hot key must not turn every request into a row update."""

    name = "key_last_used"
    granularity = dt.timedelta(minutes=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: dict[str, dt.datetime] = {}

    def used(self, key_id: str, at: dt.datetime) -> None:
        last = self._seen.get(key_id)
        if last is None or at - last >= self.granularity:
            if len(self._seen) > 100_000:  # bound memory; forgetting only costs an extra update
                self._seen.clear()
            self._seen[key_id] = at
            self.add((key_id, at))

    async def _write(self, conn: Conn, batch: list[tuple[str, dt.datetime]]) -> None:
        ids, times = [k for k, _ in batch], [t for _, t in batch]
        for table in ("api_keys", "oauth_tokens"):  # ids are unique across both (prefixes)
            await conn.execute(
                f"""UPDATE {table} SET last_used_at = u.at
                    FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
                    WHERE {table}.id = u.id AND (last_used_at IS NULL OR last_used_at < u.at)""",
                ids,
                times,
            )
