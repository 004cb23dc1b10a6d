"""The console's place in the admin app: its pages and the device verification page. They
need sign-in installed (`admin.signin.install`) for the session and device-flow settings."""

from __future__ import annotations

from aiohttp import web

from admin.console import device, routes


def install(app: web.Application) -> None:
    for module in (routes, device):
        app.router.add_routes(module.routes)
