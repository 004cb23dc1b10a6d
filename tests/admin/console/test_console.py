"""The console in headless Chromium (Debian's, driven by playwright): sign in through the
IdP's real pages, see the org's keys, usage and leases on their pages (and never another
org's), approve a real `volt login` from the console, revoke it, sign out."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from playwright.async_api import Browser

from tests.admin.console.conftest import csrf_token, sign_in
from tests.conftest import Org
from tests.support.signin import SigninService
from tests.volt.test_login import start_login
from volt.credentials import load_credentials
from voltcore.db import Pool


async def _seed(pool: Pool, org: Org, tag: str) -> None:
    """What the console should show of `org`: a named key, usage and a lease."""
    await pool.execute(
        """INSERT INTO api_keys (id, org_id, name, secret_hash, redacted_value, scopes)
           VALUES ($1, $2, $3, $4, 'volt_sk_live_...abcd', ARRAY['read'])""",
        f"key_{tag}{org.id[-8:]}",
        org.id,
        f"<b>{tag}-key</b>",
        os.urandom(32),
    )
    await pool.execute(
        """INSERT INTO usage_events (time, org_id, model, endpoint, prompt_tokens,
                                     completion_tokens, cached_tokens)
           VALUES (now(), $1, $2, '/v1/chat/completions', 120, 34, 0)""",
        org.id,
        f"{tag}-model",
    )
    await pool.execute(
        """INSERT INTO forge_leases (id, org_id, gpu_type, gpu_count, metro, duration_s, status,
                                     placement, namespace, price_per_gpu_hour, active_at,
                                     expires_at)
           VALUES ($1, $2, 'NVIDIA-L40S', 2, 'fra1', 3600, 'active', '{}', $3, 0.99, now(),
                   now() + interval '1 hour')""",
        f"lease_{tag}{org.id[-8:]}",
        org.id,
        f"ns-{tag}-{org.id[-8:].lower()}",
    )


async def test_console_end_to_end(
    chromium: Browser, signin: SigninService, pool: Pool, tmp_path: Path
) -> None:
    await _seed(pool, signin.a, "acme")
    await _seed(pool, signin.b, "globex")
    context = await chromium.new_context()
    page = await context.new_page()
    await sign_in(page, signin.base, await signin.admin(signin.a))

    assert await page.text_content("#org") == "Acme"
    usage = await page.text_content("#usage") or ""
    assert "acme-model" in usage and "120" in usage and "globex" not in usage
    await page.click("#nav-keys")
    await page.wait_for_url(f"{signin.base}/console/keys")
    keys = await page.text_content("#keys")
    assert keys is not None
    assert "<b>acme-key</b>" in keys  # shown as text, escaped, not as markup
    assert await page.locator("#keys b").count() == 0
    assert "bootstrap" in keys and "globex" not in keys
    await page.click("#nav-leases")
    leases = await page.text_content("#leases") or ""
    assert "2 x NVIDIA-L40S" in leases and "active" in leases and "globex" not in leases

    cookie = next(c for c in await context.cookies() if c["name"] == "volt_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert await page.evaluate("document.cookie") == ""  # no script can read it

    # The real `volt login` prints a user code; the admin approves it from the console.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLT_")}
    env["VOLT_CONFIG_DIR"] = str(tmp_path / "config")
    login = await start_login(signin.base, env)
    code = (await login.wait_for(r"enter the code: (\S+)"))[1]
    await page.click("#nav-keys")
    await page.click("#approve-device")
    await page.fill("#user-code", code.lower())
    await page.click("#continue")
    assert await page.text_content("#shown-code") == code
    assert await page.text_content("#client") == "volt-cli"
    await page.uncheck("#scope-write")
    await page.click("#approve")
    result = await page.text_content("#result") or ""
    assert "Device approved" in result and "read" in result

    status, err = await login.finish()
    assert status == 0, err
    assert "Signed in (scopes: read)" in err
    saved = load_credentials(tmp_path / "config" / "credentials.json")
    assert saved is not None and saved.base_url == signin.base
    me = await signin.cli.get("/v1/me", key=saved.access_token)
    assert me.status == 200 and me.json()["org_id"] == signin.a.id

    # The keys page lists the signed-in CLI; revoking it stops its token at once.
    await page.goto(f"{signin.base}/console/keys")
    cli_sessions = await page.text_content("#cli-sessions") or ""
    assert "volt-cli" in cli_sessions and "read" in cli_sessions
    await page.click("#cli-sessions button")
    await page.wait_for_url(f"{signin.base}/console/keys")
    assert "None." in (await page.text_content("#cli-sessions") or "")
    r = await signin.cli.get("/v1/me", key=saved.access_token)
    r.expect_error(401, "revoked_token")

    # Sign out: back to the console means signing in again.
    await page.click("#logout")
    await page.wait_for_url(f"{signin.base}/console/signed-out")
    assert not [c for c in await context.cookies() if c["name"] == "volt_session"]
    await page.goto(f"{signin.base}/console")
    assert page.url.startswith(f"{signin.idp.issuer}/oauth2/authorize")
    await context.close()


async def test_org_b_admin_sees_only_org_b(
    chromium: Browser, signin: SigninService, pool: Pool
) -> None:
    await _seed(pool, signin.a, "acme")
    await _seed(pool, signin.b, "globex")
    context = await chromium.new_context()
    page = await context.new_page()
    await sign_in(page, signin.base, await signin.admin(signin.b))
    pages = [
        ("/console", "globex-model"),
        ("/console/keys", "globex-key"),
        ("/console/leases", "lease_globex"),
    ]
    for path, own in pages:
        await page.goto(f"{signin.base}{path}")
        body = await page.text_content("body") or ""
        assert "Globex" in body and own in body and "acme" not in body.lower()
    # Another org's CLI grant cannot be revoked from here: the form answers, nothing changes.
    tokens = await signin.approved_tokens(signin.a)
    grant = await pool.fetchval(
        "SELECT grant_id FROM oauth_tokens WHERE org_id = $1 LIMIT 1", signin.a.id
    )
    csrf = await csrf_token(page, pool)
    forged = await page.request.post(
        f"{signin.base}/console/cli-sessions/{grant}/revoke",
        form={"csrf_token": "wrong"},
        max_redirects=0,
    )
    assert forged.status == 403
    # With its own valid CSRF token, B's admin still cannot touch A's grant.
    response = await page.request.post(
        f"{signin.base}/console/cli-sessions/{grant}/revoke",
        form={"csrf_token": csrf},
        max_redirects=0,
    )
    assert response.status == 303
    assert (await signin.cli.get("/v1/me", key=tokens["access_token"])).status == 200
    await context.close()


async def test_expired_session_goes_back_to_sign_in(
    chromium: Browser, signin: SigninService, pool: Pool
) -> None:
    context = await chromium.new_context()
    page = await context.new_page()
    await sign_in(page, signin.base, await signin.admin(signin.a))
    await pool.execute(
        "UPDATE console_sessions SET expires_at = $1 WHERE org_id = $2",
        dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
        signin.a.id,
    )
    await page.goto(f"{signin.base}/console")
    assert page.url.startswith(f"{signin.idp.issuer}/oauth2/authorize")
    await context.close()
