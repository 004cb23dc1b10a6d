"""Client disconnects abort engine requests (tokens so far still metered); metrics are exported.
(The engine's queue and its refusals: tests/inference/test_queue.py.)"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from inference.engine import Engine
from tests.conftest import MakeOrg, Org
from tests.inference.conftest import TINY, Spark
from tests.support.client import Client
from tests.voltcore.test_streaming import never_reading
from voltcore.appkeys import SETTINGS, USAGE
from voltcore.db import Pool

# The random-weight model may sample an end token at any step: banning both end tokens
# (<|endoftext|> 0, <|im_end|> 2) makes it run to max_tokens.
LONG = {
    "model": TINY,
    "max_tokens": 900,
    "messages": [{"role": "user", "content": "go"}],
    "logit_bias": {"0": -100, "2": -100},
}


async def engine_idle(engine: Engine) -> None:
    async with asyncio.timeout(10):
        while engine.unfinished_requests:
            await asyncio.sleep(0.05)


async def metered(spark: Spark, pool: Pool, org: Org) -> list[int]:
    """The org's metered requests, once the handler has metered one: a cancelled handler
    meters in its cleanup, which may run just after the engine went idle."""
    deadline = time.monotonic() + 10
    while True:
        while spark.app[USAGE].pending:
            await spark.app[USAGE].flush()
        rows = await pool.fetch(
            "SELECT completion_tokens FROM usage_events WHERE org_id = $1", org.id
        )
        if rows or time.monotonic() > deadline:
            return [r["completion_tokens"] for r in rows]
        await asyncio.sleep(0.05)


async def test_stream_disconnect_aborts_and_meters(spark: Spark, org: Org, pool: Pool) -> None:
    engine = spark.engine(TINY)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            spark.base + "/v1/chat/completions",
            json={**LONG, "stream": True},
            headers={"Authorization": f"Bearer {org.key}"},
        ) as resp,
    ):
        seen = 0
        async for line in resp.content:
            seen += line.startswith(b"data: ")
            if seen >= 5:
                break  # leave mid-stream
    await engine_idle(engine)
    [tokens] = await metered(spark, pool, org)
    assert 3 <= tokens < 900


async def test_non_streaming_disconnect_aborts(spark: Spark, org: Org, pool: Pool) -> None:
    engine = spark.engine(TINY)
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(
            session.post(
                spark.base + "/v1/chat/completions",
                json=LONG,
                headers={"Authorization": f"Bearer {org.key}"},
            )
        )
        async with asyncio.timeout(20):
            while not engine.unfinished_requests:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        request.cancel()
    await engine_idle(engine)
    [tokens] = await metered(spark, pool, org)
    assert 0 < tokens < 900


async def test_a_client_that_stops_reading_holds_nothing_and_others_are_served(
    spark: Spark,
    api: Client,
    org: Org,
    make_org: MakeOrg,
    pool: Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream's client that never reads: its handler ends anyway (the stream fits the
    socket's buffers, or a write waits past stall_timeout_s and the connection is dropped,
    tests/voltcore/test_streaming.py), the request is metered once, and another org is served
    meanwhile."""
    monkeypatch.setattr(spark.app[SETTINGS], "stall_timeout_s", 1.0)
    body = orjson.dumps({**LONG, "stream": True, "n": 2})
    sock = await never_reading(
        spark.base,
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {org.key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body,
    )
    other = await make_org("Other")
    r = await api.post("/v1/chat/completions", key=other.key, json={**LONG, "max_tokens": 8})
    assert r.status == 200 and r.json()["usage"]["completion_tokens"] == 8
    # The handler ends (and meters) without a byte read by the client.
    deadline = time.monotonic() + 60
    while not (rows := await pool.fetch("SELECT 1 FROM usage_events WHERE org_id = $1", org.id)):
        while spark.app[USAGE].pending:
            await spark.app[USAGE].flush()
        assert time.monotonic() < deadline, "the unread stream still holds its handler"
        await asyncio.sleep(0.2)
    assert len(rows) == 1
    await engine_idle(spark.engine(TINY))
    sock.close()


async def test_metrics_cover_requests_tokens_and_latency(api: Client, org: Org) -> None:
    await api.post("/v1/chat/completions", key=org.key, json={**LONG, "max_tokens": 3})
    text = (await api.get("/metrics")).body.decode()
    for name in (
        "volt_spark_requests_total",
        "volt_spark_prompt_tokens_total",
        "volt_spark_completion_tokens_total",
        "volt_spark_time_to_first_token_seconds",
        "volt_spark_inter_token_latency_seconds",
        "volt_spark_queue_seconds",
        "volt_spark_inflight_requests",
        "volt_spark_rejected_total",
    ):
        assert name in text, name
    assert f'model="{TINY}",tier="standard"' in text


async def test_health_reports_engines(api: Client) -> None:
    ready = (await api.get("/health/ready")).json()
    assert ready == {"status": "ok", "checks": {"database": "ok", "engines": "ok"}}
    assert orjson.loads((await api.get("/health/live")).body) == {"status": "ok"}
