"""`/oauth/device/code`, `/oauth/token` and `/oauth/revoke`: RFC 8628 device authorization,
RFC 6749 token and refresh grants, RFC 7009 revocation. Form-encoded in, JSON out, OAuth error
bodies. Public routes: the client authenticates with its device code or token, not a key."""

from __future__ import annotations

import math
import time

from aiohttp import web

from admin.signin.appkeys import DEVICE_LIMITER, OAUTH_SETTINGS
from admin.signin.device import store
from admin.signin.device.errors import NO_STORE, OAuthError, OAuthRateLimited
from admin.signin.device.policy import parse_scope
from admin.signin.web import public_base
from voltcore.appkeys import AUTHENTICATOR, POOL
from voltcore.clientaddr import client_address
from voltcore.http import json_response, public

routes = web.RouteTableDef()

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_FORM = "application/x-www-form-urlencoded"


async def _form(request: web.Request) -> dict[str, str]:
    """The form parameters; each may appear once (RFC 6749 §3.1). Unknown ones are ignored,
    as the RFC requires, so newer clients keep working."""
    if request.content_type != _FORM:
        raise OAuthError("invalid_request", f"The request body must be {_FORM}.")
    form = await request.post()
    out: dict[str, str] = {}
    for name in form:
        values = form.getall(name)
        if len(values) > 1:
            raise OAuthError("invalid_request", f"Parameter '{name}' was given more than once.")
        value = values[0]
        if not isinstance(value, str):
            raise OAuthError("invalid_request", f"Parameter '{name}' must be a plain value.")
        out[name] = value
    return out


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"Missing required parameter: '{name}'.")
    return value


def _client(request: web.Request, form: dict[str, str], *, required: bool) -> str | None:
    client_id = form.get("client_id")
    if client_id is None and not required:
        return None
    if not client_id:
        raise OAuthError("invalid_request", "Missing required parameter: 'client_id'.")
    if client_id not in request.app[OAUTH_SETTINGS].client_ids:
        raise OAuthError("invalid_client", f"Unknown client: '{client_id[:64]}'.")
    return client_id


@routes.post("/oauth/device/code")
@public
async def device_authorization(request: web.Request) -> web.Response:
    wait = request.app[DEVICE_LIMITER].hit(client_address(request), time.monotonic())
    if wait is not None:
        raise OAuthRateLimited(
            "Too many device authorizations from this address; retry later.", math.ceil(wait)
        )
    form = await _form(request)
    client_id = _client(request, form, required=True)
    assert client_id is not None
    scopes = parse_scope(form.get("scope"))
    if scopes is None:
        raise OAuthError("invalid_scope", "'scope' must be 'read', 'write' or 'read write'.")
    new = await store.create_device_code(
        request.app[POOL], client_id=client_id, scopes=scopes, settings=request.app[OAUTH_SETTINGS]
    )
    verification_uri = f"{public_base(request)}/oauth/device"
    return json_response(
        {
            "device_code": new.device_code,
            "user_code": new.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={new.user_code}",
            "expires_in": new.expires_in,
            "interval": new.interval,
        },
        headers=dict(NO_STORE),
    )


_POLL_ERRORS = {
    "authorization_pending": "The user has not yet approved or denied this device.",
    "slow_down": "Polling too fast; wait the interval, now {interval} seconds, between polls.",
    "access_denied": "The user denied this device.",
    "expired_token": "The device code has expired; start again.",
    "used": "The device code was already exchanged for tokens.",
}


@routes.post("/oauth/token")
@public
async def token(request: web.Request) -> web.Response:
    form = await _form(request)
    grant_type = _required(form, "grant_type")
    settings = request.app[OAUTH_SETTINGS]
    if grant_type == DEVICE_CODE_GRANT:
        result = await store.poll(
            request.app[POOL],
            _required(form, "device_code"),
            client_id=_client(request, form, required=False),
            settings=settings,
        )
        if result is None:
            raise OAuthError("invalid_grant", "Unknown device code.")
        if result.tokens is not None:
            return json_response(result.tokens.response(), headers=dict(NO_STORE))
        assert result.poll is not None
        outcome = result.poll.outcome
        message = _POLL_ERRORS[outcome].format(interval=result.poll.interval_s)
        raise OAuthError("invalid_grant" if outcome == "used" else outcome, message)  # type: ignore[arg-type]
    if grant_type == "refresh_token":
        scopes = None
        if "scope" in form:
            scopes = parse_scope(form["scope"])
            if scopes is None:
                raise OAuthError("invalid_scope", "'scope' must be 'read', 'write' or both.")
        refreshed = await store.refresh(
            request.app[POOL],
            _required(form, "refresh_token"),
            client_id=_client(request, form, required=False),
            scopes=scopes,
            settings=settings,
        )
        for token_id in refreshed.revoked:
            request.app[AUTHENTICATOR].forget(token_id)
        if refreshed.outcome == "invalid_scope":
            raise OAuthError("invalid_scope", "'scope' may only narrow the granted scopes.")
        if refreshed.tokens is None:
            raise OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.")
        return json_response(refreshed.tokens.response(), headers=dict(NO_STORE))
    raise OAuthError("unsupported_grant_type", f"Unsupported grant_type: '{grant_type[:100]}'.")


@routes.post("/oauth/revoke")
@public
async def revoke(request: web.Request) -> web.Response:
    """RFC 7009: 200 whether or not the token was known, so the answer reveals nothing."""
    form = await _form(request)
    _client(request, form, required=False)
    for token_id in await store.revoke(request.app[POOL], _required(form, "token")):
        request.app[AUTHENTICATOR].forget(token_id)
    return web.Response(status=200, headers=dict(NO_STORE))
