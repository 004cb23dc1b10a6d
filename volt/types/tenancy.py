"""The caller, organizations, API keys, audit logs and usage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypedDict

from volt.types.common import VoltModel

Scope = Literal["read", "write"]
UsageWidth = Literal["1m", "1h", "1d"]
UsageGroup = Literal["model", "api_key", "endpoint"]


class Principal(VoltModel):
    """The authenticated caller."""

    object: Literal["principal"]
    org_id: str
    spiffe_id: str
    kind: Literal["api_key", "oauth_token", "session"]
    api_key_id: str | None
    scopes: list[Scope]


class Organization(VoltModel):
    id: str
    object: Literal["organization"]
    name: str
    tier: Literal["free", "standard", "enterprise"]
    home_metro: str
    spiffe_id: str
    created_at: int


class RateLimit(VoltModel):
    """One of an org's limits: what Spark enforces per 60 seconds, the most the org may set
    (`ceiling`, which only the operator changes), and what decides it."""

    limit: int
    ceiling: int
    source: Literal["tier", "operator", "org"]


class OrganizationLimits(VoltModel):
    """An org's rate limits (`client.orgs.limits.retrieve()`)."""

    object: Literal["organization.limits"]
    org_id: str
    tier: Literal["free", "standard", "enterprise"]
    requests_per_minute: RateLimit
    tokens_per_minute: RateLimit


class ApiKeyLimits(VoltModel):
    """A key's own limits, each None where unset (the key then shares its org's)."""

    requests_per_minute: int | None
    tokens_per_minute: int | None


class ApiKeyLimitsParam(TypedDict, total=False):
    """`limits=` of `client.api_keys.create`: each at most the org's limit."""

    requests_per_minute: int | None
    tokens_per_minute: int | None


class ApiKey(VoltModel):
    """An org API key, without its secret."""

    id: str
    object: Literal["api_key"]
    org_id: str
    name: str
    redacted_value: str
    scopes: list[Scope]
    status: Literal["active", "expired", "revoked"]
    created_at: int
    expires_at: int | None
    last_used_at: int | None
    revoked_at: int | None
    replaced_by: str | None
    limits: ApiKeyLimits


class ApiKeyWithSecret(ApiKey):
    """A new key with its secret, shown only once."""

    secret: str


class AuditLog(VoltModel):
    id: str
    object: Literal["audit_log"]
    seq: int
    time: int
    principal: str | None
    spiffe_id: str | None
    method: str
    route: str
    status: int
    request_id: str
    hash: str


class UsageResult(VoltModel):
    object: Literal["usage.result"]
    input_tokens: int
    output_tokens: int
    input_cached_tokens: int
    num_model_requests: int
    model: str | None
    api_key_id: str | None
    endpoint: str | None


class UsageBucket(VoltModel):
    object: Literal["bucket"]
    start_time: int
    end_time: int
    results: list[UsageResult]


class UsagePage(VoltModel):
    """Usage buckets, oldest first; pass `next_page` as `page` for more."""

    object: Literal["page"]
    data: list[UsageBucket]
    has_more: bool
    next_page: str | None

    def next_params(self) -> dict[str, str] | None:
        return {"page": self.next_page} if self.has_more and self.next_page else None


class UsageParams(TypedDict, total=False):
    """The optional parameters of `client.usage.retrieve` and `client.usage.list`."""

    end_time: int | None
    bucket_width: UsageWidth | None
    group_by: Sequence[UsageGroup] | None
    models: Sequence[str] | None
    api_key_ids: Sequence[str] | None
    limit: int | None
    page: str | None
