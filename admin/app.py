"""The volt-admin aiohttp application."""

from __future__ import annotations

from aiohttp import web

from admin.routes import api_keys, audit, orgs, usage
from voltcore.config import Settings
from voltcore.service import base_app


def install(app: web.Application) -> None:
    """Add the control plane's routes to a Volt app."""
    for module in (orgs, api_keys, usage, audit):
        app.router.add_routes(module.routes)


def create_app(settings: Settings) -> web.Application:
    """Usage: `web.run_app(create_app(Settings()))`."""
    app = base_app(settings)
    install(app)
    return app
