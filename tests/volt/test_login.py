"""`volt login` end to end: the real CLI process speaks RFC 8628 to the running service while
an admin, signed in through the real IdP, approves or denies on the verification page. Then
the saved credentials work for the CLI and the SDK, and an expired access token is refreshed
(once, however many copies of a client made with `with_options` find it expired)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from admin.signin.device.config import OAuthSettings
from tests.conftest import MakeOrg
from tests.support.idp import Idp, run_idp
from tests.support.openapi import Spec
from tests.support.signin import SigninService, signin_service
from tests.volt.conftest import VOLT, RunVolt, sync
from volt import AsyncVolt, AuthenticationError, OAuthError, Volt
from volt.credentials import Credentials, load_credentials
from volt.types.oauth import TokenResponse
from voltcore.config import Settings
from voltcore.db import Pool


@pytest.fixture(scope="module")
def idp() -> Iterator[Idp]:
    with run_idp() as provider:
        yield provider


@pytest_asyncio.fixture
async def signin(
    settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec
) -> AsyncIterator[SigninService]:
    async with signin_service(
        settings, idp, make_org, spec, oauth=OAuthSettings(interval_s=1, device_code_ttl_s=60)
    ) as svc:
        yield svc


class Login:
    """A running `volt login`: its stderr lines as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if match := re.search(pattern, line):
                        return match
                assert self.proc.stderr is not None
                raw = await self.proc.stderr.readline()
                assert raw, f"volt login ended without {pattern!r}: {self.lines}"
                self.lines.append(raw.decode())

    async def finish(self) -> tuple[int, str]:
        assert self.proc.stderr is not None
        rest = await asyncio.wait_for(self.proc.stderr.read(), 60)
        return await self.proc.wait(), "".join(self.lines) + rest.decode()


