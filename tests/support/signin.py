"""An admin service with sign-in configured against the test IdP, two orgs mapped by email
domain, and helpers for both sides of the device flow.

Usage (in a conftest): `signin` fixtures come from `make_signin`; a test signs a user in with
`await svc.browser_for(await svc.admin(svc.a))` and drives the CLI side with `svc.cli`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from admin.app import create_app
from admin.signin.appkeys import OAUTH_SETTINGS, OIDC_SETTINGS
from admin.signin.device.config import OAuthSettings
from admin.signin.oidc.config import ClaimMapping, OidcSettings, ProviderConfig
from lab.idp import set_user
from tests.conftest import MakeOrg, Org, serve
from tests.support.client import Client, Reply
from tests.support.idp import Idp, cookie_jar, sign_in
from tests.support.openapi import Spec
from voltcore.config import Settings

CLIENT_ID = "volt-cli"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ADMINS_GROUP = "volt-admins"


def domain_of(org: Org) -> str:
    return f"{org.id.lower().replace('_', '-')}.example"


@dataclass
class SigninService:
    app: web.Application
    base: str
    idp: Idp
    a: Org
    b: Org
    cli: Client  # no cookies: the CLI's side
    stack: AsyncExitStack

    async def user(self, org: Org, *, groups: list[str], verified: bool = True) -> str:
        """A user at the IdP whose email is in `org`'s domain; returns their `sub`."""
        sub = f"u{secrets.token_hex(6)}"
        claims = {"email": f"{sub}@{domain_of(org)}", "email_verified": verified, "groups": groups}
        await set_user(self.idp, sub, claims)
        return sub

    async def admin(self, org: Org) -> str:
        return await self.user(org, groups=[ADMINS_GROUP])

    async def member(self, org: Org) -> str:
        return await self.user(org, groups=[])

    async def browser(self) -> Client:
        """A cookie-keeping client (spec-checked), signed in to nothing yet."""
        http = await self.stack.enter_async_context(aiohttp.ClientSession(cookie_jar=cookie_jar()))
        return Client(http, self.base, self.cli.spec)

    async def browser_for(self, sub: str) -> Client:
        browser = await self.browser()
        await sign_in(browser.session, self.base, sub)
        return browser

    # ---- the CLI's side of RFC 8628
    async def device_code(self, scope: str | None = "read write") -> dict[str, Any]:
        form = {"client_id": CLIENT_ID} | ({"scope": scope} if scope is not None else {})
        r = await form_post(self.cli, "/oauth/device/code", form)
        assert r.status == 200, r.body
        return r.json()  # type: ignore[no-any-return]

    async def poll(self, device_code: str) -> Reply:
        return await form_post(
            self.cli,
            "/oauth/token",
            {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLIENT_ID},
        )

    # ---- the admin's side: the verification page
    async def decide(
        self, browser: Client, user_code: str, action: str, scopes: list[str] | None = None
    ) -> Reply:
        """Open the verification page for `user_code` and press `action`; when the page offers
        no decision (unknown code, ...) that page is the answer."""
        page = await browser.get(f"/oauth/device?user_code={user_code}")
        assert page.status == 200
        if b'name="csrf_token"' not in page.body:
            return page
        return await self.post_decision(browser, csrf_of(page), user_code, action, scopes)

    async def post_decision(
        self,
        browser: Client,
        csrf: str,
        user_code: str,
        action: str,
        scopes: list[str] | None = None,
    ) -> Reply:
        form: list[tuple[str, str]] = [
            ("csrf_token", csrf),
            ("user_code", user_code),
            ("action", action),
        ]
        form += [("scope", s) for s in scopes or []]
        return await form_post(browser, "/oauth/device", form)

    async def approved_tokens(self, org: Org, scope: str = "read write") -> dict[str, Any]:
        """A device approved by a fresh admin of `org`: the token response."""
        code = await self.device_code(scope)
        browser = await self.browser_for(await self.admin(org))
        result = await self.decide(browser, code["user_code"], "approve")
        assert b"Device approved" in result.body, result.body
        r = await self.poll(code["device_code"])
        assert r.status == 200, r.body
        return r.json()  # type: ignore[no-any-return]


def csrf_of(page: Reply) -> str:
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page.body)
    assert match, page.body[:500]
    return match[1].decode()


async def form_post(
    client: Client, path: str, form: dict[str, str] | list[tuple[str, str]]
) -> Reply:
    from urllib.parse import urlencode

    return await client.post(
        path,
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def provider_for(idp: Idp, *orgs: Org, **mapping: Any) -> ProviderConfig:
    rules = {
        "org_by_email_domain": {domain_of(o): o.id for o in orgs},
        "role_by_group": {ADMINS_GROUP: "admin"},
    } | mapping
    return ProviderConfig(
        name="mock",
        issuer=idp.issuer,
        client_id="volt-console",
        client_secret="console-secret",
        mapping=ClaimMapping(**rules),
        leeway_s=0,
    )


@asynccontextmanager
async def signin_service(
    settings: Settings,
    idp: Idp,
    make_org: MakeOrg,
    spec: Spec,
    *,
    oauth: OAuthSettings | None = None,
    provider: ProviderConfig | None = None,
) -> AsyncIterator[SigninService]:
    a, b = await make_org("Acme"), await make_org("Globex")
    app = create_app(settings)
    app[OAUTH_SETTINGS] = oauth or OAuthSettings(interval_s=1)
    app[OIDC_SETTINGS] = OidcSettings(providers=[provider or provider_for(idp, a, b)])
    runner, base = await serve(app)
    try:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(aiohttp.ClientSession())
            yield SigninService(app, base, idp, a, b, Client(http, base, spec), stack)
    finally:
        await runner.cleanup()
