"""Sign-in's place in the admin app: the device flow, OIDC sign-in and sign-out, with their
settings. Usage: `install(app)`; tests may replace `app[OAUTH_SETTINGS]` and
`app[OIDC_SETTINGS]` before the app starts, since `signin_ctx` reads them only then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from admin.signin.appkeys import DEVICE_LIMITER, OAUTH_SETTINGS, OIDC_CLIENTS, OIDC_SETTINGS
from admin.signin.device import routes as device
from admin.signin.device.config import OAuthSettings
from admin.signin.oidc import routes as oidc
from admin.signin.oidc.client import OidcClient
from admin.signin.oidc.config import OidcSettings
from admin.signin.session import routes as session
from scheduler.ratelimit import WindowLimiter


@dataclass(frozen=True)
class SigninSettings:
    """Usage: `SigninSettings()` reads `VOLT_OAUTH_*` and `VOLT_OIDC_*`."""

    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    oidc: OidcSettings = field(default_factory=OidcSettings)


def install(app: web.Application, settings: SigninSettings | None = None) -> None:
    settings = settings or SigninSettings()
    app[OAUTH_SETTINGS] = settings.oauth
    app[OIDC_SETTINGS] = settings.oidc
    app.cleanup_ctx.append(signin_ctx)
    for module in (device, oidc, session):
        app.router.add_routes(module.routes)


async def signin_ctx(app: web.Application) -> AsyncIterator[None]:
    """The device-code limiter is per process (so per replica): a brake on floods, not a
    quota. One HTTP session talks to every IdP."""
    oauth, oidc_settings = app[OAUTH_SETTINGS], app[OIDC_SETTINGS]
    app[DEVICE_LIMITER] = WindowLimiter(oauth.device_codes_per_window, oauth.device_code_window_s)
    timeout = aiohttp.ClientTimeout(total=oidc_settings.http_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        app[OIDC_CLIENTS] = {p.name: OidcClient(http, p) for p in oidc_settings.providers}
        yield
