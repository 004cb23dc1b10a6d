"""The application every Volt service starts from: middlewares, settings, metrics, database,
batched writers, authentication and the operational endpoints. Services add their routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from voltcore import ops
from voltcore.appkeys import METRICS, READY_CHECKS, SETTINGS, STARTING, ReadyCheck
from voltcore.config import Settings
from voltcore.http import auth_middleware, errors_middleware, observe_middleware
from voltcore.lifecycle import auth_ctx, database_ctx, writers_ctx
from voltcore.metrics import Metrics


def base_app(settings: Settings) -> web.Application:
    """Usage: `app = base_app(settings)`, then a service's `install(app)`."""
    app = web.Application(
        middlewares=[observe_middleware, errors_middleware, auth_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics(settings.service_name)
    checks: dict[str, ReadyCheck] = {"database": ops.database_check}
    app[READY_CHECKS] = checks
    app[STARTING] = {}
    app.cleanup_ctx.extend([database_ctx, writers_ctx, auth_ctx])
    app.router.add_routes(ops.routes)
    return app


def handler_options(settings: Settings) -> dict[str, Any]:
    """How every connection is served, by `run` and by the tests' servers alike."""
    return {
        "access_log": None,  # observe_middleware logs each request as JSON
        "keepalive_timeout": settings.idle_timeout_s,
        # A client that disconnects cancels its handler, which aborts its engine request.
        "handler_cancellation": True,
    }


def run(app: web.Application, settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully (cleanup contexts flush)."""
    import uvloop

    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        shutdown_timeout=15,
        loop=uvloop.new_event_loop(),
        **handler_options(settings),
    )
