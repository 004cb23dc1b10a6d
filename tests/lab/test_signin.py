"""The embedded default's sign-in: with the local provider's configuration, a browserless
sign-in as its one user reaches the console as the admin of the given org; anyone else the
provider signs in is refused; a restart on the same directory keeps the issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from admin.app import create_app
from admin.signin.appkeys import OIDC_SETTINGS
from admin.signin.oidc.config import OidcSettings
from lab.idp import Idp, set_user
from lab.signin import LocalIdp
from tests.conftest import MakeOrg, Org, serve
from tests.support.client import Client
from tests.support.idp import cookie_jar, finish_login, start_login
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.db import Pool


@pytest_asyncio.fixture
async def console(
    settings: Settings, make_org: MakeOrg, tmp_path: Path
) -> AsyncIterator[tuple[LocalIdp, Org, str]]:
    org = await make_org("Demo")
    async with LocalIdp(tmp_path / "signin") as idp:
        app = create_app(settings)
        app[OIDC_SETTINGS] = OidcSettings(providers=[idp.provider(org.id)])
        runner, base = await serve(app)
        try:
            yield idp, org, base
        finally:
            await runner.cleanup()


async def test_the_local_admin_reaches_the_console_as_admin(
    console: tuple[LocalIdp, Org, str], spec: Spec, pool: Pool
) -> None:
    _, org, base = console
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        login = await start_login(http, base, LocalIdp.USER)
        assert login.callback_url.startswith(f"{base}/auth/oidc/callback?")
        resp = await finish_login(http, login)
        assert resp.status == 302 and resp.headers["Location"] == "/console"
        page = await Client(http, base, spec).get("/console")
        assert page.status == 200
        assert LocalIdp.EMAIL.encode() in page.body and b"(admin)" in page.body
    row = await pool.fetchrow(
        "SELECT role, org_id, provider FROM console_sessions ORDER BY created_at DESC LIMIT 1"
    )
    assert (row["role"], row["org_id"], row["provider"]) == ("admin", org.id, "local")


async def test_no_one_else_gets_in(console: tuple[LocalIdp, Org, str], spec: Spec) -> None:
    idp, _, base = console
    await set_user(Idp(idp.issuer), "bob", {"email": "bob@demo.volt.local", "email_verified": True})
    # The admin's email typed into the provider's form as a sub: signed in unverified; and a
    # verified user in the org's domain who is not its admin: no role.
    for sub in (LocalIdp.EMAIL, "bob"):
        async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
            browser = Client(http, base, spec)
            login = await start_login(http, base, sub)
            refused = await browser.get(login.callback_url.removeprefix(base))
            refused.expect_error(403, "user_not_mapped")


async def test_a_restart_keeps_the_issuer(tmp_path: Path) -> None:
    async with LocalIdp(tmp_path / "signin") as idp:
        issuer = idp.issuer
    async with LocalIdp(tmp_path / "signin") as again:
        assert again.issuer == issuer
        async with aiohttp.ClientSession() as http:
            discovery = f"{issuer}/.well-known/openid-configuration"
            async with http.get(discovery) as resp:
                assert (await resp.json())["issuer"] == issuer
