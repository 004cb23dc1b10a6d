"""`/auth/logout` (a link or a form): the session is revoked and its cookie cleared."""

from __future__ import annotations

from aiohttp import web

from admin.signin.session.request import SESSION_COOKIE, signed_out
from admin.signin.session.store import end_session
from admin.signin.web import redirect
from voltcore.appkeys import POOL
from voltcore.http import public

routes = web.RouteTableDef()


async def _logout(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await end_session(request.app[POOL], cookie)
    response = redirect("/console/signed-out")
    signed_out(request, response)
    return response


@routes.get("/auth/logout")
@public
async def logout_link(request: web.Request) -> web.StreamResponse:
    return await _logout(request)


@routes.post("/auth/logout")
@public
async def logout(request: web.Request) -> web.StreamResponse:
    return await _logout(request)
