"""Console sign-in against a real OIDC provider on a real port: the happy path and its cookies,
and every way an ID token or a callback can be wrong, each refused."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.support.client import Client
from tests.support.idp import SigningKey, cookie_jar, finish_login, foreign_key, start_login
from tests.support.signin import SigninService, csrf_of, domain_of, form_post


def _set_cookie(resp: aiohttp.ClientResponse, name: str) -> str:
    headers = [h for h in resp.headers.getall("Set-Cookie", []) if h.startswith(f"{name}=")]
    assert headers, resp.headers
    return headers[0]


async def test_sign_in_sets_a_safe_session_cookie(signin: SigninService) -> None:
    browser = await signin.browser()
    sub = await signin.admin(signin.a)
    login = await start_login(browser.session, signin.base, sub, return_to="/console")
    resp = await finish_login(browser.session, login)
    assert resp.status == 302 and resp.headers["Location"] == "/console"
    cookie = _set_cookie(resp, "volt_session").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here; see the TLS test
    # The state cookie is spent.
    assert 'volt_oidc_state=""' in _set_cookie(resp, "volt_oidc_state")
    page = await browser.get("/console")
    assert page.status == 200
    assert f"{sub}@{domain_of(signin.a)}".encode() in page.body
    assert b"(admin)" in page.body


async def test_the_authorization_request_uses_pkce_state_and_nonce(
    signin: SigninService,
) -> None:
    browser = await signin.browser()
    r = await browser.session.get(f"{signin.base}/auth/oidc/login", allow_redirects=False)
    location = r.headers["Location"]
    assert location.startswith(f"{signin.idp.issuer}/oauth2/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "volt-console"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    assert query["redirect_uri"] == f"{signin.base}/auth/oidc/callback"
    state_cookie = _set_cookie(r, "volt_oidc_state").lower()
    assert "httponly" in state_cookie and "samesite=lax" in state_cookie


async def _callback_error(signin: SigninService, rewrite: Any) -> dict[str, Any]:
    browser = await signin.browser()
    login = await start_login(browser.session, signin.base, await signin.admin(signin.a))
    signin.idp.rewrite = rewrite
    r = await browser.get(login.callback_url.removeprefix(signin.base))
    assert "volt_session" not in {c.key for c in browser.session.cookie_jar}
    return r.expect_error(401)


async def test_forged_id_token_is_refused(signin: SigninService) -> None:
    def forge(claims: dict[str, Any], own: SigningKey) -> str:
        # Same kid as the issuer's key, signed with another: a forgery.
        return foreign_key(own.kid).sign(claims)

    assert (await _callback_error(signin, forge))["code"] == "id_token_signature"

    def unknown_kid(claims: dict[str, Any], own: SigningKey) -> str:
        return foreign_key("attacker-key").sign(claims)

    assert (await _callback_error(signin, unknown_kid))["code"] == "id_token_signature"

    def unsigned(claims: dict[str, Any], own: SigningKey) -> str:
        import jwt

        return jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]

    assert (await _callback_error(signin, unsigned))["code"] == "id_token_signature"

    def symmetric(claims: dict[str, Any], own: SigningKey) -> str:
        import jwt

        # HS256 "signed" with the client secret: whoever knows it could mint identities.
        return jwt.encode(claims, "console-secret-that-is-long-enough-32b", algorithm="HS256")

    assert (await _callback_error(signin, symmetric))["code"] == "id_token_signature"


async def test_wrong_audience_is_refused(signin: SigninService) -> None:
    def other_client(claims: dict[str, Any], own: SigningKey) -> str:
        return own.sign(claims | {"aud": "some-other-app"})

    assert (await _callback_error(signin, other_client))["code"] == "id_token_audience"

    def shared_without_azp(claims: dict[str, Any], own: SigningKey) -> str:
        return own.sign(
            claims | {"aud": ["volt-console", "some-other-app"], "azp": "some-other-app"}
        )

    assert (await _callback_error(signin, shared_without_azp))["code"] == "id_token_audience"


async def test_expired_token_is_refused(signin: SigninService) -> None:
    def expired(claims: dict[str, Any], own: SigningKey) -> str:
        now = int(time.time())
        return own.sign(claims | {"iat": now - 7200, "exp": now - 3600})

    assert (await _callback_error(signin, expired))["code"] == "id_token_expired"


async def test_other_issuer_is_refused(signin: SigninService) -> None:
    def other_issuer(claims: dict[str, Any], own: SigningKey) -> str:
        return own.sign(claims | {"iss": "https://evil.example"})

    assert (await _callback_error(signin, other_issuer))["code"] == "id_token_issuer"


async def test_replayed_nonce_is_refused(signin: SigninService) -> None:
    # A first sign-in goes through; its ID token (valid signature, audience, expiry) is kept.
    browser = await signin.browser()
    first = await start_login(browser.session, signin.base, await signin.admin(signin.a))
    assert (await finish_login(browser.session, first)).status == 302
    stolen = signin.idp.issued[-1]

    # Replaying that token into a new sign-in: its nonce is the old sign-in's.
    def replay(claims: dict[str, Any], own: SigningKey) -> str:
        return stolen

    assert (await _callback_error(signin, replay))["code"] == "id_token_nonce"
    # Replaying the first callback itself, state cookie and all: its state (and nonce) were
    # used up.
    r = await browser.get(
        first.callback_url.removeprefix(signin.base),
        headers={"Cookie": f"volt_oidc_state={first.state}"},
    )
    r.expect_error(401, "unknown_state")


async def test_callback_from_another_browser_is_refused(signin: SigninService) -> None:
    victim = await signin.browser()
    login = await start_login(victim.session, signin.base, await signin.admin(signin.a))
    attacker = await signin.browser()  # no state cookie: login CSRF
    r = await attacker.get(login.callback_url.removeprefix(signin.base))
    r.expect_error(401, "state_mismatch")


async def test_callback_bad_input(signin: SigninService) -> None:
    browser = await signin.browser()
    (await browser.get("/auth/oidc/callback?code=x")).expect_error(400, param="state")
    (await browser.get("/auth/oidc/callback?state=x")).expect_error(400, param="code")
    (await browser.get("/auth/oidc/callback?state=x&code=y&bogus=1")).expect_error(
        400, "unknown_parameter", "bogus"
    )
    r = await browser.get("/auth/oidc/callback?error=access_denied&state=x")
    r.expect_error(401, "oidc_error")
    (await browser.get("/auth/oidc/login?provider=nope")).expect_error(400, param="provider")


async def test_unmapped_and_unverified_users_are_forbidden(signin: SigninService) -> None:
    from lab.idp import set_user

    browser = await signin.browser()
    await set_user(
        signin.idp, "outsider", {"email": "eve@elsewhere.example", "email_verified": True}
    )
    login = await start_login(browser.session, signin.base, "outsider")
    r = await browser.get(login.callback_url.removeprefix(signin.base))
    r.expect_error(403, "user_not_mapped")

    sub = await signin.user(signin.a, groups=["volt-admins"], verified=False)
    login = await start_login(browser.session, signin.base, sub)
    r = await browser.get(login.callback_url.removeprefix(signin.base))
    r.expect_error(403, "user_not_mapped")


async def test_roles_follow_groups(signin: SigninService, pool: Any) -> None:
    member = await signin.browser_for(await signin.member(signin.a))
    page = await member.get("/console")
    assert b"(member)" in page.body and b"approve-device" not in page.body
    row = await pool.fetchrow(
        "SELECT role, org_id FROM console_sessions ORDER BY created_at DESC LIMIT 1"
    )
    assert (row["role"], row["org_id"]) == ("member", signin.a.id)


async def test_logout_needs_a_post_with_the_csrf_token(signin: SigninService) -> None:
    """The attack: sign a user out from another site, with a link (GET) or a cross-site form
    (a POST without the session's token). Both are refused and the session lives on."""
    browser = await signin.browser_for(await signin.member(signin.a))
    link = await browser.get("/auth/logout", check_spec=False)  # no such operation
    link.expect_error(405, "method_not_allowed")
    forged = await form_post(browser, "/auth/logout", {"csrf_token": "guessed"})
    forged.expect_error(403, "csrf_failed", "csrf_token")
    bare = await browser.post("/auth/logout")
    bare.expect_error(403, "csrf_failed", "csrf_token")
    page = await browser.get("/console")
    assert page.status == 200 and b'action="/auth/logout"' in page.body


async def test_logout_ends_the_session(signin: SigninService) -> None:
    browser = await signin.browser_for(await signin.admin(signin.a))
    cookie = next(c.value for c in browser.session.cookie_jar if c.key == "volt_session")
    console = await browser.get("/console")
    assert console.status == 200
    r = await browser.session.post(
        f"{signin.base}/auth/logout",
        data={"csrf_token": csrf_of(console)},
        allow_redirects=False,
    )
    assert r.status == 302 and r.headers["Location"] == "/console/signed-out"
    assert 'volt_session=""' in _set_cookie(r, "volt_session")
    # The old cookie value is dead on the server, not just forgotten by the browser.
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as thief:
        thief.cookie_jar.update_cookies(
            {"volt_session": cookie}, response_url=aiohttp.client.URL(signin.base)
        )
        page = await thief.get(f"{signin.base}/console", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"].startswith("/auth/oidc/login")
    assert (await browser.get("/console/signed-out")).status == 200


async def test_cookies_are_secure_over_tls(
    signin: SigninService, settings: Any, make_org: Any, spec: Any
) -> None:
    from tests.support.signin import signin_service

    tls = settings.model_copy(update={"public_url": "https://volt.example"})
    async with (
        signin_service(tls, signin.idp, make_org, spec) as svc,
        aiohttp.ClientSession(cookie_jar=cookie_jar()) as http,
    ):
        r = await http.get(f"{svc.base}/auth/oidc/login", allow_redirects=False)
        assert "secure" in _set_cookie(r, "volt_oidc_state").lower()
        state = r.cookies["volt_oidc_state"].value
        authorize = r.headers["Location"]
        assert "redirect_uri=https%3A%2F%2Fvolt.example%2Fauth%2Foidc%2Fcallback" in authorize
        sub = await svc.admin(svc.a)
        r = await http.post(authorize, data={"sub": sub}, allow_redirects=False)
        callback = r.headers["Location"].replace("https://volt.example", svc.base)
        # A browser sends the Secure cookie over TLS; here the proxy's hop is plain.
        r = await http.get(
            callback, headers={"Cookie": f"volt_oidc_state={state}"}, allow_redirects=False
        )
        assert r.status == 302
        session = _set_cookie(r, "volt_session").lower()
        assert "secure" in session and "httponly" in session and "samesite=lax" in session


async def test_unconfigured_and_unreachable_idp(
    client: Client, signin: SigninService, settings: Any, make_org: Any, spec: Any
) -> None:
    # The suite's default app has no provider configured.
    (await client.get("/auth/oidc/login")).expect_error(503, "oidc_not_configured")
    from tests.support.signin import provider_for, signin_service

    dead = provider_for(signin.idp).model_copy(update={"issuer": "http://127.0.0.1:9"})
    async with signin_service(settings, signin.idp, make_org, spec, provider=dead) as svc:
        r = await svc.cli.get("/auth/oidc/login")
        r.expect_error(503, "idp_unavailable")
