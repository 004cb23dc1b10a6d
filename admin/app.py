"""The volt-admin aiohttp application."""

from __future__ import annotations

from aiohttp import web

from admin.forge import routes as forge
from admin.forge.appkeys import FORGE_SETTINGS, forge_ctx
from admin.forge.config import ForgeSettings
from admin.routes import api_keys, audit, orgs, usage
from voltcore.config import Settings
from voltcore.service import base_app


def install(app: web.Application, forge_settings: ForgeSettings | None = None) -> None:
    """Add the control plane's routes (and Forge's reconciler) to a Volt app."""
    app[FORGE_SETTINGS] = forge_settings or ForgeSettings()
    app.cleanup_ctx.append(forge_ctx)
    for module in (orgs, api_keys, usage, audit, forge):
        app.router.add_routes(module.routes)


def create_app(settings: Settings) -> web.Application:
    """Usage: `web.run_app(create_app(Settings()))`."""
    app = base_app(settings)
    install(app)
    return app
