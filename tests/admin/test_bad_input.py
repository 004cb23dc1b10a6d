"""Bad input always gets a 4xx OpenAI error naming the parameter, never a 500."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.conftest import Org, serve
from tests.support.client import Client
from voltcore.http import errors_middleware, observe_middleware


def keys(org: Org) -> str:
    return f"/v1/orgs/{org.id}/api-keys"


async def test_malformed_json(client: Client, org: Org) -> None:
    r = await client.post(keys(org), key=org.key, data=b'{"name": "x",', check_spec=True)
    error = r.expect_error(400, "invalid_json")
    assert "line 1" in error["message"]


@pytest.mark.parametrize("body", [b"[1, 2]", b'"name"', b"42", b"", b"   "])
async def test_body_must_be_an_object(client: Client, org: Org, body: bytes) -> None:
    r = await client.post(keys(org), key=org.key, data=body)
    r.expect_error(400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"name": 5}, "name", "invalid_type"),
        ({"name": ""}, "name", "invalid_value"),
        ({"name": "x" * 129}, "name", "invalid_value"),
        ({}, "name", "missing_required_parameter"),
        ({"name": "x", "scopes": "read"}, "scopes", "invalid_type"),
        ({"name": "x", "scopes": []}, "scopes", "invalid_value"),
        ({"name": "x", "scopes": ["admin"]}, "scopes[0]", "invalid_value"),
        ({"name": "x", "expires_at": "tomorrow"}, "expires_at", "invalid_type"),
        ({"name": "x", "expires_at": 1000}, "expires_at", "invalid_value"),
        ({"name": "x", "colour": "blue"}, "colour", "unknown_parameter"),
    ],
)
async def test_invalid_fields_are_named(
    client: Client, org: Org, body: dict[str, object], param: str, code: str
) -> None:
    r = await client.post(keys(org), key=org.key, json=body)
    error = r.expect_error(400, code, param)
    assert param.split("[")[0] in error["message"]


async def test_rotate_body_is_validated_too(client: Client, org: Org) -> None:
    path = f"{keys(org)}/{org.key_id}/rotate"
    r = await client.post(path, key=org.key, json={"grace_period_seconds": -1})
    r.expect_error(400, "invalid_value", "grace_period_seconds")
    r = await client.post(path, key=org.key, json={"grace_period_seconds": 10**9})
    r.expect_error(400, "invalid_value", "grace_period_seconds")
    r = await client.post(path, key=org.key, json={"grace": 5})
    r.expect_error(400, "unknown_parameter", "grace")


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"limit": "0"}, "limit", "invalid_value"),
        ({"limit": "101"}, "limit", "invalid_value"),
        ({"limit": "ten"}, "limit", "invalid_type"),
        ({"limit": ["1", "2"]}, "limit", "invalid_value"),
        ({"order": "asc"}, "order", "unknown_parameter"),
    ],
)
async def test_query_parameters_are_validated(
    client: Client, org: Org, params: dict[str, object], param: str, code: str
) -> None:
    r = await client.get(keys(org), key=org.key, params=params)
    r.expect_error(400, code, param)


async def test_oversized_body_is_413(client: Client, org: Org) -> None:
    big = b'{"name": "' + b"x" * (128 * 1024) + b'"}'
    r = await client.post(keys(org), key=org.key, data=big)
    r.expect_error(413, "payload_too_large")


async def test_unknown_url_and_method(client: Client, org: Org) -> None:
    r = await client.get("/v1/nothing-here", key=org.key, check_spec=False)
    r.expect_error(404, "unknown_url")
    # Unknown URLs are reported as such even without credentials.
    (await client.get("/v1/nothing-here", check_spec=False)).expect_error(404, "unknown_url")
    r = await client.request("PUT", keys(org), key=org.key, check_spec=False)
    r.expect_error(405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


async def test_request_ids_are_unique_and_client_ids_echoed(client: Client, org: Org) -> None:
    ids = set()
    for _ in range(5):
        r = await client.get("/v1/me", key=org.key, headers={"x-client-request-id": "trace-1"})
        ids.add(r.headers["x-request-id"])
        assert r.headers["x-client-request-id"] == "trace-1"
    assert len(ids) == 5


async def test_a_bug_is_a_500_error_object_without_a_stack_trace(settings: object) -> None:
    import aiohttp

    from voltcore.appkeys import METRICS, SETTINGS
    from voltcore.metrics import Metrics

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app = web.Application(middlewares=[observe_middleware, errors_middleware])
    app[SETTINGS] = settings  # type: ignore[assignment]
    app[METRICS] = Metrics("test")
    app.router.add_get("/boom", boom)
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as session, session.get(base + "/boom") as resp:
            body = await resp.json()
            assert resp.status == 500
            assert resp.headers["x-request-id"].startswith("req_")
    finally:
        await runner.cleanup()
    assert body["error"]["type"] == "server_error"
    assert "secret internal detail" not in str(body)
    assert "Traceback" not in str(body)
