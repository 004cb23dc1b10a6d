"""Unauthenticated operational endpoints: liveness, readiness, Prometheus metrics, the spec."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voltcore.appkeys import METRICS, POOL, READY_CHECKS, SETTINGS, STARTING
from voltcore.http import json_response, public

routes = web.RouteTableDef()


@functools.cache
def _read(path: Path) -> bytes:
    return path.read_bytes()


@routes.get("/health/live")
@public
async def live(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def database_check(app: web.Application) -> str:
    try:
        async with asyncio.timeout(2):
            await app[POOL].fetchval("SELECT 1")
    except Exception as err:  # whatever the failure, the service cannot serve
        return f"unreachable ({type(err).__name__})"
    return "ok"


@routes.get("/health/ready")
@public
async def ready(request: web.Request) -> web.Response:
    """Ready when every check of this process (database, engines, ...) says "ok". What is
    still starting in the background is named but does not hold the rest back: Spark serves
    while Forge's lab builds, and Forge's own routes say it is starting."""
    checks = {name: await check(request.app) for name, check in request.app[READY_CHECKS].items()}
    ok = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ok" if ok else "unavailable", "checks": checks}
    if starting := request.app[STARTING]:
        body["starting"] = dict(starting)
    return json_response(body, status=200 if ok else 503)


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
