"""Scope enforcement for device-flow tokens on every route the app serves, and the
verification page's guards: sign-in, CSRF, admin role, wrong-code rate limit (per session,
per code, atomic), other orgs."""

from __future__ import annotations

import asyncio
import hashlib
import re

from aiohttp import web

from admin.signin.device.config import OAuthSettings
from admin.signin.device.policy import new_user_code
from tests.conftest import MakeOrg
from tests.support.idp import Idp
from tests.support.openapi import Spec
from tests.support.signin import SigninService, csrf_of, form_post, signin_service
from voltcore.config import Settings
from voltcore.db import Pool
from voltcore.http import READ_METHODS


def _routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, template) the app serves that takes a bearer credential, read from the
    router itself, so a route added tomorrow is covered without touching this test."""
    out = []
    for route in app.router.routes():
        if route.resource is None or route.method == "HEAD":
            continue
        if getattr(route.handler, "volt_public", False):
            continue
        out.append((route.method, route.resource.canonical))
    return sorted(set(out))


def _fill(template: str, org_id: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template.replace("{org_id}", org_id))


async def test_a_read_token_cannot_write_anywhere(signin: SigninService) -> None:
    tokens = await signin.approved_tokens(signin.a, scope="read")
    assert tokens["scope"] == "read"
    routes = _routes(signin.app)
    writes = [(m, t) for m, t in routes if m not in READ_METHODS]
    reads = [(m, t) for m, t in routes if m in READ_METHODS]
    assert len(writes) >= 10 and ("POST", "/v1/orgs/{org_id}/api-keys") in writes
    for method, template in writes:
        r = await signin.cli.request(
            method, _fill(template, signin.a.id), key=tokens["access_token"], json={}
        )
        r.expect_error(403, "insufficient_scope")
    for method, template in reads:
        r = await signin.cli.request(
            method, _fill(template, signin.a.id), key=tokens["access_token"]
        )
        assert r.status != 403 and r.status != 401, (method, template, r.status, r.body[:200])
    # Nothing was created: the org still has just its bootstrap key.
    keys = await signin.cli.get(f"/v1/orgs/{signin.a.id}/api-keys", key=signin.a.key)
    assert [k["name"] for k in keys.json()["data"]] == ["bootstrap"]


async def test_tokens_stay_in_their_org(signin: SigninService) -> None:
    b_tokens = await signin.approved_tokens(signin.b)
    key = b_tokens["access_token"]
    assert (await signin.cli.get("/v1/me", key=key)).json()["org_id"] == signin.b.id
    for path in (f"/v1/orgs/{signin.a.id}", f"/v1/orgs/{signin.a.id}/api-keys"):
        (await signin.cli.get(path, key=key)).expect_error(404)
    r = await signin.cli.post(f"/v1/orgs/{signin.a.id}/api-keys", key=key, json={"name": "x"})
    r.expect_error(404)


async def test_an_approved_code_cannot_be_approved_again_by_another_org(
    signin: SigninService,
) -> None:
    code = await signin.device_code()
    admin_b = await signin.browser_for(await signin.admin(signin.b))
    assert b"Device approved" in (await signin.decide(admin_b, code["user_code"], "approve")).body
    admin_a = await signin.browser_for(await signin.admin(signin.a))
    page = await admin_a.get(f"/oauth/device?user_code={code['user_code']}")
    assert b"unknown, has expired or was already used" in page.body
    tokens = (await signin.poll(code["device_code"])).json()
    me = (await signin.cli.get("/v1/me", key=tokens["access_token"])).json()
    assert me["org_id"] == signin.b.id


async def test_verification_needs_a_session_and_its_csrf_token(signin: SigninService) -> None:
    code = await signin.device_code()
    anonymous = await signin.browser()
    r = await anonymous.session.get(
        f"{signin.base}/oauth/device?user_code={code['user_code']}", allow_redirects=False
    )
    assert r.status == 302
    assert r.headers["Location"].startswith("/auth/oidc/login?return_to=%2Foauth%2Fdevice")
    form = {"user_code": code["user_code"], "action": "approve", "csrf_token": "x"}
    (await form_post(anonymous, "/oauth/device", form)).expect_error(401, "not_signed_in")

    admin = await signin.browser_for(await signin.admin(signin.a))
    other = await signin.browser_for(await signin.admin(signin.a))
    other_csrf = csrf_of(await other.get(f"/oauth/device?user_code={code['user_code']}"))
    for csrf in (None, "", other_csrf):
        form = {"user_code": code["user_code"], "action": "approve"}
        if csrf is not None:
            form["csrf_token"] = csrf
        r = await form_post(admin, "/oauth/device", form)
        r.expect_error(403, "csrf_failed", "csrf_token")
    # Still pending: nothing was approved by the forged posts.
    assert (await signin.poll(code["device_code"])).json()["error"] == "authorization_pending"

    page = await admin.get(f"/oauth/device?user_code={code['user_code']}")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    csrf = csrf_of(page)
    bad = {"user_code": code["user_code"], "action": "grant", "csrf_token": csrf}
    (await form_post(admin, "/oauth/device", bad)).expect_error(400, "invalid_value", "action")
    bad = {"action": "approve", "csrf_token": csrf}
    (await form_post(admin, "/oauth/device", bad)).expect_error(400, param="user_code")
    r = await signin.post_decision(admin, csrf, code["user_code"], "approve", scopes=["admin"])
    r.expect_error(400, "invalid_value", "scope")


async def test_members_cannot_approve(signin: SigninService, pool: Pool) -> None:
    code = await signin.device_code()
    member = await signin.browser_for(await signin.member(signin.a))
    page = await member.get(f"/oauth/device?user_code={code['user_code']}")
    assert b"Only an admin" in page.body and b"csrf_token" not in page.body
    console = await member.get("/console")
    # A member's console offers nothing that writes: its only form is signing out.
    assert console.body.count(b"<form") == 1 and b'action="/auth/logout"' in console.body
    # Even with its session's own CSRF token, a member's approval is refused.
    cookie = next(c.value for c in member.session.cookie_jar if c.key == "volt_session")
    csrf = await pool.fetchval(
        "SELECT csrf_token FROM console_sessions WHERE session_hash = $1",
        hashlib.sha256(cookie.encode()).digest(),
    )
    r = await signin.post_decision(member, csrf, code["user_code"], "approve")
    r.expect_error(403, "insufficient_scope")
    assert (await signin.poll(code["device_code"])).json()["error"] == "authorization_pending"


async def test_wrong_codes_are_rate_limited(signin: SigninService) -> None:
    code = await signin.device_code()
    admin = await signin.browser_for(await signin.admin(signin.a))
    for wrong in ("BCDF-GHJK", "ZZZZ-ZZZZ", "not a code", "BCDF-GHJL", "XXXX-XXXX"):
        if wrong == code["user_code"]:
            continue
        page = await admin.get(f"/oauth/device?user_code={wrong}")
        assert page.status == 200 and b"unknown, has expired" in page.body
    # Five wrong: even the right code is refused for now, by page and by form.
    page = await admin.get(f"/oauth/device?user_code={code['user_code']}")
    assert page.status == 429 and b"Too many wrong codes" in page.body
    # Another admin's session is not affected.
    other = await signin.browser_for(await signin.admin(signin.a))
    result = await signin.decide(other, code["user_code"], "approve")
    assert b"Device approved" in result.body


def _wrong_codes(n: int, right: str) -> list[str]:
    codes = {new_user_code() for _ in range(n + 1)} - {right}
    return sorted(codes)[:n]


async def test_parallel_wrong_codes_cannot_slip_under_the_limit(signin: SigninService) -> None:
    """The attack: many guesses at once from one session, all sent before any is counted
    (check-then-increment let every one of them through). Only the limit's worth is tried."""
    code = await signin.device_code()
    admin = await signin.browser_for(await signin.admin(signin.a))
    pages = await asyncio.gather(
        *(admin.get(f"/oauth/device?user_code={c}") for c in _wrong_codes(20, code["user_code"]))
    )
    tried = [p for p in pages if p.status == 200]
    assert all(b"unknown, has expired" in p.body for p in tried)
    assert len(tried) == 5 and sum(p.status == 429 for p in pages) == 15


