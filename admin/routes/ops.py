"""Unauthenticated operational endpoints: liveness, readiness, Prometheus metrics, the spec."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voltcore.appkeys import METRICS, POOL, SETTINGS
from voltcore.http import json_response, public

routes = web.RouteTableDef()


@functools.cache
def _read(path: Path) -> bytes:
    return path.read_bytes()


@routes.get("/health/live")
@public
async def live(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/health/ready")
@public
async def ready(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(2):
            await request.app[POOL].fetchval("SELECT 1")
    except Exception as err:  # whatever the failure, the service cannot serve
        return json_response(
            {"status": "unavailable", "checks": {"database": type(err).__name__}}, status=503
        )
    return json_response({"status": "ok", "checks": {"database": "ok"}})


@routes.get("/metrics")
@public
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/openapi.yaml")
@public
async def openapi(request: web.Request) -> web.Response:
    return web.Response(
        body=_read(request.app[SETTINGS].openapi_path), content_type="application/yaml"
    )
