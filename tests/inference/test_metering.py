"""Spark meters every request into usage_events and audits it, without any prompt or completion
text anywhere (database, logs, metrics); revoked keys and other orgs are refused."""

from __future__ import annotations

import asyncio
import logging
import secrets

import orjson
import pytest

from tests.conftest import MakeOrg, Org
from tests.inference.conftest import MINILM, TINY, Spark
from tests.support.client import Client
from voltcore.appkeys import AUDIT, USAGE
from voltcore.db import Pool


async def flush(spark: Spark) -> None:
    for writer in (spark.app[USAGE], spark.app[AUDIT]):
        while writer.pending:
            await writer.flush()


async def test_usage_rows_match_responses_and_hold_no_text(
    api: Client, make_org: MakeOrg, spark: Spark, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    org = await make_org()
    secret_prompt = f"my secret plan {secrets.token_hex(8)}"
    caplog.set_level(logging.DEBUG)
    chat = (
        await api.post(
            "/v1/chat/completions",
            key=org.key,
            json={
                "model": TINY,
                "max_tokens": 7,
                "messages": [{"role": "user", "content": secret_prompt}],
            },
        )
    ).json()
    stream = await api.post(
        "/v1/completions",
        key=org.key,
        json={
            "model": TINY,
            "prompt": secret_prompt,
            "max_tokens": 4,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    streamed_usage = stream.events()[-1]["usage"]
    emb = (
        await api.post(
            "/v1/embeddings", key=org.key, json={"model": MINILM, "input": [secret_prompt, "two"]}
        )
    ).json()
    await flush(spark)

    rows = await pool.fetch("SELECT * FROM usage_events WHERE org_id = $1 ORDER BY time", org.id)
    got = [
        (
            r["endpoint"],
            r["model"],
            r["api_key_id"],
            r["prompt_tokens"],
            r["completion_tokens"],
            r["requests"],
        )
        for r in rows
    ]
    assert got == [
        ("/v1/chat/completions", TINY, org.key_id, chat["usage"]["prompt_tokens"], 7, 1),
        ("/v1/completions", TINY, org.key_id, streamed_usage["prompt_tokens"], 4, 1),
        ("/v1/embeddings", MINILM, org.key_id, emb["usage"]["prompt_tokens"], 0, 1),
    ]
    # Through the usage API too.
    usage = (
        await api.get(
            "/v1/usage",
            key=org.key,
            params={"start_time": int(rows[0]["time"].timestamp()) - 60, "group_by": "endpoint"},
        )
    ).json()
    endpoints = {r["endpoint"]: r["output_tokens"] for b in usage["data"] for r in b["results"]}
    assert endpoints == {"/v1/chat/completions": 7, "/v1/completions": 4, "/v1/embeddings": 0}

    # The prompt is nowhere: not in any table, not in any log record, not in the metrics.
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    for t in tables:
        dump = orjson.dumps(
            [dict(r) for r in await pool.fetch(f'SELECT * FROM "{t["table_name"]}"')], default=str
        )
        assert secret_prompt.encode() not in dump, t["table_name"]
    assert all(
        secret_prompt not in r.getMessage() and secret_prompt not in str(r.__dict__)
        for r in caplog.records
    )
    assert secret_prompt not in (await api.get("/metrics")).body.decode()


async def test_spark_requests_are_audited(api: Client, org: Org, spark: Spark, pool: Pool) -> None:
    r = await api.post(
        "/v1/chat/completions",
        key=org.key,
        json={"model": TINY, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]},
    )
    await flush(spark)
    row = await pool.fetchrow(
        "SELECT * FROM audit_log WHERE request_id = $1", r.headers["x-request-id"]
    )
    assert row is not None
    assert (row["route"], row["status"], row["principal"], row["service"]) == (
        "/v1/chat/completions",
        200,
        org.key_id,
        "volt-spark",
    )
    assert row["spiffe_id"] == org.spiffe_id


async def test_revoked_key_is_refused(api: Client, org: Org) -> None:
    key = (
        await api.post(f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "spark"})
    ).json()
    body = {"model": TINY, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
    assert (await api.post("/v1/chat/completions", key=key["secret"], json=body)).status == 200
    await api.delete(f"/v1/orgs/{org.id}/api-keys/{key['id']}", key=org.key)
    r = await api.post("/v1/chat/completions", key=key["secret"], json=body)
    r.expect_error(401, "revoked_api_key")
    (await api.get("/v1/models", key=key["secret"])).expect_error(401, "revoked_api_key")


async def test_read_only_key_cannot_run_inference(api: Client, org: Org) -> None:
    reader = (
        await api.post(
            f"/v1/orgs/{org.id}/api-keys", key=org.key, json={"name": "r", "scopes": ["read"]}
        )
    ).json()["secret"]
    assert (await api.get("/v1/models", key=reader)).status == 200
    r = await api.post("/v1/embeddings", key=reader, json={"model": MINILM, "input": "x"})
    r.expect_error(403, "insufficient_scope")


async def test_one_org_never_sees_anothers_usage(
    api: Client, make_org: MakeOrg, spark: Spark
) -> None:
    a, b = await make_org(), await make_org()
    await api.post("/v1/embeddings", key=a.key, json={"model": MINILM, "input": "only a"})
    await flush(spark)
    usage_b = (
        await api.get("/v1/usage", key=b.key, params={"start_time": 0, "bucket_width": "1d"})
    ).json()
    assert all(bucket["results"] == [] for bucket in usage_b["data"])
    await asyncio.sleep(0)
