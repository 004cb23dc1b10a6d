"""`POST /v1/chat/completions`, plain and streamed, as OpenAI serves it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from inference import sse
from inference.appkeys import SPARK_SETTINGS
from inference.logprobs import chat_logprobs
from inference.params import (
    chat_prompt,
    check_context,
    check_sequences,
    sampling_params,
    structured_outputs,
)
from inference.protocol import ChatCompletionRequest
from inference.serving import Run, find_model, finish_reason
from voltcore.http import json_response
from voltcore.validation import read_json

routes = web.RouteTableDef()
ENDPOINT = "/v1/chat/completions"


@dataclass
class _Choice:
    text: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None


@routes.post(ENDPOINT)
async def create_chat_completion(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, ChatCompletionRequest)
    engine, tuned = await find_model(request, body.model, "chat", "chat completions")
    settings = request.app[SPARK_SETTINGS]
    sequences = check_sequences(engine, settings, 1, body.n, param="messages")
    prompt = await chat_prompt(engine, body, settings)
    max_tokens = check_context(engine, len(prompt), body.output_limit, "messages")
    k = body.top_logprobs or 0
    params = sampling_params(
        engine,
        body,
        max_tokens=max_tokens,
        logprobs=k if body.logprobs else None,
        structured=structured_outputs(body),
    )
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": None,
    }
    async with Run(request, engine, ENDPOINT, tuned=tuned, sequences=sequences) as run:
        if body.stream:
            return await _stream(request, run, body, prompt, params, head, k)
        choices = [_Choice() for _ in range(body.n)]
        async for _, out in run.generate([prompt], params):
            for o in out.outputs:
                choice = choices[o.index]
                choice.text.append(o.text)
                if body.logprobs:
                    choice.logprobs += chat_logprobs(engine.tokenizer, o.token_ids, o.logprobs, k)
                choice.finish_reason = finish_reason(o.finish_reason) or choice.finish_reason
        return json_response(
            {
                **head,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": i,
                        "message": {
                            "role": "assistant",
                            "content": "".join(c.text),
                            "refusal": None,
                        },
                        "logprobs": {"content": c.logprobs, "refusal": None}
                        if body.logprobs
                        else None,
                        "finish_reason": c.finish_reason or "stop",
                    }
                    for i, c in enumerate(choices)
                ],
                "usage": run.usage(),
                "volt": run.volt(),
            }
        )


async def _stream(
    request: web.Request,
    run: Run,
    body: ChatCompletionRequest,
    prompt: list[int],
    params: Any,
    head: dict[str, Any],
    k: int,
) -> web.StreamResponse:
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    base = {**head, "object": "chat.completion.chunk"}
    if include_usage:
        base["usage"] = None

    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {**base, "choices": choices}

    response = await sse.open_stream(request)
    finished: dict[int, str] = {}
    try:
        await sse.send(
            response,
            chunk(
                [
                    {
                        "index": i,
                        "delta": {"role": "assistant", "content": ""},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                    for i in range(body.n)
                ]
            ),
        )
        async for _, out in run.generate([prompt], params):
            deltas = []
            for o in out.outputs:
                if o.text or o.token_ids:
                    lp = (
                        {
                            "content": chat_logprobs(
                                run.engine.tokenizer, o.token_ids, o.logprobs, k
                            ),
                            "refusal": None,
                        }
                        if body.logprobs
                        else None
                    )
                    deltas.append(
                        {
                            "index": o.index,
                            "delta": {"content": o.text},
                            "logprobs": lp,
                            "finish_reason": None,
                        }
                    )
                if o.finish_reason:
                    finished[o.index] = finish_reason(o.finish_reason) or "stop"
            if deltas:
                await sse.send(response, chunk(deltas))
        # Finish chunks wait for the end so that the very last one can carry the volt block.
        ends: list[dict[str, Any]] = [
            {"index": i, "delta": {}, "logprobs": None, "finish_reason": finished.get(i, "stop")}
            for i in range(body.n)
        ]
        for i, end in enumerate(ends):
            last = i == len(ends) - 1 and not include_usage
            await sse.send(response, {**chunk([end]), **({"volt": run.volt()} if last else {})})
        if include_usage:
            await sse.send(response, {**chunk([]), "usage": run.usage(), "volt": run.volt()})
        await sse.done(response)
    except ConnectionResetError:
        pass  # the client left; leaving the Run aborts the engine request and meters it
    return response
