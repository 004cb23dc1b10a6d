"""`/v1/orgs/{org_id}/limits`: an org's requests and tokens per minute, which Spark enforces
(inference/ratelimit.py). The org reads them and may lower them below its ceiling (and raise
them back to it); only the operator raises a ceiling (`volt-admin limits`)."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from admin import tenancy
from voltcore.appkeys import AUTHENTICATOR, POOL, PRINCIPAL, SETTINGS
from voltcore.http import json_response
from voltcore.validation import RequestModel, read_json

routes = web.RouteTableDef()


class LimitsUpdate(RequestModel):
    """Each field given is set (null: back to the ceiling); a field left out is unchanged."""

    requests_per_minute: int | None = Field(None, ge=0, le=tenancy.MAX_RPM)
    tokens_per_minute: int | None = Field(None, ge=0, le=tenancy.MAX_TPM)


@routes.get("/v1/orgs/{org_id}/limits")
async def get_limits(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    principal.require_org(request.match_info["org_id"])
    row = await tenancy.get_org(request.app[POOL], principal.org_id)
    return json_response(tenancy.limits_object(row, request.app[SETTINGS].tiers))


@routes.patch("/v1/orgs/{org_id}/limits")
async def update_limits(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    principal.require_org(request.match_info["org_id"])
    body = await read_json(request, LimitsUpdate)
    tiers = request.app[SETTINGS].tiers
    row = await tenancy.update_org_limits(
        request.app[POOL],
        principal.org_id,
        tiers,
        tenancy.LimitValues(body.requests_per_minute, body.tokens_per_minute),
        body.model_fields_set,
    )
    # Every process's cached principals carry the org's limits: the orgs trigger tells the
    # others; this one must not wait for the echo.
    request.app[AUTHENTICATOR].forget()
    return json_response(tenancy.limits_object(row, tiers))
