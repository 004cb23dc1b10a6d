"""The device flow end to end against the running service: a CLI side speaking RFC 8628 over
HTTP, and an admin signed in through the real IdP approving on the verification page."""

from __future__ import annotations

import asyncio
import hashlib
from ipaddress import ip_network

from admin.signin.device.config import OAuthSettings
from tests.conftest import MakeOrg
from tests.support.idp import Idp
from tests.support.openapi import Spec
from tests.support.signin import (
    CLIENT_ID,
    SigninService,
    csrf_of,
    form_post,
    signin_service,
)
from voltcore.config import Settings
from voltcore.db import Pool


def oauth_error(reply, error: str) -> None:  # type: ignore[no-untyped-def]
    assert reply.status == 400, (reply.status, reply.body)
    body = reply.json()
    assert body["error"] == error, body
    assert body["error_description"]
    assert reply.headers["Cache-Control"] == "no-store"


async def test_device_authorization_response(signin: SigninService) -> None:
    code = await signin.device_code()
    assert set(code) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert code["verification_uri"] == f"{signin.base}/oauth/device"
    assert code["verification_uri_complete"].endswith(f"?user_code={code['user_code']}")
    assert code["interval"] == 1 and code["expires_in"] == 600
    assert len(code["user_code"]) == 9 and code["user_code"][4] == "-"


async def test_pending_slow_down_approve_then_single_use(signin: SigninService, pool: Pool) -> None:
    code = await signin.device_code()
    oauth_error(await signin.poll(code["device_code"]), "authorization_pending")
    # Polling again at once, faster than the 1 s interval: slow down, and 5 s more from now on.
    oauth_error(await signin.poll(code["device_code"]), "slow_down")
    await asyncio.sleep(1.2)
    oauth_error(await signin.poll(code["device_code"]), "slow_down")  # 1.2 s < the new 6 s

    browser = await signin.browser_for(await signin.admin(signin.a))
    page = await browser.get(code["verification_uri_complete"].removeprefix(signin.base))
    assert page.status == 200
    assert CLIENT_ID.encode() in page.body and code["user_code"].encode() in page.body
    result = await signin.decide(browser, code["user_code"], "approve")
    assert b"Device approved" in result.body

    await asyncio.sleep(0.1)  # once approved, the interval no longer holds the tokens back
    r = await signin.poll(code["device_code"])
    assert r.status == 200, r.body
    tokens = r.json()
    assert r.headers["Cache-Control"] == "no-store"
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["scope"] == "read write"
    assert tokens["access_token"].startswith("volt_at_")
    assert tokens["refresh_token"].startswith("volt_rt_")

    # The access token is a principal of org A, like an API key, and audited as one.
    me = (await signin.cli.get("/v1/me", key=tokens["access_token"])).json()
    assert me["org_id"] == signin.a.id and me["kind"] == "oauth_token"
    assert me["spiffe_id"] == signin.a.spiffe_id and me["scopes"] == ["read", "write"]
    assert me["api_key_id"] is None
    keys = await signin.cli.get(f"/v1/orgs/{signin.a.id}/api-keys", key=tokens["access_token"])
    assert keys.status == 200

    # Single use: the same device code yields nothing more.
    oauth_error(await signin.poll(code["device_code"]), "invalid_grant")

    # Its use is recorded (batched, off the request path), like a key's.
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    for _ in range(50):
        used = await pool.fetchval(
            "SELECT last_used_at FROM oauth_tokens WHERE token_hash = $1", digest
        )
        if used is not None:
            break
        await asyncio.sleep(0.1)
    assert used is not None

    # Stored only as hashes.
    for secret in (tokens["access_token"], tokens["refresh_token"], code["device_code"]):
        digest = hashlib.sha256(secret.encode()).digest()
        stored = await pool.fetchval(
            "SELECT count(*) FROM oauth_tokens WHERE token_hash = $1", digest
        ) + await pool.fetchval(
            "SELECT count(*) FROM oauth_device_codes WHERE device_code_hash = $1", digest
        )
        assert stored == 1
    dump = await pool.fetchval(
        "SELECT string_agg(t::text, '') FROM (SELECT * FROM oauth_tokens) t"
    ) + await pool.fetchval("SELECT string_agg(d::text, '') FROM oauth_device_codes d")
    for secret in (tokens["access_token"], tokens["refresh_token"], code["device_code"]):
        assert secret not in dump
    assert code["user_code"].replace("-", "") not in dump


