"""Sign-in's place in the admin app: the device flow, OIDC sign-in, the console and the
verification page, with their settings (tests replace `app[OAUTH_SETTINGS]` and
`app[OIDC_SETTINGS]` before the app starts)."""

from __future__ import annotations

from aiohttp import web

from admin.console import device, routes
from admin.oauth import routes as oauth
from admin.oauth.config import OAUTH_SETTINGS, OAuthSettings, oauth_ctx
from admin.oidc import routes as oidc
from admin.oidc.appkeys import OIDC_SETTINGS, oidc_ctx
from admin.oidc.config import OidcSettings


def install_signin(app: web.Application) -> None:
    app[OAUTH_SETTINGS] = OAuthSettings()
    app[OIDC_SETTINGS] = OidcSettings()
    app.cleanup_ctx.extend([oauth_ctx, oidc_ctx])
    for module in (oauth, oidc, routes, device):
        app.router.add_routes(module.routes)
