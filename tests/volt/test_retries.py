"""Retries over real HTTP: exact behaviour against a scripted aiohttp server (retry-after,
backoff with jitter, one Idempotency-Key across attempts, dropped connections, timeouts),
and real 429 / 503 refusals from the bounds of Spark's engine queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from inference.appkeys import SPARK_METRICS
from lab.ports import free_port
from tests.conftest import MakeOrg
from tests.inference.test_queue import small_queue
from tests.support.spark import TINY, Spark
from tests.volt.conftest import sync
from tests.volt.flaky import Answer, Flaky, flaky_server
from volt import (
    APIConnectionError,
    APITimeoutError,
    AsyncVolt,
    ConflictError,
    InternalServerError,
    RateLimitError,
    Volt,
)
from volt._constants import INITIAL_RETRY_DELAY_S, RETRY_JITTER
from volt._retry import retry_after, retry_delay

LEASE_ARGS = {"gpu_type": "h100-80gb", "gpu_count": 1, "metro": "fra1", "duration_seconds": 60}


@pytest_asyncio.fixture
async def flaky() -> AsyncIterator[Flaky]:
    async for server in flaky_server():
        yield server


async def test_retry_after_is_honoured_with_one_idempotency_key(flaky: Flaky) -> None:
    flaky.script = [
        Answer(503, {"retry-after": "1"}),
        Answer(429, {"retry-after": "0"}),
        Answer(),
    ]
    async with AsyncVolt(base_url=flaky.base, api_key="k", max_retries=2) as client:
        lease = await client.forge.leases.create(**LEASE_ARGS)  # type: ignore[arg-type]
    assert lease.id == "lease_x" and len(flaky.attempts) == 3
    keys = {a.headers.get("Idempotency-Key") for a in flaky.attempts}
    assert len(keys) == 1 and None not in keys and "" not in keys
    assert {a.body for a in flaky.attempts} == {flaky.attempts[0].body}
    first, second = flaky.gaps()
    assert first >= 1.0 and second < 0.5


async def test_sync_client_retries_the_same_way(flaky: Flaky) -> None:
    flaky.script = [Answer(502), Answer(429, {"retry-after": "0"}), Answer()]
    with Volt(base_url=flaky.base, api_key="k", max_retries=2) as client:
        lease = await sync(client.forge.leases.create, idempotency_key="mine", **LEASE_ARGS)  # type: ignore[arg-type]
    assert lease.status == "pending"
    assert [a.headers.get("Idempotency-Key") for a in flaky.attempts] == ["mine"] * 3


async def test_exponential_backoff_with_jitter_then_the_error(flaky: Flaky) -> None:
    flaky.script = [Answer(503), Answer(503), Answer(503)]
    async with AsyncVolt(base_url=flaky.base, api_key="k", max_retries=2) as client:
        with pytest.raises(InternalServerError) as caught:
            await client.me.retrieve()
    assert caught.value.status_code == 503 and caught.value.code == "scripted"
    assert caught.value.request_id == "req_flaky2"  # the last attempt's
    first, second = flaky.gaps()
    low = 1 - RETRY_JITTER
    assert INITIAL_RETRY_DELAY_S * low <= first < INITIAL_RETRY_DELAY_S + 0.3
    assert 2 * INITIAL_RETRY_DELAY_S * low <= second < 2 * INITIAL_RETRY_DELAY_S + 0.3
    # GETs carry no idempotency key: they are safe to repeat as they are.
    assert all("Idempotency-Key" not in a.headers for a in flaky.attempts)


async def test_answers_that_are_not_accidents_are_not_retried(flaky: Flaky) -> None:
    flaky.script = [Answer(409), Answer(429, {"retry-after": "3600"})]
    async with AsyncVolt(base_url=flaky.base, api_key="k", max_retries=3) as client:
        with pytest.raises(ConflictError):
            await client.forge.leases.create(**LEASE_ARGS)  # type: ignore[arg-type]
        start = time.monotonic()
        # An hour is longer than any client should sit in a call: raised at once.
        with pytest.raises(RateLimitError):
            await client.forge.leases.create(**LEASE_ARGS)  # type: ignore[arg-type]
        assert time.monotonic() - start < 1
    assert len(flaky.attempts) == 2


async def test_dropped_connections_are_retried(flaky: Flaky) -> None:
    flaky.script = [Answer(drop=True), Answer()]
    async with AsyncVolt(base_url=flaky.base, api_key="k", max_retries=1) as client:
        lease = await client.forge.leases.create(**LEASE_ARGS)  # type: ignore[arg-type]
    assert lease.id == "lease_x" and len(flaky.attempts) == 2
    assert len({a.headers["Idempotency-Key"] for a in flaky.attempts}) == 1

    closed = f"http://127.0.0.1:{free_port()}"
    with (
        Volt(base_url=closed, api_key="k", max_retries=1) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        await sync(client.models.list)
    assert not isinstance(caught.value, APITimeoutError)


async def test_timeouts_are_retried_then_raised(flaky: Flaky) -> None:
    flaky.script = [Answer(delay=1.0), Answer(delay=1.0)]
    async with AsyncVolt(base_url=flaky.base, api_key="k", max_retries=1, timeout=0.2) as client:
        with pytest.raises(APITimeoutError):
            await client.models.list()
        assert len(flaky.attempts) == 2
        flaky.script = [Answer(delay=0.5)]
        # A per-client override: a longer timeout and no retries.
        patient = client.with_options(timeout=5, max_retries=0)
        assert (await patient.forge.leases.retrieve("lease_x")).id == "lease_x"


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_delay(0, {"retry-after": "120"}) is None
    delays = [retry_delay(a) for a in range(8)]
    assert all(d is not None and d > 0 for d in delays)
    assert delays[-1] is not None and delays[-1] <= 8.0


# --------------------------------------------------------------- real refusals from Spark

LONG = {
    "model": TINY,
    # Long enough that the holder still holds its slot when the patient client first asks.
    "max_tokens": 600,
    "messages": [{"role": "user", "content": "go"}],
    # The random-weight model may end at any step: banning its end tokens makes it run long.
    "logit_bias": {"0": -100, "2": -100},
}


def _rejected(spark: Spark, reason: str) -> float:
    return spark.app[SPARK_METRICS].rejected.labels(TINY, reason)._value.get()  # type: ignore[no-any-return]


async def _hold(spark: Spark, client: AsyncVolt, inflight: int) -> asyncio.Task[object]:
    engine = spark.engine(TINY)
    task: asyncio.Task[object] = asyncio.create_task(client.chat.completions.create(**LONG))  # type: ignore[arg-type]
    async with asyncio.timeout(30):
        while engine.queue.policy.running < inflight:
            await asyncio.sleep(0.01)
    return task


@pytest.mark.parametrize(
    ("limits", "reason", "error", "code"),
    [
        # One seat, and no room in the org's line: 429 for the org.
        ({"max_queued_per_org": 0}, "org_queue_full", RateLimitError, "rate_limit_exceeded"),
        # One seat, and no room in the engine's line: 503 for everyone.
        ({"max_queued": 0}, "engine_queue_full", InternalServerError, "engine_overloaded"),
    ],
)
async def test_spark_refusals_are_retried_until_admitted(
    spark: Spark,
    make_org: MakeOrg,
    limits: dict[str, int],
    reason: str,
    error: type[Exception],
    code: str,
) -> None:
    engine = spark.engine(TINY)
    holder = await make_org()
    # 429 is per org: the same org asks again. 503 is the whole engine: another org asks.
    asker = holder if reason == "org_queue_full" else await make_org()
    with small_queue(engine, capacity=1, **limits):
        async with (
            AsyncVolt(base_url=spark.base, api_key=holder.key, max_retries=0) as holding,
            AsyncVolt(base_url=spark.base, api_key=asker.key, max_retries=0) as impatient,
        ):
            slow = await _hold(spark, holding, 1)
            with pytest.raises(error) as caught:
                await impatient.chat.completions.create(**{**LONG, "max_tokens": 1})  # type: ignore[arg-type]
            assert caught.value.code == code  # type: ignore[attr-defined]
            assert caught.value.response.headers["retry-after"] == "1"  # type: ignore[attr-defined]
            assert caught.value.request_id.startswith("req_")  # type: ignore[attr-defined]

            before = _rejected(spark, reason)
            patient = impatient.with_options(max_retries=30)
            reply = await patient.chat.completions.create(**{**LONG, "max_tokens": 2})  # type: ignore[arg-type]
            assert reply.usage is not None and reply.usage.completion_tokens == 2
            # It was refused at least once on the way (the slow one still held the slot).
            assert _rejected(spark, reason) > before
            assert slow.done()
