"""`GET /v1/usage` (Spark tokens), `/v1/usage/gpus` (Forge), `/v1/usage/racks` (Vault) and
`GET /v1/costs`: the caller's org's usage and what it cost, in time buckets."""

from __future__ import annotations

from aiohttp import web

from admin.forge.appkeys import FORGE_SETTINGS
from admin.metering import (
    GPUS,
    RACKS,
    CostsParams,
    GpuUsageParams,
    RackUsageParams,
    query_costs,
    query_metered,
)
from admin.usage import UsageParams, query_usage
from admin.vault.appkeys import VAULT_SETTINGS
from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.http import json_response
from voltcore.validation import parse_query

routes = web.RouteTableDef()


@routes.get("/v1/usage")
async def get_usage(request: web.Request) -> web.Response:
    params = parse_query(request, UsageParams)
    page = await query_usage(request.app[POOL], request[PRINCIPAL].org_id, params)
    return json_response(page)


# Metered from the lease and rack tables, which exist whether or not Forge or Vault is
# configured: usage stays readable on a deployment that turned a product off.
@routes.get("/v1/usage/gpus")
async def get_gpu_usage(request: web.Request) -> web.Response:
    params = parse_query(request, GpuUsageParams)
    page = await query_metered(request.app[POOL], request[PRINCIPAL].org_id, GPUS, params)
    return json_response(page)


@routes.get("/v1/usage/racks")
async def get_rack_usage(request: web.Request) -> web.Response:
    params = parse_query(request, RackUsageParams)
    page = await query_metered(request.app[POOL], request[PRINCIPAL].org_id, RACKS, params)
    return json_response(page)


@routes.get("/v1/costs")
async def get_costs(request: web.Request) -> web.Response:
    params = parse_query(request, CostsParams)
    currencies = {
        GPUS.product: request.app[FORGE_SETTINGS].currency,
        RACKS.product: request.app[VAULT_SETTINGS].currency,
    }
    page = await query_costs(request.app[POOL], request[PRINCIPAL].org_id, params, currencies)
    return json_response(page)
