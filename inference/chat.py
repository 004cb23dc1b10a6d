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
    verified,
)
from inference.protocol import ChatCompletionRequest
from inference.serving import Run, chunk_usage, event_stream, find_model, finish_reason
from inference.tools import ToolPlan, ToolStream, done, finish_with_calls, plan_tools
from scheduler.limits import reservation
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
    plan = plan_tools(engine, body.tools, body.tool_choice, body.parallel_tool_calls)
    prompt = await chat_prompt(engine, body, settings, plan.template_tools if plan else None)
    max_tokens = check_context(engine, len(prompt), body.output_limit, "messages")
    k = body.top_logprobs or 0
    structured = structured_outputs(body)
    if plan is not None:
        structured = plan.constrain(structured)
    params = verified(
        engine,
        sampling_params(
            engine,
            body,
            max_tokens=max_tokens,
            logprobs=k if body.logprobs else None,
            structured=structured,
        ),
        "tools" if plan is not None and plan.schema is not None else "response_format",
    )
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": None,
        # Requests do not choose a tier: the org's tier decides (and is in the volt block).
        "service_tier": "default",
    }
    reserve = reservation(len(prompt), max_tokens, sequences)
    async with Run(
        request, engine, ENDPOINT, tuned=tuned, sequences=sequences, reserve=reserve
    ) as run:
        if body.stream:
            return await _stream(request, run, body, prompt, params, head, k, plan)
        choices = [_Choice() for _ in range(body.n)]
        # Each choice is read on its own: n answers may call different tools, or none.
        readers = [plan.stream() if plan else None for _ in choices]
        async for _, out in run.generate([prompt], params):
            for o in out.outputs:
                choice = choices[o.index]
                choice.text.append(o.text)
                if body.logprobs:
                    choice.logprobs += chat_logprobs(engine.tokenizer, o.token_ids, o.logprobs, k)
                choice.finish_reason = finish_reason(o.finish_reason) or choice.finish_reason
                if (reader := readers[o.index]) is not None:
                    reader.feed(o.text)
            if plan is not None and done([c.finish_reason is not None for c in choices], readers):
                break
        messages = [_message("".join(c.text), r) for c, r in zip(choices, readers, strict=True)]
        return json_response(
            {
                **head,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": i,
                        "message": messages[i],
                        "logprobs": {"content": c.logprobs, "refusal": None}
                        if body.logprobs
                        else None,
                        "finish_reason": finish_with_calls(c.finish_reason or "stop", readers[i]),
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
    plan: ToolPlan | None,
) -> web.StreamResponse:
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    base = {**head, "object": "chat.completion.chunk"}
    if include_usage:
        base["usage"] = None

    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {**base, "choices": choices, **chunk_usage(run, body.stream_options, len(prompt))}

    finished: dict[int, str] = {}
    readers = [plan.stream() if plan else None for _ in range(body.n)]
    async with event_stream(request, run) as response:
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
                delta = _delta(o.text, readers[o.index])
                if (o.text or o.token_ids) and (delta or body.logprobs):
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
                            "delta": delta,
                            "logprobs": lp,
                            "finish_reason": None,
                        }
                    )
                if o.finish_reason:
                    finished[o.index] = finish_reason(o.finish_reason) or "stop"
            if deltas:
                await sse.send(response, chunk(deltas))
            if plan is not None and done([i in finished for i in range(body.n)], readers):
                break
        # What tool-call reading held back (text that might have begun a call).
        held = [
            {"index": i, "delta": delta, "logprobs": None, "finish_reason": None}
            for i, reader in enumerate(readers)
            if reader is not None and (delta := _delta(None, reader))
        ]
        if held:
            await sse.send(response, chunk(held))
        # Finish chunks wait for the end so that the very last one can carry the volt block.
        ends: list[dict[str, Any]] = [
            {
                "index": i,
                "delta": {},
                "logprobs": None,
                "finish_reason": finish_with_calls(finished.get(i, "stop"), readers[i]),
            }
            for i in range(body.n)
        ]
        for i, end in enumerate(ends):
            last = i == len(ends) - 1 and not include_usage
            await sse.send(response, {**chunk([end]), **({"volt": run.volt()} if last else {})})
        if include_usage:
            await sse.send(response, {**chunk([]), "usage": run.usage(), "volt": run.volt()})
        await sse.done(response)
    return response


def _message(text: str, reader: ToolStream | None) -> dict[str, Any]:
    """The assistant message of a whole answer: under tools, its calls, and content null when
    the answer is only calls (as OpenAI returns it)."""
    if reader is None:
        return {"role": "assistant", "content": text, "refusal": None}
    content, calls = reader.finish()  # it has read the text as it was generated
    message = {"role": "assistant", "content": content, "refusal": None}
    return {**message, "tool_calls": calls} if calls else message


def _delta(text: str | None, reader: ToolStream | None) -> dict[str, Any]:
    """A stream delta for new text (None: the output ended); empty when a tool-call reader
    holds the text back for now."""
    if reader is None:
        return {"content": text}
    content, calls = reader.feed(text) if text is not None else reader.flush()
    delta: dict[str, Any] = {"content": content} if content else {}
    return {**delta, "tool_calls": calls} if calls else delta
