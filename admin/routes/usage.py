"""`GET /v1/usage`: the caller's org's token usage in time buckets."""

from __future__ import annotations

from aiohttp import web

from admin.usage import UsageParams, query_usage
from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.http import json_response
from voltcore.validation import parse_query

routes = web.RouteTableDef()


@routes.get("/v1/usage")
async def get_usage(request: web.Request) -> web.Response:
    params = parse_query(request, UsageParams)
    page = await query_usage(request.app[POOL], request[PRINCIPAL].org_id, params)
    return json_response(page)
