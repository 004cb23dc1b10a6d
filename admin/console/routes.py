"""The page after sign-out, the one console page without a session."""

from __future__ import annotations

from aiohttp import web

from admin.console.html import message, page
from voltcore.http import public

routes = web.RouteTableDef()


@routes.get("/console/signed-out")
@public
async def signed_out(request: web.Request) -> web.Response:
    return page(
        "Signed out",
        "<h1>Signed out</h1>"
        + message("You have signed out of the Volt console.")
        + '<p><a id=sign-in href="/auth/oidc/login">Sign in again</a></p>',
    )
