"""`client.tokenizer` (Spark's `/tokenize` and `/detokenize`) through both clients, and the
sampling extensions passed through `create`, against the live engines."""

from __future__ import annotations

import pytest

from tests.support.spark import SMOL, TINY
from tests.volt.conftest import sync
from volt import AsyncVolt, BadRequestError, NotFoundError, Volt
from volt.types import ChatMessageParam

HI: list[ChatMessageParam] = [{"role": "user", "content": "Hi"}]


async def test_tokenize_sync_and_async(sdk: Volt, asdk: AsyncVolt) -> None:
    out = await sync(
        sdk.tokenizer.tokenize, model=SMOL, prompt="Hello there", return_token_strs=True
    )
    assert out.count == len(out.tokens) and out.token_strs is not None and out.volt.pod
    back = await asdk.tokenizer.detokenize(model=SMOL, tokens=out.tokens)
    assert back.prompt == "Hello there"
    chat = await asdk.tokenizer.tokenize(model=SMOL, messages=HI)
    reply = await asdk.chat.completions.create(
        model=SMOL, messages=HI, max_tokens=4, ignore_eos=True
    )
    assert reply.usage is not None
    assert chat.count == reply.usage.prompt_tokens and reply.usage.completion_tokens == 4
    with pytest.raises(BadRequestError) as bad:
        await asdk.tokenizer.detokenize(model=TINY, tokens=[10**9])
    assert bad.value.param == "tokens[0]"
    with pytest.raises(NotFoundError):
        await sync(sdk.tokenizer.tokenize, model="nope", prompt="x")
