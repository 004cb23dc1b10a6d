"""Where the service is reached from, cookies set accordingly (Secure over TLS), and the
redirects sign-in and the console answer with."""

from __future__ import annotations

from aiohttp import web

from voltcore.appkeys import SETTINGS


def redirect(location: str, status: int = 302) -> web.Response:
    """Never cached: where a sign-in or a form leads depends on the session."""
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


def public_base(request: web.Request) -> str:
    """`https://volt.example.com`: configured, or this request's own origin."""
    configured = request.app[SETTINGS].public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def served_over_tls(request: web.Request) -> bool:
    return request.secure or public_base(request).startswith("https://")


def set_cookie(
    response: web.StreamResponse,
    request: web.Request,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it, while the
    IdP's redirect back, a top-level GET, still does), Secure whenever served over TLS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="Lax",
        secure=served_over_tls(request),
    )


def clear_cookie(
    response: web.StreamResponse, request: web.Request, name: str, path: str = "/"
) -> None:
    set_cookie(response, request, name, "", max_age=0, path=path)
