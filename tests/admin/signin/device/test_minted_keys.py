"""Keys minted with a CLI's access token, against the running service: they cannot outlive
the sign-in that made them unless the approving user is an org admin."""

from __future__ import annotations

import time

from tests.support.signin import SigninService, form_post
from voltcore.db import Pool


async def _demote_approver(pool: Pool, access_token: str) -> None:
    """The approving admin loses the role (the IdP's groups changed): the CLI acts for a
    member from now on."""
    await pool.execute(
        """UPDATE users SET role = 'member' WHERE id =
               (SELECT user_id FROM oauth_tokens WHERE token_hash = sha256($1::text::bytea))""",
        access_token,
    )


async def test_a_members_cli_cannot_mint_a_key_that_outlives_its_sign_in(
    signin: SigninService, pool: Pool
) -> None:
    """The attack: a short-lived CLI sign-in mints a key with no expiry, keeping access after
    the sign-in ends or is revoked."""
    tokens = await signin.approved_tokens(signin.a)
    await _demote_approver(pool, tokens["access_token"])
    path = f"/v1/orgs/{signin.a.id}/api-keys"
    forever = await signin.cli.post(
        path, key=tokens["access_token"], json={"name": "forever", "expires_at": 4_000_000_000}
    )
    forever.expect_error(403, "exceeds_grant", "expires_at")
    # With no expiry asked for, the key gets the sign-in's end, not "never".
    r = await signin.cli.post(path, key=tokens["access_token"], json={"name": "cli"})
    assert r.status == 201, r.body
    key = r.json()
    grant_end = time.time() + 30 * 86_400  # the refresh token's lifetime
    assert key["expires_at"] is not None and key["expires_at"] <= grant_end + 5
    assert (await signin.cli.get("/v1/me", key=key["secret"])).status == 200
    # Rotating it with the token cannot stretch it either.
    rotated = await signin.cli.post(f"{path}/{key['id']}/rotate", key=tokens["access_token"])
    assert rotated.status == 201 and rotated.json()["expires_at"] <= key["expires_at"]
    # Signing the CLI out (revoking its refresh token) revokes the keys it minted.
    revoked = await form_post(signin.cli, "/oauth/revoke", {"token": tokens["refresh_token"]})
    assert revoked.status == 200
    for secret in (key["secret"], rotated.json()["secret"]):
        (await signin.cli.get("/v1/me", key=secret)).expect_error(401, "revoked_api_key")


async def test_an_admins_cli_may_mint_a_lasting_key(signin: SigninService) -> None:
    tokens = await signin.approved_tokens(signin.a)
    path = f"/v1/orgs/{signin.a.id}/api-keys"
    r = await signin.cli.post(path, key=tokens["access_token"], json={"name": "service"})
    assert r.status == 201 and r.json()["expires_at"] is None
    await form_post(signin.cli, "/oauth/revoke", {"token": tokens["refresh_token"]})
    assert (await signin.cli.get("/v1/me", key=r.json()["secret"])).status == 200


async def test_a_read_token_cannot_mint_or_rotate_a_write_key(signin: SigninService) -> None:
    """Scopes bound every credential the same way, tokens included: `write` alone can mint,
    and only keys within the caller's own scopes."""
    tokens = await signin.approved_tokens(signin.a, scope="write")
    path = f"/v1/orgs/{signin.a.id}/api-keys"
    r = await signin.cli.post(path, key=tokens["access_token"], json={"name": "rw"})
    r.expect_error(403, "insufficient_scope", "scopes")
    r = await signin.cli.post(
        f"{path}/{signin.a.key_id}/rotate", key=tokens["access_token"], json={}
    )
    r.expect_error(403, "insufficient_scope", "scopes")
    assert (await signin.cli.get("/v1/me", key=signin.a.key)).status == 200