async def test_admin_can_narrow_the_scopes(signin: SigninService) -> None:
    code = await signin.device_code("read write")
    browser = await signin.browser_for(await signin.admin(signin.a))
    await signin.decide(browser, code["user_code"], "approve", scopes=["read"])
    tokens = (await signin.poll(code["device_code"])).json()
    assert tokens["scope"] == "read"
    me = (await signin.cli.get("/v1/me", key=tokens["access_token"])).json()
    assert me["scopes"] == ["read"]
    # Nor can a form grant what the device did not ask for.
    code = await signin.device_code("read")
    r = await signin.decide(browser, code["user_code"], "approve", scopes=["read", "write"])
    r.expect_error(400, "invalid_value", "scope")


async def test_deny(signin: SigninService) -> None:
    code = await signin.device_code()
    browser = await signin.browser_for(await signin.admin(signin.a))
    page = await browser.get(f"/oauth/device?user_code={code['user_code']}")
    result = await signin.post_decision(browser, csrf_of(page), code["user_code"], "deny")
    assert b"Device denied" in result.body
    oauth_error(await signin.poll(code["device_code"]), "access_denied")
    # Decided once: approving it afterwards finds no pending code, by page or by form.
    again = await signin.decide(browser, code["user_code"], "approve")
    assert b"unknown, has expired or was already used" in again.body
    again = await signin.post_decision(browser, csrf_of(page), code["user_code"], "approve")
    assert b"unknown, has expired or was already used" in again.body
    oauth_error(await signin.poll(code["device_code"]), "access_denied")


async def test_expiry(settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec) -> None:
    oauth = OAuthSettings(interval_s=1, device_code_ttl_s=2)
    async with signin_service(settings, idp, make_org, spec, oauth=oauth) as svc:
        code = await svc.device_code()
        assert code["expires_in"] == 2
        oauth_error(await svc.poll(code["device_code"]), "authorization_pending")
        await asyncio.sleep(2.2)
        oauth_error(await svc.poll(code["device_code"]), "expired_token")
        # Too late to approve, too.
        browser = await svc.browser_for(await svc.admin(svc.a))
        page = await browser.get(f"/oauth/device?user_code={code['user_code']}")
        assert b"unknown, has expired or was already used" in page.body
        oauth_error(await svc.poll(code["device_code"]), "expired_token")


async def test_refresh_rotates_and_reuse_revokes_the_grant(signin: SigninService) -> None:
    tokens = await signin.approved_tokens(signin.a)
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": CLIENT_ID,
    }
    r = await form_post(signin.cli, "/oauth/token", refresh)
    assert r.status == 200, r.body
    renewed = r.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert (await signin.cli.get("/v1/me", key=renewed["access_token"])).status == 200
    # Narrowing on refresh is allowed, widening is not.
    narrow = await form_post(
        signin.cli,
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": renewed["refresh_token"], "scope": "read"},
    )
    assert narrow.status == 200 and narrow.json()["scope"] == "read"
    wide = await form_post(
        signin.cli,
        "/oauth/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": narrow.json()["refresh_token"],
            "scope": "read write",
        },
    )
    oauth_error(wide, "invalid_scope")
    # The first refresh token, used again: someone copied it. Everything of the grant goes.
    oauth_error(await form_post(signin.cli, "/oauth/token", refresh), "invalid_grant")
    for access in (tokens["access_token"], renewed["access_token"], narrow.json()["access_token"]):
        r = await signin.cli.get("/v1/me", key=access)
        r.expect_error(401, "revoked_token")
    # A refresh token is not a bearer credential.
    r = await signin.cli.get("/v1/me", key=narrow.json()["refresh_token"])
    r.expect_error(401, "invalid_token")


async def test_revocation_takes_effect_at_once(signin: SigninService) -> None:
    tokens = await signin.approved_tokens(signin.a)
    key = tokens["access_token"]
    assert (await signin.cli.get("/v1/me", key=key)).status == 200  # now cached
    r = await form_post(signin.cli, "/oauth/revoke", {"token": tokens["refresh_token"]})
    assert r.status == 200
    (await signin.cli.get("/v1/me", key=key)).expect_error(401, "revoked_token")
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    oauth_error(await form_post(signin.cli, "/oauth/token", refresh), "invalid_grant")
    # Unknown tokens revoke "successfully" too (RFC 7009 §2.2): the answer reveals nothing.
    assert (await form_post(signin.cli, "/oauth/revoke", {"token": "nonsense"})).status == 200


