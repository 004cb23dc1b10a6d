"""The lab's OIDC provider (lab/idp.py) as the tests drive it, and a browserless sign-in
through it.

For the refusal tests a hook on its token endpoint can swap the ID token it is about to return
(re-signed with a key of the test's choosing, with other claims, or an earlier token replayed),
so the bad token reaches the console through the real flow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import flask
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from lab import idp as lab_idp

# (claims, provider's signing key) -> the ID token to hand out instead.
Rewrite = Callable[[dict[str, Any], "SigningKey"], str]


@dataclass
class SigningKey:
    kid: str
    key: Any

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def foreign_key(kid: str) -> SigningKey:
    """A key the issuer never published: what a forger would sign with."""
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class Idp(lab_idp.Idp):
    """The provider, with the ID tokens it issued and the next token's rewrite."""

    issued: list[str] = field(default_factory=list)
    rewrite: Rewrite | None = None

    def token_claims(self, token: str) -> dict[str, Any]:
        return jwt.decode(token, options={"verify_signature": False})


def _token_hook(idp: Idp) -> Callable[[flask.Response], flask.Response]:
    def hook(response: flask.Response) -> flask.Response:
        if flask.request.path != "/oauth2/token" or response.status_code != 200:
            return response
        body = response.get_json()
        token = body.get("id_token")
        if token is None:
            return response
        rewrite, idp.rewrite = idp.rewrite, None  # one token per arming
        if rewrite is not None:
            jwk = flask.g.oidc_provider_mock_storage.jwk.as_dict(is_private=True)
            own = SigningKey(jwk["kid"], jwt.PyJWK(jwk).key)
            body["id_token"] = token = rewrite(idp.token_claims(token), own)
            response.set_data(flask.json.dumps(body))
        idp.issued.append(token)
        return response

    return hook


@contextmanager
def run_idp() -> Iterator[Idp]:
    idp = Idp(issuer="")
    with lab_idp.serve_idp(after_request=_token_hook(idp)) as served:
        idp.issuer = served.issuer
        yield idp


@dataclass
class Login:
    """A sign-in taken up to the callback, so tests can finish it, replay it or tamper."""

    callback_url: str
    state: str


async def start_login(
    http: aiohttp.ClientSession, base: str, sub: str, *, return_to: str = "/console"
) -> Login:
    """/auth/oidc/login, then the IdP's authorization form submitted as `sub`."""
    async with http.get(
        f"{base}/auth/oidc/login", params={"return_to": return_to}, allow_redirects=False
    ) as resp:
        assert resp.status == 302, await resp.text()
        authorize = resp.headers["Location"]
    async with http.post(authorize, data={"sub": sub}, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        callback = resp.headers["Location"]
    assert callback.startswith(f"{base}/auth/oidc/callback?"), callback
    state = parse_qs(urlsplit(callback).query)["state"][0]
    return Login(callback, state)


async def finish_login(http: aiohttp.ClientSession, login: Login) -> aiohttp.ClientResponse:
    async with http.get(login.callback_url, allow_redirects=False) as resp:
        await resp.read()
        return resp


async def sign_in(http: aiohttp.ClientSession, base: str, sub: str) -> str:
    """A full sign-in; returns the session cookie's value (also left in `http`'s jar)."""
    resp = await finish_login(http, await start_login(http, base, sub))
    assert resp.status == 302, resp.status
    return resp.cookies["volt_session"].value


def cookie_jar() -> aiohttp.CookieJar:
    # The services listen on 127.0.0.1; aiohttp's jar ignores cookies of IP hosts by default.
    return aiohttp.CookieJar(unsafe=True)
