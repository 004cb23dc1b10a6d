"""`/auth/oidc/login` and `/auth/oidc/callback`: console sign-in with the authorization code
flow, PKCE (S256), state and nonce, ending in a console session."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from pydantic import Field

from admin.signin.appkeys import OIDC_CLIENTS, OIDC_SETTINGS
from admin.signin.oidc import logins
from admin.signin.oidc.client import OidcClient, ProviderError, TokenRejected
from admin.signin.oidc.mapping import Unmapped, map_claims
from admin.signin.oidc.pkce import LoginSecrets, safe_return_to
from admin.signin.session import store
from admin.signin.session.request import signed_in
from admin.signin.web import clear_cookie, public_base, redirect, set_cookie
from voltcore.appkeys import POOL
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
    await logins.save_login(
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
    pending = await logins.take_login(pool, params.state)
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
    response = redirect(pending.return_to)
    await signed_in(request, response, session.cookie, settings.session_ttl_s)
    clear_cookie(response, request, STATE_COOKIE, path=_STATE_PATH)
    return response
