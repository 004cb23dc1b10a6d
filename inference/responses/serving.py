"""`POST /v1/responses`, stateless: plain and streamed, on the chat path's prompt, sampling,
structured outputs and tool plan (`convert.chat_view`, `inference.tools`)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from inference import sse
from inference.appkeys import SPARK_SETTINGS
from inference.params import (
    chat_prompt,
    check_context,
    check_sequences,
    sampling_params,
    structured_outputs,
    verified,
)
from inference.responses.convert import (
    chat_view,
    function_call_item,
    message_item,
    new_id,
    response_object,
    usage,
)
from inference.responses.events import EventWriter, OutputStream
from inference.responses.protocol import ResponsesRequest
from inference.serving import Run, engine_failure, find_model
from inference.tools import ToolPlan, ToolStream, plan_tools
from scheduler.limits import reservation
from voltcore.errors import InvalidRequest
from voltcore.http import json_response
from voltcore.validation import read_json

routes = web.RouteTableDef()
ENDPOINT = "/v1/responses"

# The chat view's parameter names, as this request spells them.
_PARAMS = [
    (re.compile(r"^messages\b.*"), "input"),
    (re.compile(r"^tools\[(\d+)\]\.function\."), r"tools[\1]."),
    (re.compile(r"^response_format\b.*"), "text.format"),
    (re.compile(r"^max_completion_tokens$"), "max_output_tokens"),
]


@contextlib.contextmanager
def _named_for_responses() -> Iterator[None]:
    """Errors of the shared chat path name this request's parameters, not the chat view's."""
    try:
        yield
    except InvalidRequest as err:
        for pattern, name in _PARAMS:
            if err.param:
                err.param = pattern.sub(name, err.param)
        for chat_name, ours in (("response_format", "text.format"), ("'messages'", "'input'")):
            err.message = err.message.replace(chat_name, ours)
        raise


@routes.post(ENDPOINT)
async def create_response(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, ResponsesRequest)
    engine, tuned = await find_model(request, body.model, "chat", "responses")
    settings = request.app[SPARK_SETTINGS]
    with _named_for_responses():
        chat = chat_view(body)
        sequences = check_sequences(engine, settings, 1, 1, param="input")
        plan = plan_tools(engine, chat.tools, chat.tool_choice, chat.parallel_tool_calls)
        tools = plan.template_tools if plan else None
        prompt = await chat_prompt(engine, chat, settings, tools=tools)
        max_tokens = check_context(engine, len(prompt), body.max_output_tokens, "input")
        structured = structured_outputs(chat)
        params = verified(
            engine,
            sampling_params(
                engine,
                chat,
                max_tokens=max_tokens,
                logprobs=None,
                structured=plan.constrain(structured) if plan else structured,
            ),
            "tools" if plan and plan.schema else "text.format",
        )
    head = {"response_id": new_id("resp"), "created_at": int(time.time()), "params": params}
    reserve = reservation(len(prompt), max_tokens, sequences)
    async with Run(
        request,
        engine,
        ENDPOINT,
        tuned=tuned,
        sequences=sequences,
        reserve=reserve,
        reserve_param="max_output_tokens",
    ) as run:
        if body.stream:
            return await _stream(request, run, body, prompt, plan, head)
        text: list[str] = []
        finish: str | None = None
        async for _, out in run.generate([prompt], params):
            for o in out.outputs:
                text.append(o.text)
                finish = o.finish_reason or finish
        status = "incomplete" if finish == "length" else "completed"
        output = _output("".join(text), plan, status, body.max_tool_calls)
        final = response_object(
            body,
            **head,
            status=status,
            output=output,
            incomplete=status == "incomplete",
            usage_=usage(run.usage()),
        )
        return json_response({**final, "volt": run.volt()})


def _output(
    text: str, plan: ToolPlan | None, status: str, max_tool_calls: int | None
) -> list[dict[str, Any]]:
    """The output items of a whole answer, read by the same reader a stream uses."""
    if plan is None:
        return [message_item(text, status)]
    reader = plan.stream()
    reader.feed(text)
    content, calls = reader.finish()
    output = [message_item(content or "", status)] if content or not calls else []
    return output + [function_call_item(c) for c in calls[:max_tool_calls]]


async def _stream(
    request: web.Request,
    run: Run,
    body: ResponsesRequest,
    prompt: list[int],
    plan: ToolPlan | None,
    head: dict[str, Any],
) -> web.StreamResponse:
    response = await sse.open_stream(request)
    writer = EventWriter(response)
    items = OutputStream(writer, body.max_tool_calls)
    reader: ToolStream | None = plan.stream() if plan else None
    try:
        start = response_object(body, **head, status="in_progress")
        await writer.send("response.created", response=start)
        await writer.send("response.in_progress", response=start)
        finish: str | None = None
        async for _, out in run.generate([prompt], head["params"]):
            for o in out.outputs:
                await _deltas(items, reader, o.text)
                finish = o.finish_reason or finish
        if reader is not None:
            await _deltas(items, reader, None)
        status = "incomplete" if finish == "length" else "completed"
        output = await items.finish(status)
        final = response_object(
            body,
            **head,
            status=status,
            output=output,
            incomplete=status == "incomplete",
            usage_=usage(run.usage()),
        )
        await writer.send(f"response.{status}", response={**final, "volt": run.volt()})
        await response.write_eof()
    except ConnectionResetError:
        run.outcome = "cancelled"  # the client left; leaving the Run aborts and meters
    except Exception as err:
        run.outcome = "error"
        failure = engine_failure(run.engine, err)
        with contextlib.suppress(ConnectionResetError):
            await writer.send(
                "error", code=failure.code, message=failure.message, param=failure.param
            )
            failed = response_object(
                body,
                **head,
                status="failed",
                output=items.snapshot(),
                error={"code": failure.code or "server_error", "message": failure.message},
                usage_=usage(run.usage()),
            )
            await writer.send("response.failed", response={**failed, "volt": run.volt()})
            await response.write_eof()
    return response


async def _deltas(items: OutputStream, reader: ToolStream | None, text: str | None) -> None:
    """One engine step's text (None: the end of the output) as item events."""
    if reader is None:
        await items.text(text or "")
        return
    content, calls = reader.feed(text) if text is not None else reader.flush()
    await items.text(content)
    for call in calls:
        await items.tool_call(call)
