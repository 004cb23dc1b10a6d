"""From validated OpenAI requests to what the engine takes: prompt token ids and vLLM
`SamplingParams`, refusing what the model cannot do with a 400 that names the parameter."""

from __future__ import annotations

import asyncio
import json
from types import EllipsisType
from typing import Any

from inference import templates
from inference.config import SparkSettings
from inference.engine import Engine
from inference.protocol import ChatCompletionRequest, Message, SamplingFields
from inference.tools import plan_tools
from voltcore.errors import InvalidRequest


def prompt_count(prompt: Any) -> int:
    """How many prompts a `prompt` (or embeddings `input`) holds, without tokenizing it."""
    if isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)):
        return 1
    return len(prompt)


def check_sequences(
    engine: Engine, settings: SparkSettings, prompts: int, n: int, param: str = "prompt"
) -> int:
    """The engine sequences a request starts (prompts x n), refused with a 400 past the
    per-request bounds. Called before tokenizing: refusing costs nothing however large the body."""
    if prompts > settings.max_prompts_per_request:
        raise InvalidRequest(
            f"At most {settings.max_prompts_per_request} prompts per request; got {prompts}.",
            param=param,
            code="invalid_value",
        )
    sequences, limit = prompts * n, engine.sequence_limit
    if sequences > limit:
        raise InvalidRequest(
            f"{prompts} prompt(s) with n={n} would start {sequences} sequences; "
            f"'{engine.spec.id}' takes at most {limit} per request. Lower 'n' or send fewer "
            "prompts per request.",
            param="n" if n > 1 else param,
            code="invalid_value",
        )
    return sequences


def _text_size(prompt: Any) -> int:
    """Characters (or token ids) to process: what decides whether to leave the event loop."""
    if isinstance(prompt, str):
        return len(prompt)
    return sum(len(item) for item in prompt) if prompt and not isinstance(prompt[0], int) else 0


async def chat_prompt(
    engine: Engine,
    request: ChatCompletionRequest,
    settings: SparkSettings,
    tools: list[dict[str, Any]] | EllipsisType | None = ...,
) -> list[int]:
    """Render the messages with the model's chat template (the catalog's `chat_template`, else
    the model's own) and `tools` (`ToolPlan.template_tools` of `inference.tools.plan_tools`;
    left out, they are planned here from the request, so that every caller renders what chat
    renders), then tokenize; in a worker thread for large conversations (jinja and the
    tokenizer would hold the event loop)."""
    if tools is ...:
        plan = plan_tools(engine, request.tools, request.tool_choice, request.parallel_tool_calls)
        tools = plan.template_tools if plan is not None else None
    if sum(len(m.text()) for m in request.messages) > settings.inline_tokenize_chars:
        return await asyncio.to_thread(_chat_prompt, engine, request, tools)
    return _chat_prompt(engine, request, tools)


def template_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as chat templates read them (Hugging Face's conventions): text content, tool
    calls with their arguments as objects, tool results with the id of their call."""
    out: list[dict[str, Any]] = []
    for m in messages:
        # Older templates know no "developer" role; it is the system prompt by another name.
        item: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role}
        item["content"] = m.text()
        if m.tool_calls:
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.function.name,
                        "arguments": _arguments(call.function.arguments),
                    },
                }
                for call in m.tool_calls
            ]
        if m.tool_call_id is not None:
            item["tool_call_id"] = m.tool_call_id
        out.append(item)
    return out


def _arguments(text: str) -> Any:
    """Templates index and `tojson` arguments as an object; text that is not one (the model
    wrote broken JSON in an earlier turn) is passed on as it was written."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _chat_prompt(
    engine: Engine, request: ChatCompletionRequest, tools: list[dict[str, Any]] | None
) -> list[int]:
    extra: dict[str, Any] = {}
    if engine.spec.chat_template is not None:
        extra["chat_template"] = templates.load(engine.spec.chat_template)
    if tools:
        extra["tools"] = tools
    try:
        text = engine.tokenizer.apply_chat_template(
            template_messages(request.messages), add_generation_prompt=True, tokenize=False, **extra
        )
    except Exception as err:  # a template that rejects the conversation (e.g. role order)
        raise InvalidRequest(
            f"The messages do not fit the model's chat template: {err}",
            param="messages",
            code="invalid_value",
        ) from None
    return list(engine.tokenizer.encode(text, add_special_tokens=False))


async def completion_prompts(
    engine: Engine, prompt: Any, settings: SparkSettings, param: str = "prompt"
) -> list[list[int]]:
    """A string, strings, token ids or lists of token ids: always a list of token-id lists;
    tokenized in a worker thread when there is much of it. Check the prompt count first."""
    if _text_size(prompt) > settings.inline_tokenize_chars:
        return await asyncio.to_thread(_completion_prompts, engine, prompt, param)
    return _completion_prompts(engine, prompt, param)


