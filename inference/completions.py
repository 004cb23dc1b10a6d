"""`POST /v1/completions` (the legacy text completions API), plain and streamed."""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from inference import sse
from inference.appkeys import SPARK_SETTINGS
from inference.logprobs import CompletionLogprobs
from inference.params import (
    check_context,
    check_sequences,
    completion_prompts,
    prompt_count,
    sampling_params,
    verified,
)
from inference.protocol import CompletionRequest
from inference.serving import Run, chunk_usage, event_stream, find_model, finish_reason
from scheduler.limits import reservation
from voltcore.http import json_response
from voltcore.validation import read_json

routes = web.RouteTableDef()
ENDPOINT = "/v1/completions"


@routes.post(ENDPOINT)
async def create_completion(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, CompletionRequest)
    engine, tuned = await find_model(request, body.model, "chat", "completions")
    settings = request.app[SPARK_SETTINGS]
    # Bounded before tokenizing: thousands of prompts are refused at the cost of counting them.
    sequences = check_sequences(engine, settings, prompt_count(body.prompt), body.n)
    prompts = await completion_prompts(engine, body.prompt, settings)
    max_tokens = min(check_context(engine, len(p), body.max_tokens, "prompt") for p in prompts)
    params = verified(
        engine, sampling_params(engine, body, max_tokens=max_tokens, logprobs=body.logprobs), None
    )
    n = body.n
    # Choice index as OpenAI numbers them: prompt by prompt, n per prompt.
    echo = [engine.tokenizer.decode(p) if body.echo else "" for p in prompts]
    texts = [[echo[i // n]] for i in range(len(prompts) * n)]
    lps = [CompletionLogprobs(body.logprobs or 0, len(echo[i // n])) for i in range(len(texts))]
    finish: list[str | None] = [None] * len(texts)
    head = {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": None,
        "object": "text_completion",
    }
    reserve = reservation(sum(len(p) for p in prompts), max_tokens, sequences)
    async with Run(
        request, engine, ENDPOINT, tuned=tuned, sequences=sequences, reserve=reserve
    ) as run:
        if body.stream:
            return await _stream(request, run, body, prompts, params, head, echo, lps, finish)
        async for p, out in run.generate(prompts, params):
            for o in out.outputs:
                i = p * n + o.index
                texts[i].append(o.text)
                if body.logprobs is not None:
                    lps[i].add(engine.tokenizer, o.token_ids, o.logprobs)
                finish[i] = finish_reason(o.finish_reason) or finish[i]
        return json_response(
            {
                **head,
                "choices": [
                    {
                        "text": "".join(t),
                        "index": i,
                        "logprobs": lps[i].object() if body.logprobs is not None else None,
                        "finish_reason": finish[i] or "stop",
                    }
                    for i, t in enumerate(texts)
                ],
                "usage": run.usage(),
                "volt": run.volt(),
            }
        )


async def _stream(
    request: web.Request,
    run: Run,
    body: CompletionRequest,
    prompts: list[list[int]],
    params: Any,
    head: dict[str, Any],
    echo: list[str],
    lps: list[CompletionLogprobs],
    finish: list[str | None],
) -> web.StreamResponse:
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    base = {**head, **({"usage": None} if include_usage else {})}
    prompt_tokens = sum(len(p) for p in prompts)

    def now() -> dict[str, Any]:
        return {**base, **chunk_usage(run, body.stream_options, prompt_tokens)}

    n = body.n
    async with event_stream(request, run) as response:
        if body.echo:
            await sse.send(
                response,
                {
                    **now(),
                    "choices": [
                        {"text": echo[i // n], "index": i, "logprobs": None, "finish_reason": None}
                        for i in range(len(finish))
                    ],
                },
            )
        async for p, out in run.generate(prompts, params):
            choices = []
            for o in out.outputs:
                i = p * n + o.index
                lp = (
                    lps[i].add(run.engine.tokenizer, o.token_ids, o.logprobs)
                    if body.logprobs is not None
                    else None
                )
                finish[i] = finish_reason(o.finish_reason)
                if o.text or o.token_ids:
                    choices.append(
                        {"text": o.text, "index": i, "logprobs": lp, "finish_reason": None}
                    )
            if choices:
                await sse.send(response, {**now(), "choices": choices})
        ends = [
            {"text": "", "index": i, "logprobs": None, "finish_reason": f or "stop"}
            for i, f in enumerate(finish)
        ]
        for j, end in enumerate(ends):
            last = j == len(ends) - 1 and not include_usage
            await sse.send(
                response, {**now(), "choices": [end], **({"volt": run.volt()} if last else {})}
            )
        if include_usage:
            await sse.send(
                response, {**base, "choices": [], "usage": run.usage(), "volt": run.volt()}
            )
        await sse.done(response)
    return response
