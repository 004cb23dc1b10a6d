"""The console's peers: Debian's headless Chromium (playwright), the test IdP (tests/admin's
`idp`), and a console service: the admin app with sign-in configured, two orgs mapped by email
domain, on a database of its own (so every row a page could show is this test's), with Forge
on the session's kube-apiserver or Vault on a lab when a test asks for them.

Usage: `async with console_service(settings, idp, spec, fresh_db) as svc:`, then
`page = await signed_in_page(chromium, svc, svc.a)`; `bars(page, "#chart")` reads a chart."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from admin.app import install as install_admin
from admin.bootstrap import bootstrap_org
from admin.forge.config import ForgeSettings
from admin.signin.appkeys import OAUTH_SETTINGS, OIDC_SETTINGS
from admin.signin.device.config import OAuthSettings
from admin.signin.oidc.config import OidcSettings
from admin.vault.config import VaultSettings
from tests.conftest import Org, serve
from tests.support.client import Client
from tests.support.idp import Idp
from tests.support.openapi import Spec
from tests.support.signin import SigninService, provider_for
from voltcore.config import Settings
from voltcore.db import Pool
from voltcore.service import base_app

CHROMIUM = Path(os.environ.get("VOLT_TEST_CHROMIUM", "/usr/bin/chromium"))
# Checked at import, not in the (async) fixture: a missing browser fails loudly, never skips.
CHROMIUM_PRESENT = CHROMIUM.exists()


@pytest_asyncio.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM_PRESENT:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-packages.sh")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        await browser.close()


@dataclass
class ConsoleService(SigninService):
    """A `SigninService` whose app and orgs live on `db`."""

    db: Pool | None = None

    @property
    def pool(self) -> Pool:
        assert self.db is not None
        return self.db


async def _org(db: Pool, name: str, settings: Settings) -> Org:
    b = await bootstrap_org(
        db,
        name=name,
        tier="standard",
        metro="fra1",  # type: ignore[arg-type]
        admin_email=f"admin@{name.lower()}.example",
        trust_domain=settings.trust_domain,
    )
    return Org(b.org_id, b.api_key, b.api_key_id, b.spiffe_id)


def console_app(
    settings: Settings,
    *,
    forge: ForgeSettings | None = None,
    vault: VaultSettings | None = None,
) -> web.Application:
    app = base_app(settings)
    install_admin(app, forge_settings=forge, vault_settings=vault)
    return app


@asynccontextmanager
async def console_service(
    settings: Settings,
    idp: Idp,
    spec: Spec,
    fresh_db: tuple[str, Pool],
    *,
    forge: ForgeSettings | None = None,
    vault: VaultSettings | None = None,
    app: web.Application | None = None,
) -> AsyncIterator[ConsoleService]:
    """`app` (built with `console_app` on `fresh_db`) when the caller needs it before it
    serves; otherwise one is built here."""
    dsn, db = fresh_db
    ours = settings.model_copy(update={"database_url": dsn})
    a, b = await _org(db, "Acme", ours), await _org(db, "Globex", ours)
    app = app or console_app(ours, forge=forge, vault=vault)
    app[OAUTH_SETTINGS] = OAuthSettings(interval_s=1)
    app[OIDC_SETTINGS] = OidcSettings(providers=[provider_for(idp, a, b)])
    runner, base = await serve(app)
    try:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(aiohttp.ClientSession())
            cli = Client(http, base, spec)
            yield ConsoleService(app, base, idp, a, b, cli, stack, db)
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def console(
    settings: Settings, idp: Idp, spec: Spec, fresh_db: tuple[str, Pool]
) -> AsyncIterator[ConsoleService]:
    """Forge and Vault off: their pages say so."""
    async with console_service(settings, idp, spec, fresh_db) as svc:
        yield svc


async def sign_in(page: Page, base: str, sub: str, path: str = "/console") -> None:
    """Through the IdP's own authorization page: type the subject, press Authorize."""
    await page.goto(f"{base}{path}")
    await page.fill("input[name=sub]", sub)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{path}")


async def signed_in_page(chromium: Browser, svc: SigninService, org: Org) -> Page:
    """A fresh browser context with an admin of `org` signed in, on /console."""
    context = await chromium.new_context(accept_downloads=True)
    page = await context.new_page()
    await sign_in(page, svc.base, await svc.admin(org))
    return page


async def csrf_token(page: Page, db: Pool) -> str:
    """The page's session's own CSRF token, as a forger who had it would send it."""
    cookie = next(c for c in await page.context.cookies() if c["name"] == "volt_session")
    token = await db.fetchval(
        "SELECT csrf_token FROM console_sessions WHERE session_hash = $1",
        hashlib.sha256(cookie["value"].encode()).digest(),
    )
    assert isinstance(token, str)
    return token


async def bars(page: Page, chart: str) -> list[tuple[str, str, float]]:
    """A bar chart's bars as (label, series, value), in the page's order."""
    rows = await page.eval_on_selector_all(
        f"{chart} rect.bar",
        "els => els.map(e => [e.dataset.label, e.dataset.series, e.dataset.value])",
    )
    return [(label, series, float(value)) for label, series, value in rows]


async def points(page: Page, chart: str) -> list[tuple[str, float, float]]:
    """A line chart's points as (series, x, y)."""
    rows = await page.eval_on_selector_all(
        f"{chart} circle.point",
        "els => els.map(e => [e.dataset.series, e.dataset.x, e.dataset.y])",
    )
    return [(series, float(x), float(y)) for series, x, y in rows]


async def get(svc: SigninService, org: Org, path: str, **params: Any) -> Any:
    """The API's answer for `org` (spec-checked): what a page must agree with."""
    r = await svc.cli.get(path, key=org.key, params=params)
    assert r.status == 200, r.body
    return r.json()