def _completion_prompts(engine: Engine, prompt: Any, param: str) -> list[list[int]]:
    if isinstance(prompt, str):
        prompt = [prompt]
    if prompt and isinstance(prompt[0], int):
        prompt = [prompt]
    out: list[list[int]] = []
    vocab = len(engine.tokenizer)
    for i, item in enumerate(prompt):
        if isinstance(item, str):
            if not item:
                raise InvalidRequest(
                    f"The {param} must not be empty.", param=param, code="invalid_value"
                )
            out.append(list(engine.tokenizer.encode(item)))
        else:
            bad = next((t for t in item if not 0 <= t < vocab), None)
            if bad is not None:
                raise InvalidRequest(
                    f"Token id {bad} is outside the model's vocabulary (0..{vocab - 1}).",
                    param=f"{param}[{i}]",
                    code="invalid_value",
                )
            out.append(list(item))
    return out


def check_context(engine: Engine, prompt_len: int, max_tokens: int | None, param: str) -> int:
    """The number of tokens to generate, within the model's context length."""
    room = engine.max_model_len - prompt_len
    if room < 1 or (max_tokens is not None and max_tokens > room):
        asked = prompt_len + (max_tokens or 1)
        raise InvalidRequest(
            f"This model's maximum context length is {engine.max_model_len} tokens. However, "
            f"you requested {asked} tokens ({prompt_len} in the {param}, "
            f"{asked - prompt_len} in the completion). Reduce the length of the {param} or "
            "the completion.",
            param=param,
            code="context_length_exceeded",
        )
    return max_tokens if max_tokens is not None else room


def _logit_bias(engine: Engine, bias: dict[str, float] | None) -> dict[int, float] | None:
    if bias is None:
        return None
    out: dict[int, float] = {}
    for key, value in bias.items():
        if not key.isdigit() or int(key) >= len(engine.tokenizer):
            raise InvalidRequest(
                f"logit_bias key '{key}' is not a token id of this model.",
                param="logit_bias",
                code="invalid_value",
            )
        out[int(key)] = value
    return out


# Sampling fields a model may default (vLLM's `get_diff_sampling_param` keys Spark applies;
# a generation_config's `max_new_tokens` is not one: an unset max_tokens means "until the end of
# the context", as at OpenAI).
_DEFAULTABLE = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
)


def sampling_params(
    engine: Engine,
    request: SamplingFields,
    *,
    max_tokens: int,
    logprobs: int | None,
    structured: Any = None,
    prompt_logprobs: int | None = None,
) -> Any:
    """The one place sampling is resolved, field by field: the request's value, else the
    model's default (`Engine.sampling_defaults`: the catalog's over the model's
    generation_config.json), else vLLM's neutral value, which is OpenAI's default
    (temperature 1, top_p 1, no penalties, no top_k or min_p)."""
    from vllm import SamplingParams
    from vllm.exceptions import VLLMClientError
    from vllm.sampling_params import RequestOutputKind

    sampling: dict[str, Any] = {}
    for name in _DEFAULTABLE:
        value = getattr(request, name)
        if value is None:
            value = engine.sampling_defaults.get(name)
        if value is not None:
            sampling[name] = value
    if request.min_tokens > max_tokens:
        raise InvalidRequest(
            f"'min_tokens' ({request.min_tokens}) must not exceed the tokens this request may "
            f"generate ({max_tokens}, from 'max_tokens' or the context left).",
            param="min_tokens",
            code="invalid_value",
        )
    vocab = len(engine.tokenizer)
    for i, token in enumerate(request.stop_token_ids or ()):
        if token >= vocab:
            raise InvalidRequest(
                f"Token id {token} is outside the model's vocabulary (0..{vocab - 1}).",
                param=f"stop_token_ids[{i}]",
                code="invalid_value",
            )
    try:
        return SamplingParams(
            n=request.n,
            seed=request.seed,
            stop=request.stop,
            stop_token_ids=request.stop_token_ids,
            ignore_eos=request.ignore_eos,
            min_tokens=request.min_tokens,
            max_tokens=max_tokens,
            logprobs=logprobs,
            prompt_logprobs=prompt_logprobs,
            logit_bias=_logit_bias(engine, request.logit_bias),
            structured_outputs=structured,
            # Deltas: each step carries only the new tokens, so streaming costs O(n), not O(n^2).
            output_kind=RequestOutputKind.DELTA,
            **sampling,
        )
    except (ValueError, VLLMClientError) as err:  # vLLM's rules across fields
        message = err.args[0] if err.args else str(err)
        # "n must be 1 when using greedy sampling" names no parameter; n is the one to change.
        param = getattr(err, "parameter", None) or ("n" if "greedy" in message else None)
        raise InvalidRequest(str(message), param=param, code="invalid_value") from None


def verified(engine: Engine, params: Any, param: str | None) -> Any:
    """`params`, checked by vLLM before any byte is sent: a stream can then only fail for what
    happens during generation. `param` names the request field a failure is blamed on (the
    structured output's source, when there is one)."""
    from vllm.exceptions import VLLMClientError

    try:
        engine.verify(params)
    except (ValueError, VLLMClientError) as err:
        raise InvalidRequest(str(err), param=param, code="invalid_value") from None
    return params


def structured_outputs(request: ChatCompletionRequest) -> Any:
    """`response_format` to vLLM's structured outputs (a grammar constrains decoding)."""
    from vllm.sampling_params import StructuredOutputsParams

    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.json_schema is None:
        return StructuredOutputsParams(json_object=True)
    return StructuredOutputsParams(json=fmt.json_schema.schema_ or {"type": "object"})
