"""OIDC's place in the admin app: one HTTP session for talking to IdPs, one client each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from admin.oidc.client import OidcClient
from admin.oidc.config import OidcSettings

OIDC_SETTINGS = web.AppKey("oidc_settings", OidcSettings)
OIDC_CLIENTS = web.AppKey("oidc_clients", dict[str, OidcClient])


async def oidc_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[OIDC_SETTINGS]
    timeout = aiohttp.ClientTimeout(total=settings.http_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        app[OIDC_CLIENTS] = {p.name: OidcClient(http, p) for p in settings.providers}
        yield
