"""The console's place in the admin app: its pages (one module per product) and the device
verification page. They need sign-in installed (`admin.signin.install`) for the session and
device-flow settings."""

from __future__ import annotations

from aiohttp import web

from admin.console import device, jobs, keys, leases, racks, routes, usage


def install(app: web.Application) -> None:
    for module in (usage, keys, leases, racks, jobs, device, routes):
        app.router.add_routes(module.routes)
