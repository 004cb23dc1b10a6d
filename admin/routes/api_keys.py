"""`/v1/orgs/{org_id}/api-keys`: list, create (secret shown once), get, revoke, rotate."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from pydantic import Field

from admin import tenancy
from voltcore.appkeys import AUTHENTICATOR, POOL, PRINCIPAL, SETTINGS
from voltcore.errors import InvalidRequest, PermissionDenied
from voltcore.http import json_response
from voltcore.keys import ALL_SCOPES, Scope
from voltcore.pagination import ListParams, keyset_page, list_object
from voltcore.principal import Principal
from voltcore.validation import RequestModel, parse_query, read_json

routes = web.RouteTableDef()


class KeyLimits(RequestModel):
    """A key's own limits, within its org's; unset, the key shares its org's window alone."""

    requests_per_minute: int | None = Field(None, ge=0, le=tenancy.MAX_RPM)
    tokens_per_minute: int | None = Field(None, ge=0, le=tenancy.MAX_TPM)


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[Scope] = Field(default_factory=lambda: list(ALL_SCOPES), min_length=1)
    expires_at: int | None = None
    limits: KeyLimits | None = None


class ApiKeyRotate(RequestModel):
    grace_period_seconds: int = Field(0, ge=0, le=7 * 86_400)


def _caller(request: web.Request) -> Principal:
    principal = request[PRINCIPAL]
    principal.require_org(request.match_info["org_id"])
    return principal


@routes.get("/v1/orgs/{org_id}/api-keys")
async def list_keys(request: web.Request) -> web.Response:
    principal = _caller(request)
    params = parse_query(request, ListParams)
    rows, has_more = await keyset_page(
        request.app[POOL], "api_keys", principal.org_id, limit=params.limit, after=params.after
    )
    now = dt.datetime.now(dt.UTC)
    return json_response(list_object([tenancy.key_object(r, now) for r in rows], has_more=has_more))


@routes.post("/v1/orgs/{org_id}/api-keys")
async def create_key(request: web.Request) -> web.Response:
    principal = _caller(request)
    body = await read_json(request, ApiKeyCreate)
    expires_at = None
    if body.expires_at is not None:
        expires_at = dt.datetime.fromtimestamp(body.expires_at, dt.UTC)
        if expires_at <= dt.datetime.now(dt.UTC):
            raise InvalidRequest(
                "'expires_at' must be in the future.", param="expires_at", code="invalid_value"
            )
    async with request.app[POOL].acquire() as conn:
        bounds = await tenancy.key_bounds(conn, principal)
        beyond = bounds.beyond(body.scopes)
        if beyond:
            # A credential cannot mint a more powerful one than itself.
            raise PermissionDenied(
                f"Cannot grant scopes this credential lacks: {beyond}.", param="scopes"
            )
        if bounds.expires_at is not None:
            # A CLI's sign-in must not leave behind a key that outlives it.
            if expires_at is None:
                expires_at = bounds.expires_at
            elif expires_at > bounds.expires_at:
                raise PermissionDenied(
                    "A key created with this access token cannot outlive its sign-in, which "
                    f"ends at {int(bounds.expires_at.timestamp())}.",
                    param="expires_at",
                    code="exceeds_grant",
                )
        asked = body.limits or KeyLimits()
        limits = await tenancy.check_key_limits(
            conn,
            principal,
            request.app[SETTINGS].tiers,
            tenancy.LimitValues(asked.requests_per_minute, asked.tokens_per_minute),
        )
        new = await tenancy.create_api_key(
            conn,
            principal.org_id,
            name=body.name,
            scopes=body.scopes,
            expires_at=expires_at,
            created_by=principal.subject,
            grant_id=bounds.grant_id,
            limits=limits,
        )
    return json_response(new.object(), status=201)


@routes.get("/v1/orgs/{org_id}/api-keys/{key_id}")
async def get_key(request: web.Request) -> web.Response:
    principal = _caller(request)
    row = await tenancy.get_api_key(
        request.app[POOL], principal.org_id, request.match_info["key_id"]
    )
    return json_response(tenancy.key_object(row))


@routes.delete("/v1/orgs/{org_id}/api-keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    principal = _caller(request)
    row = await tenancy.revoke_api_key(
        request.app[POOL], principal.org_id, request.match_info["key_id"]
    )
    # Other processes drop it on the trigger's NOTIFY; this one must not wait for the echo.
    request.app[AUTHENTICATOR].forget(row["id"])
    return json_response(tenancy.key_object(row))


@routes.post("/v1/orgs/{org_id}/api-keys/{key_id}/rotate")
async def rotate_key(request: web.Request) -> web.Response:
    principal = _caller(request)
    body = await read_json(request, ApiKeyRotate, allow_empty=True)
    new = await tenancy.rotate_api_key(
        request.app[POOL],
        principal,
        request.match_info["key_id"],
        grace=dt.timedelta(seconds=body.grace_period_seconds),
    )
    request.app[AUTHENTICATOR].forget(request.match_info["key_id"])
    return json_response(new.object(), status=201)
