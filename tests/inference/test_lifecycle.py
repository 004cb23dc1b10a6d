"""Client disconnects abort engine requests (tokens so far still metered); metrics are exported.
(The engine's queue and its refusals: tests/inference/test_queue.py.)"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson

from inference.engine import Engine
from tests.conftest import Org
from tests.inference.conftest import TINY, Spark
from tests.support.client import Client
from voltcore.appkeys import USAGE
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
