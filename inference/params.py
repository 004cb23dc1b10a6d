"""From validated OpenAI requests to what the engine takes: prompt token ids and vLLM
`SamplingParams`, refusing what the model cannot do with a 400 that names the parameter."""

from __future__ import annotations

import asyncio
from typing import Any

from inference.config import SparkSettings
from inference.engine import Engine
from inference.protocol import ChatCompletionRequest, SamplingFields
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
    engine: Engine, request: ChatCompletionRequest, settings: SparkSettings
) -> list[int]:
    """Render the messages with the model's own chat template, then tokenize; in a worker
    thread for large conversations (jinja and the tokenizer would hold the event loop)."""
    if sum(len(m.text()) for m in request.messages) > settings.inline_tokenize_chars:
        return await asyncio.to_thread(_chat_prompt, engine, request)
    return _chat_prompt(engine, request)


def _chat_prompt(engine: Engine, request: ChatCompletionRequest) -> list[int]:
    messages = [
        # Older templates know no "developer" role; it is the system prompt by another name.
        {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
        for m in request.messages
    ]
    try:
        text = engine.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
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


def sampling_params(
    engine: Engine,
    request: SamplingFields,
    *,
    max_tokens: int,
    logprobs: int | None,
    structured: Any = None,
    prompt_logprobs: int | None = None,
) -> Any:
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    extra: dict[str, Any] = {}
    for name in ("top_k", "min_p", "repetition_penalty"):
        value = getattr(request, name)
        if value is not None:
            extra[name] = value
    return SamplingParams(
        n=request.n,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        temperature=request.temperature,
        top_p=request.top_p,
        seed=request.seed,
        stop=request.stop,
        max_tokens=max_tokens,
        logprobs=logprobs,
        prompt_logprobs=prompt_logprobs,
        logit_bias=_logit_bias(engine, request.logit_bias),
        structured_outputs=structured,
        # Deltas: each step carries only the new tokens, so streaming costs O(n), not O(n^2).
        output_kind=RequestOutputKind.DELTA,
        **extra,
    )


def structured_outputs(request: ChatCompletionRequest) -> Any:
    """`response_format` to vLLM's structured outputs (a grammar constrains decoding)."""
    from vllm.sampling_params import StructuredOutputsParams

    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.json_schema is None:
        return StructuredOutputsParams(json_object=True)
    return StructuredOutputsParams(json=fmt.json_schema.schema_ or {"type": "object"})
