"""`client.me`, `client.orgs` (and `client.orgs.limits`), `client.api_keys`,
`client.audit_logs`, `client.usage`.

Org-scoped methods take `org_id`; left out, it is the caller's own org (looked up once with
`GET /v1/me`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Unpack

from volt._call import Call, body, org_path, path_id
from volt._resource import Executor, M, Resource, endpoint, paginated
from volt.resources.billing import GpuUsage, RackUsage
from volt.types.common import CursorPage
from volt.types.tenancy import (
    ApiKey,
    ApiKeyLimitsParam,
    ApiKeyWithSecret,
    AuditLog,
    Organization,
    OrganizationLimits,
    Principal,
    Scope,
    UsagePage,
    UsageParams,
)


class Me(Resource[M]):
    @endpoint
    def retrieve(self) -> Call[Principal]:
        """The calling principal. Usage: `client.me.retrieve().org_id`."""
        return Call("GET", "/v1/me", Principal)


class Limits(Resource[M]):
    @endpoint
    def retrieve(self, *, org_id: str | None = None) -> Call[OrganizationLimits]:
        """Requests and tokens per minute, each with its ceiling.

        Usage: `client.orgs.limits.retrieve().tokens_per_minute.limit`.
        """
        return Call("GET", org_path(org_id, "/limits"), OrganizationLimits)

    @endpoint
    def update(
        self,
        *,
        requests_per_minute: int | Literal["ceiling"] | None = None,
        tokens_per_minute: int | Literal["ceiling"] | None = None,
        org_id: str | None = None,
    ) -> Call[OrganizationLimits]:
        """Set the org's own limits, at most its ceilings (else `PermissionDeniedError`);
        `"ceiling"` puts one back to its ceiling, None leaves it as it is.

        Usage: `client.orgs.limits.update(tokens_per_minute=100_000)`.
        """
        json: dict[str, int | None] = {}
        for name, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
        ):
            if value is not None:  # null in the body is "back to the ceiling"
                json[name] = None if value == "ceiling" else value
        return Call("PATCH", org_path(org_id, "/limits"), OrganizationLimits, json=json)


class Orgs(Resource[M]):
    def __init__(self, client: Executor[M]) -> None:
        super().__init__(client)
        self.limits: Limits[M] = Limits(client)

    @endpoint
    def retrieve(self, org_id: str | None = None) -> Call[Organization]:
        """Usage: `client.orgs.retrieve().tier`."""
        return Call("GET", org_path(org_id), Organization)


class ApiKeys(Resource[M]):
    @paginated
    def list(
        self, *, org_id: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Call[CursorPage[ApiKey]]:
        """Newest first, never with secrets. Usage: `for key in client.api_keys.list(): ...`."""
        params = body(limit=limit, after=after)
        return Call("GET", org_path(org_id, "/api-keys"), CursorPage[ApiKey], params=params)

    @endpoint
    def create(
        self,
        *,
        name: str,
        scopes: Sequence[Scope] | None = None,
        expires_at: int | None = None,
        limits: ApiKeyLimitsParam | None = None,
        org_id: str | None = None,
    ) -> Call[ApiKeyWithSecret]:
        """A new key; its `secret` is shown only in this response. `limits`: its own requests
        and tokens per minute, each at most its org's.

        Usage: `client.api_keys.create(name="ci", scopes=["read"]).secret`,
        `client.api_keys.create(name="batch", limits={"tokens_per_minute": 50_000})`.
        """
        json = body(
            name=name,
            scopes=list(scopes) if scopes else None,
            expires_at=expires_at,
            limits=dict(limits) if limits else None,
        )
        return Call("POST", org_path(org_id, "/api-keys"), ApiKeyWithSecret, json=json)

    @endpoint
    def retrieve(self, key_id: str, *, org_id: str | None = None) -> Call[ApiKey]:
        """Usage: `client.api_keys.retrieve("key_...").status`."""
        return Call("GET", org_path(org_id, f"/api-keys/{path_id(key_id)}"), ApiKey)

    @endpoint
    def revoke(self, key_id: str, *, org_id: str | None = None) -> Call[ApiKey]:
        """Revoke at once (idempotent). Usage: `client.api_keys.revoke("key_...")`."""
        return Call("DELETE", org_path(org_id, f"/api-keys/{path_id(key_id)}"), ApiKey)

    @endpoint
    def rotate(
        self,
        key_id: str,
        *,
        grace_period_seconds: int | None = None,
        org_id: str | None = None,
    ) -> Call[ApiKeyWithSecret]:
        """A replacement key; the old one works for `grace_period_seconds` more (0: none).

        Usage: `client.api_keys.rotate("key_...", grace_period_seconds=3600).secret`.
        """
        return Call(
            "POST",
            org_path(org_id, f"/api-keys/{path_id(key_id)}/rotate"),
            ApiKeyWithSecret,
            json=body(grace_period_seconds=grace_period_seconds),
        )


class AuditLogs(Resource[M]):
    @paginated
    def list(
        self, *, org_id: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Call[CursorPage[AuditLog]]:
        """Newest first. Usage: `for entry in client.audit_logs.list(limit=100): ...`."""
        params = body(limit=limit, after=after)
        return Call("GET", org_path(org_id, "/audit-logs"), CursorPage[AuditLog], params=params)


def _usage(start_time: int, params: UsageParams) -> Call[UsagePage]:
    query: dict[str, Any] = {"start_time": start_time, **params}
    for name in ("group_by", "models", "api_key_ids"):
        # Sent as repeated query parameters; an empty list is the same as none.
        query[name] = list(query.get(name) or ()) or None
    return Call("GET", "/v1/usage", UsagePage, params=body(**query))


class Usage(Resource[M]):
    """Token usage; `gpus` and `racks` are Forge's and Vault's (`volt.resources.billing`)."""

    def __init__(self, client: Executor[M]) -> None:
        super().__init__(client)
        self.gpus: GpuUsage[M] = GpuUsage(client)
        self.racks: RackUsage[M] = RackUsage(client)

    @endpoint
    def retrieve(self, *, start_time: int, **params: Unpack[UsageParams]) -> Call[UsagePage]:
        """One page of token usage in time buckets, oldest first (pass `next_page` as `page`
        for more, or use `list`, which walks every page).

        Usage: `client.usage.retrieve(start_time=int(time.time()) - 86400, group_by=["model"])`.
        """
        return _usage(start_time, params)

    @paginated
    def list(self, *, start_time: int, **params: Unpack[UsageParams]) -> Call[UsagePage]:
        """Token usage like `retrieve`, as a paginated list: iterating it (`async for` on
        `AsyncVolt`) yields every bucket of every page, following `next_page`.

        Usage: `for bucket in client.usage.list(start_time=t, bucket_width="1h"): ...`.
        """
        return _usage(start_time, params)
