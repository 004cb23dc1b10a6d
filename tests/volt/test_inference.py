"""Chat, completions, embeddings and models through both clients against real vLLM engines:
typed responses with the typed `volt` block, typed stream iterators, typed errors."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tests.support.spark import MINILM, SMOL, TINY
from tests.volt.conftest import sync
from volt import AsyncVolt, BadRequestError, NotFoundError, Volt
from volt.types import ChatCompletionChunk, ChatMessageParam, VoltBlock

FRANCE: list[ChatMessageParam] = [{"role": "user", "content": "What is the capital of France?"}]


async def test_chat_sync_and_async(sdk: Volt, asdk: AsyncVolt) -> None:
    reply = await sync(
        sdk.chat.completions.create, model=SMOL, messages=FRANCE, temperature=0, max_tokens=24
    )
    assert "Paris" in (reply.choices[0].message.content or "")
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason in (
        "stop",
        "length",
    )
    assert isinstance(reply.volt, VoltBlock)
    assert reply.volt.pod == "spark-test-0" and reply.volt.tier == "standard"
    assert reply.volt.timing.ttft_ms is not None and reply.volt.timing.ttft_ms > 0
    assert reply.usage is not None and reply.usage.completion_tokens > 0

    again = await asdk.chat.completions.create(
        model=SMOL, messages=FRANCE, temperature=0, max_tokens=24, seed=7, top_k=1
    )
    assert again.choices[0].message.content == reply.choices[0].message.content
    assert again.volt.timing.total_ms > 0


async def test_chat_streams_typed_chunks(sdk: Volt, asdk: AsyncVolt) -> None:
    def collect() -> list[ChatCompletionChunk]:
        with sdk.chat.completions.stream(
            model=TINY,
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=6,
            stream_options={"include_usage": True},
        ) as stream:
            assert stream.request_id and stream.request_id.startswith("req_")
            return list(stream)

    chunks = await sync(collect)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    assert chunks[-1].volt is not None and chunks[-1].volt.timing.ttft_ms is not None
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    stream = await asdk.chat.completions.stream(
        model=TINY, messages=[{"role": "user", "content": "hi"}], max_tokens=4
    )
    achunks = [c async for c in stream]
    assert [c for c in achunks if c.volt is not None] == achunks[-1:]
    assert sum(1 for c in achunks for ch in c.choices if ch.delta.content) >= 1


async def test_completions(sdk: Volt, asdk: AsyncVolt) -> None:
    out = await sync(sdk.completions.create, model=TINY, prompt="Hello", max_tokens=3)
    assert out.choices[0].finish_reason == "length" and out.volt.metro == "fra1"
    two = await asdk.completions.create(model=TINY, prompt=["a", "b"], max_tokens=2, echo=True)
    assert sorted(c.index for c in two.choices) == [0, 1]
    assert two.choices[0].text.startswith(("a", "b"))
    stream = await asdk.completions.stream(model=TINY, prompt=[1, 2, 3], max_tokens=3)
    chunks = [c async for c in stream]
    assert len(chunks) >= 3 and chunks[-1].volt is not None


async def test_embeddings(sdk: Volt, asdk: AsyncVolt) -> None:
    out = await sync(sdk.embeddings.create, model=MINILM, input=["a cat", "a dog"])
    vectors = np.array([d.embedding for d in out.data])
    assert vectors.shape == (2, 384) and out.usage.prompt_tokens > 0
    assert out.volt.timing.ttft_ms is None  # no tokens are generated
    packed = await asdk.embeddings.create(model=MINILM, input="a cat", encoding_format="base64")
    assert isinstance(packed.data[0].embedding, str)
    decoded = np.frombuffer(base64.b64decode(packed.data[0].embedding), dtype="<f4")
    assert np.allclose(decoded, vectors[0], atol=1e-5)


async def test_models_and_errors(sdk: Volt, asdk: AsyncVolt) -> None:
    models = await sync(sdk.models.list)
    assert {TINY, SMOL, MINILM} <= {m.id for m in models.data}
    smol = await asdk.models.retrieve(SMOL)
    assert smol.kind == "chat" and smol.max_model_len == 2048

    with pytest.raises(NotFoundError) as missing:
        await asdk.models.retrieve("ft:nope:org_x:y:z/with-slash")
    assert missing.value.status_code == 404 and missing.value.code == "model_not_found"
    assert missing.value.request_id and missing.value.request_id.startswith("req_")
    assert missing.value.error is not None and missing.value.error.type

    with pytest.raises(BadRequestError) as bad:
        await sync(sdk.chat.completions.create, model=TINY, messages=FRANCE, temperature=5)
    assert bad.value.param == "temperature" and bad.value.status_code == 400
    assert "request_id=req_" in str(bad.value)
