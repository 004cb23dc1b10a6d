"""Authentication failures (401) and scope enforcement (403) on every admin endpoint."""

from __future__ import annotations

import pytest

from tests.conftest import Org
from tests.support.client import Client
from voltcore.keys import generate_key


async def test_missing_credentials(client: Client, org: Org) -> None:
    r = await client.get("/v1/me")
    r.expect_error(401, "missing_api_key")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Basic dXNlcjpwYXNz", "invalid_authorization"),
        ("Bearer", "invalid_authorization"),
        ("Bearer sk-not-a-volt-key", "invalid_api_key"),
        ("Bearer volt_sk_live_short", "invalid_api_key"),
    ],
)
async def test_malformed_credentials(client: Client, header: str, code: str) -> None:
    r = await client.get("/v1/me", headers={"Authorization": header})
    r.expect_error(401, code)


async def test_checksum_catches_a_mistyped_key(client: Client, org: Org) -> None:
    typo = org.key[:20] + ("A" if org.key[20] != "A" else "B") + org.key[21:]
    (await client.get("/v1/me", key=typo)).expect_error(401, "invalid_api_key")


async def test_unknown_well_formed_key(client: Client) -> None:
    r = await client.get("/v1/me", key=generate_key())
    error = r.expect_error(401, "invalid_api_key")
    assert "volt_sk_live_..." in error["message"]


async def _key_with(client: Client, org: Org, scopes: list[str]) -> str:
    r = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "s", "scopes": scopes}
    )
    assert r.status == 201
    return r.json()["secret"]  # type: ignore[no-any-return]


def write_calls(org: Org) -> list[tuple[str, str, dict[str, object] | None]]:
    base = f"/v1/orgs/{org.id}/api-keys"
    return [
        ("POST", base, {"name": "x"}),
        ("DELETE", f"{base}/{org.key_id}", None),
        ("POST", f"{base}/{org.key_id}/rotate", None),
    ]


def read_calls(org: Org) -> list[str]:
    return [
        "/v1/me",
        f"/v1/orgs/{org.id}",
        f"/v1/orgs/{org.id}/api-keys",
        f"/v1/orgs/{org.id}/api-keys/{org.key_id}",
        f"/v1/orgs/{org.id}/audit-logs",
        "/v1/usage?start_time=0",
    ]


async def test_read_scope_cannot_write(client: Client, org: Org) -> None:
    reader = await _key_with(client, org, ["read"])
    for path in read_calls(org):
        assert (await client.get(path, key=reader)).status == 200, path
    for method, path, body in write_calls(org):
        r = await client.request(method, path, key=reader, json=body)
        r.expect_error(403, "insufficient_scope")
    # Nothing changed: the admin key still works and was not rotated.
    assert (await client.get("/v1/me", key=org.key)).status == 200


async def test_write_scope_alone_cannot_read(client: Client, org: Org) -> None:
    writer = await _key_with(client, org, ["write"])
    for path in read_calls(org):
        (await client.get(path, key=writer)).expect_error(403, "insufficient_scope")
    r = await client.post(f"/v1/orgs/{org.id}/api-keys", key=writer, json={"name": "w"})
    r.expect_error(403, param="scopes")  # the default scopes include read, which it lacks
    r = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=writer, json={"name": "w", "scopes": ["write"]}
    )
    assert r.status == 201


async def test_key_cannot_mint_broader_scopes(client: Client, org: Org) -> None:
    # Reads cannot create keys at all; a write-only key cannot create a read key.
    writer = await _key_with(client, org, ["write"])
    r = await client.post(
        f"/v1/orgs/{org.id}/api-keys", key=writer, json={"name": "esc", "scopes": ["read"]}
    )
    r.expect_error(403, "insufficient_scope", "scopes")