async def test_expired_access_token(signin: SigninService, pool: Pool) -> None:
    tokens = await signin.approved_tokens(signin.a)
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    await pool.execute(
        "UPDATE oauth_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        digest,
    )
    r = await signin.cli.get("/v1/me", key=tokens["access_token"])
    r.expect_error(401, "expired_token")


async def test_token_endpoint_bad_requests(signin: SigninService) -> None:
    cli = signin.cli
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "invalid_request"),
        ({"grant_type": "password", "username": "a"}, "unsupported_grant_type"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, "invalid_request"),
        (
            {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "nope"},
            "invalid_grant",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "volt_rt_nope"}, "invalid_grant"),
        (
            {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "other"},
            "invalid_client",
        ),
    ]
    for form, error in cases:
        oauth_error(await form_post(cli, "/oauth/token", form), error)
    oauth_error(
        await cli.post("/oauth/token", json={"grant_type": "refresh_token"}), "invalid_request"
    )
    oauth_error(await form_post(cli, "/oauth/device/code", {}), "invalid_request")
    oauth_error(await form_post(cli, "/oauth/device/code", {"client_id": "evil"}), "invalid_client")
    oauth_error(
        await form_post(cli, "/oauth/device/code", {"client_id": CLIENT_ID, "scope": "admin"}),
        "invalid_scope",
    )
    oauth_error(
        await form_post(
            cli, "/oauth/device/code", [("client_id", CLIENT_ID), ("client_id", CLIENT_ID)]
        ),
        "invalid_request",
    )
    # Another client may not redeem this one's device code.
    code = await signin.device_code()
    r = await form_post(
        cli,
        "/oauth/token",
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": code["device_code"],
            "client_id": "volt-other",
        },
    )
    oauth_error(r, "invalid_client")


async def test_a_flood_of_device_authorizations_is_refused(
    settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec
) -> None:
    oauth = OAuthSettings(device_codes_per_window=2, device_code_window_s=60)
    async with signin_service(settings, idp, make_org, spec, oauth=oauth) as svc:
        await svc.device_code()
        await svc.device_code()
        refused = await form_post(svc.cli, "/oauth/device/code", {"client_id": CLIENT_ID})
        assert refused.status == 429
        assert refused.json()["error"] == "too_many_requests"
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["Cache-Control"] == "no-store"


async def _device_code_from(svc: SigninService, forwarded_for: str) -> int:
    from urllib.parse import urlencode

    r = await svc.cli.post(
        "/oauth/device/code",
        data=urlencode({"client_id": CLIENT_ID}),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": forwarded_for,
        },
    )
    return r.status


async def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec
) -> None:
    """Behind an ingress every socket is the proxy's: the budget is per forwarded client, and
    a client cannot escape its own by writing more addresses into the header."""
    oauth = OAuthSettings(device_codes_per_window=2, device_code_window_s=60)
    proxied = settings.model_copy(update={"trusted_proxies": [ip_network("127.0.0.0/8")]})
    async with signin_service(proxied, idp, make_org, spec, oauth=oauth) as svc:
        assert await _device_code_from(svc, "203.0.113.7") == 200
        assert await _device_code_from(svc, "203.0.113.7") == 200
        assert await _device_code_from(svc, "203.0.113.7") == 429
        # Forged hops to the left of the real client are the client's own writing: ignored.
        assert await _device_code_from(svc, "198.51.100.99, 203.0.113.7") == 429
        # Another user behind the same ingress is not held up by the first.
        assert await _device_code_from(svc, "198.51.100.1") == 200


async def test_without_a_trusted_proxy_the_header_is_ignored(
    settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec
) -> None:
    """The attack: a direct client names a new address in every request to get a new budget."""
    oauth = OAuthSettings(device_codes_per_window=2, device_code_window_s=60)
    async with signin_service(settings, idp, make_org, spec, oauth=oauth) as svc:
        statuses = [await _device_code_from(svc, f"203.0.113.{n}") for n in range(1, 5)]
        assert statuses == [200, 200, 429, 429]
