"""`/v1/me` (who am I) and `/v1/orgs/{org_id}`."""

from __future__ import annotations

from aiohttp import web

from admin import tenancy
from voltcore.appkeys import POOL, PRINCIPAL, SETTINGS
from voltcore.http import json_response

routes = web.RouteTableDef()


@routes.get("/v1/me")
async def me(request: web.Request) -> web.Response:
    p = request[PRINCIPAL]
    return json_response(
        {
            "object": "principal",
            "org_id": p.org_id,
            "spiffe_id": p.spiffe_id,
            "kind": p.kind,
            "api_key_id": p.api_key_id,
            "scopes": sorted(p.scopes),
        }
    )


@routes.get("/v1/orgs/{org_id}")
async def get_org(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    principal.require_org(request.match_info["org_id"])
    row = await tenancy.get_org(request.app[POOL], principal.org_id)
    return json_response(tenancy.org_object(row, request.app[SETTINGS].trust_domain))
