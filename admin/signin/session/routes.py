"""`POST /auth/logout`, a form carrying the session's CSRF token: the session is revoked and its
cookie cleared. Never a GET, and never without the token: a link or a cross-site form on
another page must not be able to sign a user out."""

from __future__ import annotations

from aiohttp import web

from admin.signin.session.request import SESSION_COOKIE, csrf_ok, current_session, signed_out
from admin.signin.session.store import end_session
from admin.signin.web import redirect
from voltcore.appkeys import POOL
from voltcore.errors import PermissionDenied
from voltcore.http import public

routes = web.RouteTableDef()


@routes.post("/auth/logout")
@public
async def logout(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    if session is not None:
        form = await request.post()
        if not csrf_ok(session, form.get("csrf_token")):
            raise PermissionDenied(
                "Missing or wrong CSRF token.", param="csrf_token", code="csrf_failed"
            )
        await end_session(request.app[POOL], request.cookies[SESSION_COOKIE])
    # Without a live session there is nothing to end: clearing a stale cookie is harmless.
    response = redirect("/console/signed-out")
    signed_out(request, response)
    return response
