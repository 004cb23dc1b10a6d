"""Requests and tokens per minute against the session's real Spark and Postgres: OpenAI's
`x-ratelimit-*` headers with true values on every inference response, 429 with `retry-after`
past a limit (as the openai SDK reads it), reservations that concurrent requests cannot all
pass, corrected to the tokens used when a request ends early, and a key's own limit binding
only that key. Limits are set the operator's way (the org's ceiling, migration 0011)."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest

from inference.appkeys import RATE_LIMITER
from tests.conftest import MakeOrg, Org
from tests.inference.conftest import MINILM, TINY, Spark
from tests.support.client import Client
from voltcore.db import Pool

# The random-weight model may end at any step; banning its end tokens makes it run to
# max_tokens, so a request uses exactly what it reserved.
NO_END = {"0": -100, "2": -100}
CHAT = {"model": TINY, "messages": [{"role": "user", "content": "hi"}], "logit_bias": NO_END}


async def limited(pool: Pool, make_org: MakeOrg, rpm: int, tpm: int) -> Org:
    org = await make_org("Limited")
    await pool.execute(
        "UPDATE orgs SET rpm_ceiling = $2, tpm_ceiling = $3 WHERE id = $1", org.id, rpm, tpm
    )
    return org


def ratelimit(headers: object) -> dict[str, str]:
    return {k.lower(): v for k, v in dict(headers).items() if k.lower().startswith("x-ratelimit")}  # type: ignore[call-overload]


async def test_every_inference_response_carries_true_rate_limit_headers(
    api: Client, make_org: MakeOrg, pool: Pool, spark: Spark
) -> None:
    org = await limited(pool, make_org, 50, 20_000)
    first = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 8})
    assert first.status == 200, first.body
    prompt = first.json()["usage"]["prompt_tokens"]
    assert ratelimit(first.headers) == {
        "x-ratelimit-limit-requests": "50",
        "x-ratelimit-limit-tokens": "20000",
        "x-ratelimit-remaining-requests": "49",
        "x-ratelimit-remaining-tokens": str(20_000 - (prompt + 8)),
        "x-ratelimit-reset-requests": "1m0s",
        "x-ratelimit-reset-tokens": "1m0s",
    }
    await spark.app[RATE_LIMITER].drain()
    # A stream's head carries them too; the first request counts what it used (all 8 tokens).
    stream = await api.post(
        "/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 4, "stream": True}
    )
    assert stream.status == 200
    got = ratelimit(stream.headers)
    assert got["x-ratelimit-remaining-requests"] == "48"
    assert got["x-ratelimit-remaining-tokens"] == str(20_000 - (prompt + 8) - (prompt + 4))
    # Responses that reserve nothing say how the window stands: a listing, a 400 before admission.
    listing = await api.get("/v1/models", key=org.key)
    assert ratelimit(listing.headers)["x-ratelimit-remaining-requests"] == "48"
    bad = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": -1})
    assert bad.status == 400
    assert ratelimit(bad.headers)["x-ratelimit-limit-tokens"] == "20000"
    # Embeddings reserve their input tokens exactly.
    emb = await api.post("/v1/embeddings", key=org.key, json={"model": MINILM, "input": "hello"})
    assert emb.status == 200, emb.body
    assert ratelimit(emb.headers)["x-ratelimit-remaining-requests"] == "47"


async def test_past_the_request_limit_is_a_429_with_retry_after(
    api: Client, make_org: MakeOrg, pool: Pool, spark: Spark
) -> None:
    org = await limited(pool, make_org, 2, 20_000)
    for _ in range(2):
        ok = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 1})
        assert ok.status == 200
    refused = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 1})
    assert refused.status == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert "requests per min (RPM): Limit 2, Used 2" in error["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert 0 < int(refused.headers["retry-after-ms"]) <= 60_000
    assert ratelimit(refused.headers)["x-ratelimit-remaining-requests"] == "0"
    # The openai SDK reads it as its RateLimitError, with the headers it retries on.
    client = openai.AsyncOpenAI(base_url=f"{spark.base}/v1", api_key=org.key, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(
            model=TINY, messages=[{"role": "user", "content": "hi"}], max_tokens=1
        )
    assert caught.value.response.headers["retry-after-ms"]
    await client.close()


async def test_concurrent_requests_cannot_all_pass_the_token_limit(
    api: Client, make_org: MakeOrg, pool: Pool
) -> None:
    org = await limited(pool, make_org, 1000, 1)
    probe = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 8})
    assert probe.status == 400  # 1 token per minute fits nothing: see the next test
    cost = 0
    # Room for exactly five requests that each use all they reserve.
    first = await make_org("Probe")
    sized = await api.post("/v1/chat/completions", key=first.key, json={**CHAT, "max_tokens": 8})
    cost = sized.json()["usage"]["total_tokens"]
    await pool.execute("UPDATE orgs SET tpm_ceiling = $2 WHERE id = $1", org.id, 5 * cost)
    await asyncio.sleep(1.2)  # the key cache hears of the change (NOTIFY) and reloads
    replies = await asyncio.gather(
        *(
            api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 8})
            for _ in range(16)
        )
    )
    assert sorted(r.status for r in replies) == [200] * 5 + [429] * 11
    assert all("retry-after" in r.headers for r in replies if r.status == 429)


async def test_a_request_that_could_never_fit_is_a_400_naming_max_tokens(
    api: Client, make_org: MakeOrg, pool: Pool
) -> None:
    org = await limited(pool, make_org, 100, 500)
    r = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 600})
    assert r.status == 400
    error = r.json()["error"]
    assert error["param"] == "max_tokens" and error["code"] == "rate_limit_request_too_large"
    # max_tokens unset reserves the context left (about 1000 tokens on this model): too much.
    r = await api.post("/v1/chat/completions", key=org.key, json=CHAT)
    assert r.status == 400


async def test_what_a_request_did_not_use_comes_back_when_it_ends(
    api: Client, make_org: MakeOrg, pool: Pool, spark: Spark
) -> None:
    """A stream reserving 600 tokens that the client leaves after its first chunk is settled to
    what was generated, so a second one fits a 1000-token limit at once."""
    org = await limited(pool, make_org, 100, 1000)
    body = {**CHAT, "max_tokens": 600, "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{api.base}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {org.key}"},
        ) as resp,
    ):
        assert resp.status == 200
        await resp.content.readline()
    for _ in range(100):  # the server sees the disconnect, aborts, and settles
        await spark.app[RATE_LIMITER].drain()
        used = await pool.fetchval("SELECT tokens FROM rate_reservations WHERE org_id = $1", org.id)
        if used is not None and used < 600:
            break
        await asyncio.sleep(0.05)
    assert used is not None and used < 300
    second = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 600})
    assert second.status == 200, second.body


async def test_a_keys_own_limit_binds_that_key_only(
    api: Client, make_org: MakeOrg, pool: Pool
) -> None:
    org = await limited(pool, make_org, 1000, 100_000)
    capped = await api.post(f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "batch job"})
    assert capped.status in (200, 201), capped.body
    key = capped.json()
    await pool.execute("UPDATE api_keys SET rpm_limit = 1 WHERE id = $1", key["id"])
    await asyncio.sleep(1.2)
    assert (
        await api.post("/v1/chat/completions", key=key["secret"], json={**CHAT, "max_tokens": 1})
    ).status == 200
    refused = await api.post(
        "/v1/chat/completions", key=key["secret"], json={**CHAT, "max_tokens": 1}
    )
    assert refused.status == 429 and "this API key" in refused.json()["error"]["message"]
    assert ratelimit(refused.headers)["x-ratelimit-limit-requests"] == "1"
    # The org's other key is not held back by it, and its window counts both keys' requests.
    other = await api.post("/v1/chat/completions", key=org.key, json={**CHAT, "max_tokens": 1})
    assert other.status == 200
    assert ratelimit(other.headers)["x-ratelimit-remaining-requests"] == str(1000 - 2)
