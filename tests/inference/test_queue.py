"""The engine's fair queue against the session's real tiny engine: past its seats a request
waits instead of being refused, and is refused only past the queue's bounds (429 for the org's,
503 for the engine's) or its timeout (503), with retry-after; a client that disconnects while
waiting leaves the line at once and leaks no seat; an enterprise request arriving behind a line
of free-tier requests gets its first token before any of them."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import orjson

from inference.engine import Engine
from inference.queue import EngineQueue
from tests.conftest import MakeOrg, Org
from tests.inference.conftest import TINY, Spark
from tests.support.client import Client

# The random-weight model may sample an end token at any step: banning both end tokens
# (<|endoftext|> 0, <|im_end|> 2) makes it run to max_tokens.
LONG = {
    "model": TINY,
    "max_tokens": 300,
    "messages": [{"role": "user", "content": "go"}],
    "logit_bias": {"0": -100, "2": -100},
}


@contextmanager
def small_queue(engine: Engine, **limits: Any) -> Iterator[EngineQueue]:
    """The engine behind a queue of a few seats, so that tests fill it with a few requests.
    Requests running when it is put back release their seats to the queue they came from."""
    original = engine.queue
    queue = EngineQueue(
        engine.spec.id, dataclasses.replace(original.limits, reserved=0, hold_s=0, **limits)
    )
    engine.queue = queue
    try:
        yield queue
    finally:
        engine.queue = original


async def until(condition: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def hold(api: Client, org: Org, max_tokens: int = 300) -> asyncio.Task[Any]:
    return asyncio.create_task(
        api.post("/v1/chat/completions", key=org.key, json={**LONG, "max_tokens": max_tokens})
    )


async def test_past_its_seats_a_request_waits_instead_of_being_refused(
    api: Client, spark: Spark, make_org: MakeOrg
) -> None:
    engine = spark.engine(TINY)
    a, b = await make_org(), await make_org()
    with small_queue(engine, capacity=1) as queue:
        holder = hold(api, a, 150)
        await until(lambda: queue.policy.running == 1)
        waiter = asyncio.create_task(
            api.post("/v1/chat/completions", key=b.key, json={**LONG, "max_tokens": 2})
        )
        await until(lambda: queue.depth == 1)
        assert not holder.done()
        r = await waiter
        assert r.status == 200, r.body
        held = (await holder).json()["volt"]["timing"]
        # queue_ms is the whole wait for a seat (Spark's queue, then the engine's): nearly the
        # holder's run.
        timing = r.json()["volt"]["timing"]
        assert timing["queue_ms"] >= 0.5 * held["total_ms"], (timing, held)
        assert queue.policy.running == 0 and queue.depth == 0
    text = (await api.get("/metrics")).body.decode()
    assert f'volt_spark_fair_queue_depth{{model="{TINY}"}}' in text
    assert f'volt_spark_fair_queue_wait_seconds_count{{model="{TINY}",tier="standard"}}' in text


async def test_queue_bounds_and_timeout_refuse_with_retry_after(
    api: Client, spark: Spark, make_org: MakeOrg
) -> None:
    engine = spark.engine(TINY)
    a, b, c = await make_org(), await make_org(), await make_org()
    short = {**LONG, "max_tokens": 1}
    with small_queue(
        engine, capacity=1, max_queued=2, max_queued_per_org=1, timeout_s=1.5
    ) as queue:
        holder = hold(api, a, 900)
        await until(lambda: queue.policy.running == 1)
        queued = asyncio.create_task(api.post("/v1/chat/completions", key=b.key, json=short))
        await until(lambda: queue.depth == 1)
        # Past the org's bound: 429, for that org only.
        r = await api.post("/v1/chat/completions", key=b.key, json=short)
        r.expect_error(429, "rate_limit_exceeded")
        assert int(r.headers["retry-after"]) >= 1
        other = asyncio.create_task(api.post("/v1/chat/completions", key=c.key, json=short))
        await until(lambda: queue.depth == 2)
        # Past the engine's bound: 503.
        r = await api.post("/v1/chat/completions", key=a.key, json=short)
        r.expect_error(503, "engine_overloaded")
        assert int(r.headers["retry-after"]) >= 1
        # Past the timeout: 503 as well, while the holder still runs.
        for task in (queued, other):
            r = await task
            error = r.expect_error(503, "engine_overloaded")
            assert "waited 1.5 s" in error["message"] and int(r.headers["retry-after"]) >= 1
        assert not holder.done() and queue.depth == 0
        holder.cancel()
        await until(lambda: queue.policy.running == 0)


async def test_a_client_that_disconnects_while_queued_leaves_at_once(
    api: Client, spark: Spark, make_org: MakeOrg
) -> None:
    engine = spark.engine(TINY)
    a, b = await make_org(), await make_org()
    with small_queue(engine, capacity=1) as queue:
        holder = hold(api, a, 400)
        await until(lambda: queue.policy.running == 1)
        async with aiohttp.ClientSession() as session:
            request = asyncio.create_task(
                session.post(
                    spark.base + "/v1/chat/completions",
                    json=LONG,
                    headers={"Authorization": f"Bearer {b.key}"},
                )
            )
            await until(lambda: queue.depth == 1)
            request.cancel()  # closes the connection; the server cancels the handler
        left = time.perf_counter()
        await until(lambda: queue.depth == 0, timeout=2)
        assert time.perf_counter() - left < 1.0
        assert not holder.done() and queue.policy.running == 1
        assert not list(queue.policy.waiting())
        # The holder leaves too (mid-generation): its seat comes back, nothing is leaked.
        holder.cancel()
        await until(lambda: queue.policy.running == 0)
        r = await api.post("/v1/chat/completions", key=b.key, json={**LONG, "max_tokens": 2})
        assert r.status == 200 and r.json()["volt"]["timing"]["queue_ms"] < 1000


async def _first_token(session: aiohttp.ClientSession, spark: Spark, org: Org) -> float:
    body = {**LONG, "max_tokens": 3, "stream": True}
    async with session.post(
        spark.base + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {org.key}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        first = None
        async for line in resp.content:
            if first is None and line.startswith(b"data: {"):
                chunk = orjson.loads(line[6:])
                if any(c["delta"].get("content") for c in chunk["choices"]):
                    first = time.perf_counter()
        assert first is not None
        return first


async def test_an_enterprise_request_goes_ahead_of_free_tier_requests_already_waiting(
    api: Client, spark: Spark, make_org: MakeOrg
) -> None:
    engine = spark.engine(TINY)
    holder = await make_org()
    free = [await make_org(f"Free {i}", tier="free") for i in range(2)]
    enterprise = await make_org("Big", tier="enterprise")
    with small_queue(engine, capacity=1) as queue:
        held = hold(api, holder, 200)
        await until(lambda: queue.policy.running == 1)
        async with aiohttp.ClientSession() as session:
            waiting = [
                asyncio.create_task(_first_token(session, spark, free[i % 2])) for i in range(4)
            ]
            await until(lambda: queue.depth == 4)
            ahead = asyncio.create_task(_first_token(session, spark, enterprise))
            await until(lambda: queue.depth == 5)
            assert not held.done()
            first = await ahead
            others = await asyncio.gather(*waiting)
        assert (await held).status == 200
        assert first < min(others), (first, others)
