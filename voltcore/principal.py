"""Who is calling: the principal a bearer credential stands for, and the pure rules that
decide it from what the database knows of the credential (`voltcore.keycache` reads that)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from scheduler.limits import Overrides
from voltcore.errors import AuthenticationFailed, NotFound, PermissionDenied
from voltcore.ids import spiffe_id
from voltcore.keys import ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, Scope, redact


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
    # Limits beyond the tier (operator grant, the org's own cap, the key's cap): what Spark's
    # rate limiter resolves against the tier. A console session keeps the default.
    overrides: Overrides = field(default_factory=Overrides)

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
    overrides: Overrides = field(default_factory=Overrides)


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
        overrides=record.overrides,
    )
