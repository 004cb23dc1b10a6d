"""`POST /tokenize` and `POST /detokenize`, as vLLM's server has them, for load testers and
tooling that count tokens before sending. The model is looked up exactly as chat looks it up
(org-scoped fine-tuned models, the tier's catalog), and the messages form renders the prompt
chat completions would run, so its `count` is chat's `prompt_tokens`. Nothing is generated or
metered; the text stays in this process like every prompt."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from pydantic import Field, model_validator

from inference.appkeys import ENGINES, SPARK_SETTINGS
from inference.engine import Engine
from inference.params import chat_prompt
from inference.protocol import (
    ChatCompletionRequest,
    ChatTool,
    Message,
    OpenAIRequest,
    check_message,
)
from inference.serving import find_model, volt_block
from voltcore.appkeys import PRINCIPAL
from voltcore.errors import InvalidRequest
from voltcore.http import json_response
from voltcore.validation import read_json

routes = web.RouteTableDef()


class TokenizeRequest(OpenAIRequest):
    """vLLM's two tokenize forms in one model: `prompt` (as /v1/completions takes it) or
    `messages` (as /v1/chat/completions takes them), exactly one."""

    model: str
    prompt: str | None = None
    messages: list[Message] | None = Field(None, min_length=1)
    tools: list[ChatTool] | None = Field(None, max_length=128)
    add_generation_prompt: bool = True
    # vLLM's defaults: on for a prompt (as completions encodes it), off for messages (the chat
    # template writes its own special tokens).
    add_special_tokens: bool | None = None
    return_token_strs: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise InvalidRequest(
                "Give exactly one of 'prompt' and 'messages'.",
                param="prompt" if self.prompt is not None else "messages",
                code="invalid_value",
            )
        for i, message in enumerate(self.messages or ()):
            check_message(message, i)
        if self.messages is None and self.tools is not None:
            raise InvalidRequest(
                "'tools' are rendered with 'messages' only.", param="tools", code="invalid_value"
            )
        if self.messages is not None and self.add_special_tokens:
            raise InvalidRequest(
                "'add_special_tokens' is not supported with 'messages': the prompt is rendered "
                "exactly as chat completions renders it.",
                param="add_special_tokens",
                code="unsupported_value",
            )
        if not self.add_generation_prompt:
            raise InvalidRequest(
                "'add_generation_prompt: false' is not supported: the prompt is rendered exactly "
                "as chat completions renders it, ready for the assistant's turn.",
                param="add_generation_prompt",
                code="unsupported_value",
            )
        return self


class DetokenizeRequest(OpenAIRequest):
    model: str
    tokens: list[int]


async def _model(request: web.Request, model: str, chat_only: bool) -> Engine:
    """The engine whose tokenizer serves `model`, found as chat finds it (a fine-tuned model
    tokenizes as its base model); embedding models tokenize prompts too."""
    known = request.app[ENGINES].get(model)
    kind = known.spec.kind if known is not None and not chat_only else "chat"
    engine, _ = await find_model(request, model, kind, "tokenize")
    return engine


def _encode(engine: Engine, text: str, add_special_tokens: bool) -> list[int]:
    return list(engine.tokenizer.encode(text, add_special_tokens=add_special_tokens))


@routes.post("/tokenize")
async def tokenize(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await read_json(request, TokenizeRequest)
    engine = await _model(request, body.model, chat_only=body.messages is not None)
    settings = request.app[SPARK_SETTINGS]
    if body.messages is not None:
        chat = ChatCompletionRequest.model_construct(
            model=body.model, messages=body.messages, tools=body.tools
        )
        tokens = await chat_prompt(engine, chat, settings)
    else:
        text, special = body.prompt or "", body.add_special_tokens is not False
        if len(text) > settings.inline_tokenize_chars:
            tokens = await asyncio.to_thread(_encode, engine, text, special)
        else:
            tokens = _encode(engine, text, special)
    strs: list[str] | None = None
    if body.return_token_strs:
        strs = list(engine.tokenizer.convert_ids_to_tokens(tokens))
    out: dict[str, Any] = {
        "count": len(tokens),
        "max_model_len": engine.max_model_len,
        "tokens": tokens,
        "token_strs": strs,
        "volt": volt_block(request, request[PRINCIPAL], started=started),
    }
    return json_response(out)


def _decode(engine: Engine, tokens: list[int]) -> str:
    return str(engine.tokenizer.decode(tokens))


@routes.post("/detokenize")
async def detokenize(request: web.Request) -> web.Response:
    started = time.perf_counter()
    body = await read_json(request, DetokenizeRequest)
    engine = await _model(request, body.model, chat_only=False)
    vocab = len(engine.tokenizer)
    for i, token in enumerate(body.tokens):
        if not 0 <= token < vocab:
            raise InvalidRequest(
                f"Token id {token} is outside the model's vocabulary (0..{vocab - 1}).",
                param=f"tokens[{i}]",
                code="invalid_value",
            )
    settings = request.app[SPARK_SETTINGS]
    if len(body.tokens) > settings.inline_tokenize_chars // 4:
        text = await asyncio.to_thread(_decode, engine, body.tokens)
    else:
        text = _decode(engine, body.tokens)
    return json_response(
        {"prompt": text, "volt": volt_block(request, request[PRINCIPAL], started=started)}
    )
