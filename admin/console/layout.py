"""The frame every console page shares: the signed-in check, the header (org, who, sign out),
the nav bar, and the 404 page an id of another org (or of nothing) gets.

Usage:

    @routes.get("/console/leases")
    @console_page("leases")
    async def leases(request: web.Request, session: Session) -> Page: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote

from aiohttp import web

from admin.console.html import esc, hidden, message, page
from admin.signin.session.request import current_session, form_for_write
from admin.signin.session.store import Session
from admin.signin.web import redirect
from voltcore.errors import NotFound
from voltcore.http import public

# (nav key, path, label), in the nav bar's order.
NAV = (
    ("usage", "/console", "Usage"),
    ("keys", "/console/keys", "Keys and devices"),
    ("leases", "/console/leases", "Forge leases"),
    ("racks", "/console/racks", "Vault racks"),
    ("jobs", "/console/jobs", "Fine-tuning"),
)


@dataclass(frozen=True)
class Page:
    """What a console handler renders: the frame adds the header and nav."""

    title: str
    body: str
    status: int = 200


Response = web.StreamResponse
# A page's own part: its Page to frame, or a response of its own (a download, a redirect).
View = Callable[[web.Request, Session], Awaitable["Page | Response"]]
Handler = Callable[[web.Request], Awaitable[Response]]


def to_login(return_to: str) -> web.Response:
    return redirect(f"/auth/oidc/login?return_to={quote(return_to, safe='')}")


def nav(active: str) -> str:
    links = " ".join(
        f'<a id="nav-{key}" href="{path}"{" aria-current=page" if key == active else ""}>'
        f"{esc(label)}</a>"
        for key, path, label in NAV
    )
    return f'<nav aria-label="Console">{links}</nav>'


def frame(session: Session, active: str, content: Page) -> web.Response:
    header = (
        f"<header><h1 id=org>{esc(session.org_name)}</h1>"
        f'<form method=post action="/auth/logout">{hidden("csrf_token", session.csrf_token)}'
        f"<span id=who>{esc(session.email)} ({esc(session.role)})</span> "
        "<button id=logout>Sign out</button></form></header>"
    )
    return page(
        f"{content.title} · {session.org_name}",
        header + nav(active) + f"<main>{content.body}</main>",
        status=content.status,
    )


def not_found(what: str) -> Page:
    """Another org's id looks exactly like an id that does not exist."""
    return Page("Not found", f"<h2>Not found</h2>{message(what, error=True)}", status=404)


def _framed(view: View, active: str) -> Callable[[web.Request, Session], Awaitable[Response]]:
    async def run(request: web.Request, session: Session) -> Response:
        try:
            content = await view(request, session)
        except NotFound as err:
            content = not_found(err.message)
        if isinstance(content, Page):
            return frame(session, active, content)
        return content

    return run


def console_page(active: str) -> Callable[[View], Handler]:
    """A page for the signed-in session (else to sign-in and back), framed, with its own
    org's rows only: a store's NotFound becomes the 404 page, never another org's data.
    Public to the bearer middleware: the session cookie authenticates it."""

    def wrap(view: View) -> Handler:
        run = _framed(view, active)

        @wraps(view)
        async def handler(request: web.Request) -> web.StreamResponse:
            session = await current_session(request)
            if session is None:
                return to_login(request.path_qs)
            return await run(request, session)

        return public(handler)

    return wrap


def console_form(active: str) -> Callable[[View], Handler]:
    """A form that changes or hands out something (`form_for_write`: a session, its CSRF
    token, `write`), answered like a console page. The view reads the form it needs from
    `await request.post()` (already read, so cached)."""

    def wrap(view: View) -> Handler:
        run = _framed(view, active)

        @wraps(view)
        async def handler(request: web.Request) -> web.StreamResponse:
            session, _ = await form_for_write(request)
            return await run(request, session)

        return public(handler)

    return wrap
