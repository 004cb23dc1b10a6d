"""The console session behind a request: its cookie, looked up (never cached, so logout and
expiry hold at once), and the principal it stands for, recorded in the audit log; the checks a
console form that changes something passes."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from admin.signin.session.store import Session, load_session
from admin.signin.web import clear_cookie, set_cookie
from voltcore.appkeys import POOL, PRINCIPAL, SETTINGS
from voltcore.errors import AuthenticationFailed, PermissionDenied

SESSION_COOKIE = "volt_session"


async def current_session(request: web.Request) -> Session | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or len(cookie) > 128:
        return None
    return await _load(request, cookie)


async def _load(request: web.Request, cookie: str) -> Session | None:
    session = await load_session(request.app[POOL], cookie, request.app[SETTINGS].trust_domain)
    if session is not None:
        request[PRINCIPAL] = session.principal
    return session


async def signed_in(
    request: web.Request, response: web.StreamResponse, cookie: str, ttl_s: int
) -> None:
    """A session just opened: the browser gets its cookie, and the audit log records who
    signed in."""
    await _load(request, cookie)
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=ttl_s)


def signed_out(request: web.Request, response: web.StreamResponse) -> None:
    clear_cookie(response, request, SESSION_COOKIE)


def csrf_ok(session: Session, submitted: object) -> bool:
    """The form's token is the session's (constant time): a cross-site form cannot know it."""
    return isinstance(submitted, str) and hmac.compare_digest(
        submitted.encode(), session.csrf_token.encode()
    )


async def form_for_write(request: web.Request) -> tuple[Session, Any]:
    """A console form that changes something: signed in, the session's CSRF token, and a
    role with `write`. Usage: `session, form = await form_for_write(request)`."""
    session = await current_session(request)
    if session is None:
        raise AuthenticationFailed("Sign in to the console first.", code="not_signed_in")
    form = await request.post()
    if not csrf_ok(session, form.get("csrf_token")):
        raise PermissionDenied(
            "Missing or wrong CSRF token.", param="csrf_token", code="csrf_failed"
        )
    session.principal.require_scope("write")
    return session, form
