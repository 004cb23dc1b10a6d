"""`/auth/oidc/login`, `/auth/oidc/callback` and `/auth/logout`: console sign-in with the
authorization code flow, PKCE (S256), state and nonce, and sign-out."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from pydantic import Field

from admin.console.session import SESSION_COOKIE
from admin.oidc import store
from admin.oidc.appkeys import OIDC_CLIENTS, OIDC_SETTINGS
from admin.oidc.client import OidcClient, ProviderError, TokenRejected
from admin.oidc.mapping import Unmapped, map_claims
from admin.oidc.pkce import LoginSecrets, safe_return_to
from admin.oidc.web import clear_cookie, public_base, set_cookie
from voltcore.appkeys import POOL, PRINCIPAL, SETTINGS
from voltcore.errors import (
    AuthenticationFailed,
    InvalidRequest,
    PermissionDenied,
    ServiceUnavailable,
)
from voltcore.http import public
from voltcore.validation import RequestModel, parse_query

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

# Binds the callback to the browser that started the sign-in (no login CSRF); scoped to the
# callback's path so it travels nowhere else.
STATE_COOKIE = "volt_oidc_state"
_STATE_PATH = "/auth/oidc"


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def redirect_uri(request: web.Request) -> str:
    return f"{public_base(request)}/auth/oidc/callback"


def _client(request: web.Request, name: str | None) -> OidcClient:
    settings = request.app[OIDC_SETTINGS]
    if not settings.providers:
        raise ServiceUnavailable(
            "Console sign-in is not configured (no OIDC provider).", code="oidc_not_configured"
        )
    provider = settings.provider(name)
    if provider is None:
        raise InvalidRequest(
            f"Unknown identity provider: '{name}'.", param="provider", code="invalid_value"
        )
    return request.app[OIDC_CLIENTS][provider.name]


class LoginParams(RequestModel):
    provider: str | None = Field(None, max_length=32)
    return_to: str | None = Field(None, max_length=2048)


@routes.get("/auth/oidc/login")
@public
async def login(request: web.Request) -> web.StreamResponse:
    params = parse_query(request, LoginParams)
    client = _client(request, params.provider)
    secrets = LoginSecrets.new()
    ttl = request.app[OIDC_SETTINGS].login_ttl_s
    try:
        url = await client.authorization_url(secrets, redirect_uri(request))
    except ProviderError as err:
        log.warning("identity provider unavailable", extra={"error": str(err)})
        raise ServiceUnavailable(
            "The identity provider is unavailable.", code="idp_unavailable"
        ) from None
    await store.save_login(
        request.app[POOL], client.provider.name, secrets, safe_return_to(params.return_to), ttl
    )
    response = redirect(url)
    set_cookie(response, request, STATE_COOKIE, secrets.state, max_age=ttl, path=_STATE_PATH)
    return response


class CallbackParams(RequestModel):
    code: str | None = Field(None, max_length=4096)
    state: str | None = Field(None, max_length=512)
    error: str | None = Field(None, max_length=256)
    error_description: str | None = Field(None, max_length=2048)
    # Some IdPs add these (RFC 9207 `iss`, Google's `scope`, `authuser`, ...): allowed, unused.
    iss: str | None = None
    scope: str | None = None
    session_state: str | None = None
    authuser: str | None = None
    hd: str | None = None
    prompt: str | None = None


def _refused(reason: str, message: str) -> AuthenticationFailed:
    return AuthenticationFailed(f"Sign-in refused: {message}", code=reason)


@routes.get("/auth/oidc/callback")
@public
async def callback(request: web.Request) -> web.StreamResponse:
    params = parse_query(request, CallbackParams)
    if params.error is not None:
        raise _refused("oidc_error", f"the identity provider answered '{params.error}'.")
    if not params.state:
        raise InvalidRequest(
            "Missing required parameter: 'state'.",
            param="state",
            code="missing_required_parameter",
        )
    if not params.code:
        raise InvalidRequest(
            "Missing required parameter: 'code'.", param="code", code="missing_required_parameter"
        )
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not hmac.compare_digest(cookie.encode(), params.state.encode()):
        raise _refused("state_mismatch", "this browser did not start this sign-in.")
    pool = request.app[POOL]
    pending = await store.take_login(pool, params.state)
    if pending is None:
        raise _refused("unknown_state", "the sign-in expired or was already used; start again.")
    client = _client(request, pending.provider)
    try:
        id_token = await client.exchange(params.code, pending.secrets, redirect_uri(request))
        claims = await client.verify(id_token, nonce=pending.secrets.nonce)
    except TokenRejected as err:
        log.warning("id token rejected", extra={"reason": err.reason, "provider": pending.provider})
        raise _refused(f"id_token_{err.reason}", str(err)) from None
    except ProviderError as err:
        log.warning("identity provider unavailable", extra={"error": str(err)})
        raise ServiceUnavailable(
            "The identity provider is unavailable.", code="idp_unavailable"
        ) from None
    try:
        mapped = map_claims(claims, client.provider.mapping)
        settings = request.app[OIDC_SETTINGS]
        session = await store.open_session(
            pool,
            org_id=mapped.org_id,
            email=mapped.email,
            role=mapped.role,
            provider=pending.provider,
            ttl_s=settings.session_ttl_s,
        )
    except Unmapped as err:
        raise PermissionDenied(f"Sign-in refused: {err}", code="user_not_mapped") from None
    except store.UnknownOrg:
        raise PermissionDenied(
            "Sign-in refused: the organization configured for this user does not exist.",
            code="user_not_mapped",
        ) from None
    # The audit log records who signed in.
    signed_in = await store.load_session(pool, session.cookie, request.app[SETTINGS].trust_domain)
    if signed_in is not None:
        request[PRINCIPAL] = signed_in.principal
    response = redirect(pending.return_to)
    set_cookie(response, request, SESSION_COOKIE, session.cookie, max_age=settings.session_ttl_s)
    clear_cookie(response, request, STATE_COOKIE, path=_STATE_PATH)
    return response


async def _logout(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await store.end_session(request.app[POOL], cookie)
    response = redirect("/console/signed-out")
    clear_cookie(response, request, SESSION_COOKIE)
    return response


@routes.get("/auth/logout")
@public
async def logout_link(request: web.Request) -> web.StreamResponse:
    return await _logout(request)


@routes.post("/auth/logout")
@public
async def logout(request: web.Request) -> web.StreamResponse:
    return await _logout(request)
