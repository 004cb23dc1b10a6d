"""The volt-admin aiohttp application."""

from __future__ import annotations

from aiohttp import web

from admin.routes import api_keys, audit, ops, orgs, usage
from voltcore.appkeys import METRICS, SETTINGS
from voltcore.config import Settings
from voltcore.http import auth_middleware, errors_middleware, observe_middleware
from voltcore.lifecycle import auth_ctx, database_ctx, writers_ctx
from voltcore.metrics import Metrics


def create_app(settings: Settings) -> web.Application:
    """Usage: `web.run_app(create_app(Settings()))`."""
    app = web.Application(
        middlewares=[observe_middleware, errors_middleware, auth_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics(settings.service_name)
    app.cleanup_ctx.extend([database_ctx, writers_ctx, auth_ctx])
    for module in (ops, orgs, api_keys, usage, audit):
        app.router.add_routes(module.routes)
    return app
