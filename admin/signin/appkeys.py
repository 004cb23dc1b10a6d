"""Sign-in's place in the admin app: the device flow's and OIDC's settings (tests replace
them before the app starts), the device-code limiter, and one OIDC client per provider."""

from __future__ import annotations

from aiohttp import web

from admin.signin.device.config import OAuthSettings
from admin.signin.oidc.client import OidcClient
from admin.signin.oidc.config import OidcSettings
from scheduler.ratelimit import WindowLimiter

OAUTH_SETTINGS = web.AppKey("oauth_settings", OAuthSettings)
OIDC_SETTINGS = web.AppKey("oidc_settings", OidcSettings)
DEVICE_LIMITER = web.AppKey("oauth_device_limiter", WindowLimiter)
OIDC_CLIENTS = web.AppKey("oidc_clients", dict[str, OidcClient])