async def start_login(base: str, env: dict[str, str]) -> Login:
    proc = await asyncio.create_subprocess_exec(
        str(VOLT),
        "login",
        env={**env, "VOLT_BASE_URL": base},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Login(proc)


async def test_login_pending_slow_down_approve_then_refresh(
    signin: SigninService, volt_env: dict[str, str], run_volt: RunVolt, pool: Pool
) -> None:
    login = await start_login(signin.base, volt_env)
    code = (await login.wait_for(r"enter the code: (\S+)"))[1]
    await login.wait_for(r"Waiting for approval")
    assert f"open {signin.base}/oauth/device " in "".join(login.lines)

    # Let it poll (pending) a while, then make its next poll look too fast: the server
    # answers slow_down and the CLI must back off by 5 s from then on.
    await asyncio.sleep(2.5)
    await pool.execute(
        "UPDATE oauth_device_codes SET last_polled_at = now() + interval '10 seconds' WHERE id = "
        "(SELECT id FROM oauth_device_codes WHERE status = 'pending' ORDER BY created_at DESC "
        "LIMIT 1)"
    )
    await login.wait_for(r"poll more slowly: every 6s")
    browser = await signin.browser_for(await signin.admin(signin.a))
    result = await signin.decide(browser, code, "approve")
    assert b"Device approved" in result.body
    status, err = await login.finish()
    assert status == 0, err
    assert "Signed in (scopes: read write)" in err

    path = Path(volt_env["VOLT_CONFIG_DIR"]) / "credentials.json"
    assert os.stat(path).st_mode & 0o777 == 0o600
    saved = load_credentials(path)
    assert saved is not None and saved.base_url == signin.base
    assert saved.access_token.startswith("volt_at_") and saved.refresh_token
    assert saved.expires_at is not None and saved.expires_at > time.time() + 3000

    # The CLI uses the saved sign-in: an OAuth principal of org A.
    who = await run_volt("whoami")
    assert who.code == 0, who.stderr
    assert signin.a.id in who.stdout and "oauth_token" in who.stdout

    # Expired: the next command refreshes first and saves the new tokens (0600 still).
    path.write_text(json.dumps({**saved.model_dump(), "expires_at": time.time() - 1}))
    again = await run_volt("whoami")
    assert again.code == 0, again.stderr
    renewed = load_credentials(path)
    assert renewed is not None and renewed.access_token != saved.access_token
    assert renewed.refresh_token != saved.refresh_token  # rotated
    assert os.stat(path).st_mode & 0o777 == 0o600

    # Concurrent calls that all find the token expired refresh it once: refresh tokens are
    # single-use, and reusing one would revoke the whole sign-in.
    once: list[Credentials] = []
    stale = renewed.model_copy(update={"expires_at": time.time() - 1})
    async with AsyncVolt(credentials=stale, save_refreshed=once.append) as aclient:
        principals = await asyncio.gather(*(aclient.me.retrieve() for _ in range(5)))
        assert {p.kind for p in principals} == {"oauth_token"} and len(once) == 1
        assert aclient.credentials is not None
        renewed = aclient.credentials

    # The SDK refreshes on a 401 too (the token was revoked early).
    await pool.execute(
        "UPDATE oauth_tokens SET expires_at = now() - interval '1 second' WHERE kind = 'access' "
        "AND org_id = $1",
        signin.a.id,
    )
    refreshed: list[Credentials] = []
    with Volt(credentials=renewed, save_refreshed=refreshed.append) as client:
        me = await sync(client.me.retrieve)
    assert me.kind == "oauth_token" and me.org_id == signin.a.id
    assert len(refreshed) == 1 and refreshed[0].access_token != renewed.access_token

    # `volt logout` revokes the whole approval on the server, then forgets it.
    path.write_text(refreshed[0].model_dump_json())
    out = await run_volt("logout")
    assert out.code == 0 and "Signed out" in out.stderr and not path.exists()
    with Volt(api_key="", base_url=signin.base) as anonymous:
        with pytest.raises(OAuthError) as dead:
            await sync(
                anonymous.oauth.token,
                grant_type="refresh_token",
                refresh_token=refreshed[0].refresh_token,
            )
        assert dead.value.code == "invalid_grant"
    async with AsyncVolt(base_url=signin.base, api_key=refreshed[0].access_token) as gone:
        with pytest.raises(AuthenticationError):
            await gone.me.retrieve()


async def test_client_copies_share_one_sign_in(signin: SigninService) -> None:
    """A client and its `with_options` copies hold one set of credentials: a token a copy
    refreshed is the one the original uses, and copies that find it expired together refresh
    it once. Reusing the spent refresh token instead would revoke the whole sign-in."""
    tokens = TokenResponse.model_validate(await signin.approved_tokens(signin.a))
    expired = {"expires_at": time.time() - 1}
    stale = Credentials.from_token(signin.base, tokens).model_copy(update=expired)
    saved: list[Credentials] = []
    async with AsyncVolt(credentials=stale, save_refreshed=saved.append) as client:
        patient = client.with_options(max_retries=5, timeout=30)
        assert (await patient.me.retrieve()).kind == "oauth_token"  # the copy refreshes
        assert len(saved) == 1 and client.credentials is patient.credentials is saved[0]
        assert (await client.me.retrieve()).org_id == signin.a.id  # with the copy's token
        assert len(saved) == 1

        # The shared token expires: the original and two copies, at once, refresh it once.
        client._session.auth.credentials = saved[0].model_copy(update=expired)
        copies = [client, patient, patient.with_options(max_retries=0)]
        principals = await asyncio.gather(*(c.me.retrieve() for c in copies for _ in range(2)))
        assert {p.kind for p in principals} == {"oauth_token"} and len(saved) == 2
        assert all(c.credentials is saved[1] for c in copies)

    # The sign-in is intact: the latest refresh token is still good (a reused one would have
    # revoked it).
    with Volt(api_key="", base_url=signin.base) as anonymous:
        renewed = await sync(
            anonymous.oauth.token,
            grant_type="refresh_token",
            refresh_token=saved[1].refresh_token,
        )
    assert renewed.access_token.startswith("volt_at_")


async def test_login_denied(signin: SigninService, volt_env: dict[str, str]) -> None:
    login = await start_login(signin.base, volt_env)
    code = (await login.wait_for(r"enter the code: (\S+)"))[1]
    browser = await signin.browser_for(await signin.admin(signin.a))
    result = await signin.decide(browser, code, "deny")
    assert b"Device denied" in result.body
    status, err = await login.finish()
    assert status == 1 and "denied" in err and "Traceback" not in err
    assert not (Path(volt_env["VOLT_CONFIG_DIR"]) / "credentials.json").exists()


async def test_login_expired(
    settings: Settings, idp: Idp, make_org: MakeOrg, spec: Spec, volt_env: dict[str, str]
) -> None:
    oauth = OAuthSettings(interval_s=1, device_code_ttl_s=2)
    async with signin_service(settings, idp, make_org, spec, oauth=oauth) as svc:
        login = await start_login(svc.base, volt_env)
        status, err = await login.finish()
    assert status == 1 and "expired" in err and "Traceback" not in err
    assert not (Path(volt_env["VOLT_CONFIG_DIR"]) / "credentials.json").exists()