async def test_many_sessions_cannot_out_guess_a_code(
    settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec
) -> None:
    """The attack: spread the guesses over many sessions, each under its own limit. Every wrong
    guess counts against each pending code, so past its budget the code cannot be approved,
    not even by someone who then enters it right."""
    oauth = OAuthSettings(interval_s=1, verify_code_max_failures=3)
    async with signin_service(settings, idp, make_org, spec, oauth=oauth) as svc:
        code = await svc.device_code()
        guessers = [await svc.browser_for(await svc.admin(svc.a)) for _ in range(3)]
        for browser, wrong in zip(guessers, _wrong_codes(3, code["user_code"]), strict=True):
            page = await browser.get(f"/oauth/device?user_code={wrong}")
            assert page.status == 200 and b"unknown, has expired" in page.body
        fresh = await svc.browser_for(await svc.admin(svc.a))
        result = await svc.decide(fresh, code["user_code"], "approve")
        assert b"unknown, has expired" in result.body and b"Device approved" not in result.body
        assert (await svc.poll(code["device_code"])).json()["error"] == "authorization_pending"
        # The budget is the code's: a code asked for after the guesses is approved as usual.
        later = await svc.device_code()
        assert b"Device approved" in (await svc.decide(fresh, later["user_code"], "approve")).body
