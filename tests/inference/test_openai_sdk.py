"""The official `openai` SDK, unchanged, pointed at Spark."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from tests.conftest import Org
from tests.inference.conftest import MINILM, SMOL, TINY, Spark


@pytest.fixture
def client(spark: Spark, org: Org) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{spark.base}/v1", api_key=org.key, max_retries=0)


async def test_chat(client: openai.AsyncOpenAI) -> None:
    out = await client.chat.completions.create(
        model=SMOL,
        temperature=0,
        max_tokens=24,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    assert "Paris" in (out.choices[0].message.content or "")
    assert out.usage is not None and out.usage.completion_tokens > 0
    volt = out.model_extra["volt"]  # type: ignore[index]
    assert volt["tier"] == "standard" and volt["timing"]["ttft_ms"] > 0


async def test_chat_stream(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=TINY,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hi"}],
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


async def test_completions(client: openai.AsyncOpenAI) -> None:
    out = await client.completions.create(model=TINY, prompt="Hello", max_tokens=3)
    assert out.choices[0].finish_reason == "length"
    stream = await client.completions.create(model=TINY, prompt="Hello", max_tokens=3, stream=True)
    assert len([c async for c in stream]) >= 3


async def test_embeddings(client: openai.AsyncOpenAI) -> None:
    # The SDK asks for base64 and decodes it itself.
    out = await client.embeddings.create(model=MINILM, input=["a cat", "a dog"])
    vectors = np.array([d.embedding for d in out.data])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


async def test_models_and_errors(client: openai.AsyncOpenAI) -> None:
    ids = {m.id async for m in client.models.list()}
    assert {TINY, SMOL, MINILM} <= ids
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(
            model=TINY, temperature=5, messages=[{"role": "user", "content": "x"}]
        )
    assert bad.value.param == "temperature"
