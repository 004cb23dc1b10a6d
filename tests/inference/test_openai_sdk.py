"""The official `openai` SDK, unchanged, pointed at Spark."""

from __future__ import annotations

import asyncio
from typing import Any

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


# The loop every chat client runs: each reply's message object goes back into the history
# exactly as the SDK parsed it (with `refusal: null`, `annotations`, ...), then `create` again.
SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
QUESTIONS = ["What is the capital of France?", "And what is the capital of Germany?", "Thanks!"]


async def test_multi_turn_replays_the_sdks_own_messages(client: openai.AsyncOpenAI) -> None:
    messages: list[Any] = [SYSTEM]
    for question in QUESTIONS:
        messages.append({"role": "user", "content": question})
        reply = await client.chat.completions.create(
            model=SMOL, messages=messages, max_tokens=24, temperature=0
        )
        messages.append(reply.choices[0].message)
    assert "Paris" in (messages[2].content or "")
    assert all(m.content for m in messages[2::2])


async def test_multi_turn_streamed(client: openai.AsyncOpenAI) -> None:
    # The SDK's stream helper accumulates the chunks into the same message object.
    messages: list[Any] = [SYSTEM]
    for question in QUESTIONS:
        messages.append({"role": "user", "content": question})
        async with client.chat.completions.stream(
            model=SMOL, messages=messages, max_tokens=24, temperature=0
        ) as stream:
            final = await stream.get_final_completion()
        messages.append(final.choices[0].message)
    assert "Paris" in (messages[2].content or "")


def _sync_conversation(base: str, key: str, stream: bool) -> list[str]:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
    messages: list[Any] = [SYSTEM]
    answers = []
    for question in QUESTIONS[:2]:
        messages.append({"role": "user", "content": question})
        if stream:
            chunks = client.chat.completions.create(
                model=SMOL, messages=messages, max_tokens=24, temperature=0, stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            messages.append({"role": "assistant", "content": text})
        else:
            reply = client.chat.completions.create(
                model=SMOL, messages=messages, max_tokens=24, temperature=0
            )
            text = reply.choices[0].message.content or ""
            messages.append(reply.choices[0].message)
        answers.append(text)
    return answers


@pytest.mark.parametrize("stream", [False, True])
async def test_multi_turn_with_the_sync_client(spark: Spark, org: Org, stream: bool) -> None:
    # The blocking client runs in a thread: the server shares this event loop.
    answers = await asyncio.to_thread(_sync_conversation, spark.base, org.key, stream)
    assert "Paris" in answers[0] and answers[1]
