"""A Responses request as the chat request Spark already serves, and the engine's answer as
Responses output items: one path to the prompt, sampling and tool plan for both endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from inference.protocol import ChatCompletionRequest
from inference.responses.protocol import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionChoice,
    MessageItem,
    ResponsesRequest,
)
from voltcore.errors import InvalidRequest
from voltcore.validation import validate_model


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _messages(body: ResponsesRequest) -> list[dict[str, Any]]:
    """`instructions` first as the system prompt, then the items; the function calls of one
    turn become one assistant message's `tool_calls`, and their outputs `tool` messages."""
    out: list[dict[str, Any]] = []
    if body.instructions:
        out.append({"role": "system", "content": body.instructions})
    items = [MessageItem(role="user", content=body.input)] if isinstance(body.input, str) else []
    for item in items or body.input:
        if isinstance(item, MessageItem):
            out.append({"role": item.role, "content": item.text()})
        elif isinstance(item, FunctionCallItem):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutputItem):
            out.append({"role": "tool", "tool_call_id": item.call_id, "content": item.text()})
    return out


def chat_view(body: ResponsesRequest) -> ChatCompletionRequest:
    """The chat completion this response is: what Spark's chat path renders, samples and
    constrains. Only what the caller set is carried over, so unset sampling fields take the
    model's defaults exactly as in chat."""
    view: dict[str, Any] = {"model": body.model, "messages": _messages(body)}
    if not view["messages"]:
        raise InvalidRequest(
            "The request has neither 'input' messages nor 'instructions'.",
            param="input",
            code="invalid_value",
        )
    for name in ("temperature", "top_p", "parallel_tool_calls", "user"):
        if name in body.model_fields_set:
            view[name] = getattr(body, name)
    if body.max_output_tokens is not None:
        view["max_completion_tokens"] = body.max_output_tokens
    tools = body.function_tools()
    if tools:
        view["tools"] = [
            {
                "type": "function",
                "function": t.model_dump(exclude={"type"}, exclude_none=True, by_alias=True),
            }
            for t in tools
        ]
    choice = body.tool_choice
    if isinstance(choice, FunctionChoice):
        view["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        view["tool_choice"] = choice
    fmt = body.text.format if body.text else None
    if fmt is not None and fmt.type == "json_schema":
        view["response_format"] = {
            "type": "json_schema",
            "json_schema": fmt.model_dump(exclude={"type"}, exclude_none=True, by_alias=True),
        }
    elif fmt is not None:
        view["response_format"] = {"type": fmt.type}
    return validate_model(ChatCompletionRequest, view, strict=False)


def message_item(text: str, status: str, item_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id or new_id("msg"),
        "status": status,
        "role": "assistant",
        "content": [text_part(text)],
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(
    call: dict[str, Any], status: str = "completed", item_id: str | None = None
) -> dict[str, Any]:
    """A chat-shaped tool call (`{id, type, function: {name, arguments}}`) as an output item."""
    return {
        "type": "function_call",
        "id": item_id or new_id("fc"),
        "call_id": call.get("id") or new_id("call"),
        "name": call["function"]["name"],
        "arguments": call["function"].get("arguments") or "",
        "status": status,
    }


def usage(run_usage: dict[str, Any]) -> dict[str, Any]:
    """Chat's usage in the Responses API's words."""
    cached = (run_usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return {
        "input_tokens": run_usage["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": run_usage["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": run_usage["total_tokens"],
    }


def response_object(
    body: ResponsesRequest,
    *,
    response_id: str,
    created_at: int,
    status: str,
    params: Any,
    output: list[dict[str, Any]] | None = None,
    incomplete: bool = False,
    error: dict[str, Any] | None = None,
    usage_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The response object in the reference's field order; `temperature` and `top_p` are what
    sampling used (the model's defaults where the request left them unset)."""
    fmt = body.text.format if body.text and body.text.format else None
    choice = body.tool_choice
    tools = body.function_tools()
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "max_tool_calls": body.max_tool_calls,
        "model": body.model,
        "output": output or [],
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "previous_response_id": None,
        "prompt_cache_key": body.prompt_cache_key,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": body.safety_identifier,
        "service_tier": body.service_tier or "default",
        # Never kept: Volt stores no prompts or completions (see openapi.yaml).
        "store": False,
        "temperature": params.temperature,
        "text": {
            "format": fmt.model_dump(exclude_none=True, by_alias=True) if fmt else {"type": "text"}
        },
        "tool_choice": choice.model_dump()
        if isinstance(choice, FunctionChoice)
        else (choice or "auto"),
        "tools": [t.model_dump() for t in tools],
        "top_p": params.top_p,
        "truncation": "disabled",
        "usage": usage_,
        "user": body.user,
        "metadata": body.metadata or {},
    }
