"""Request models of Spark's OpenAI-compatible endpoints, in the OpenAI reference's field order,
with Volt's extensions in a marked block. Data and validation only: conversion to engine
parameters lives in `inference.params`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from voltcore.errors import InvalidRequest
from voltcore.validation import RequestModel

# OpenAI parameters these endpoints know but Volt does not serve: a clear 400 naming them beats
# the "unrecognized argument" a typo gets.
UNSUPPORTED = {
    "audio",
    "function_call",
    "functions",
    "metadata",
    "modalities",
    "parallel_tool_calls",
    "prediction",
    "reasoning_effort",
    "service_tier",
    "store",
    "tool_choice",
    "tools",
    "web_search_options",
    "suffix",
    "verbosity",
}


class OpenAIRequest(RequestModel):
    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in data:
                if name in UNSUPPORTED and data[name] is not None:
                    raise InvalidRequest(
                        f"'{name}' is not supported by Volt.",
                        param=name,
                        code="unsupported_parameter",
                    )
        return data


class TextPart(RequestModel):
    type: Literal["text"]
    text: str


class Message(RequestModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(None, max_length=64)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(RequestModel):
    # One model rather than a tagged union, so that errors name `response_format.json_schema.x`.
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_iff_json_schema(self) -> ResponseFormat:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise InvalidRequest(
                "'response_format.json_schema' is required with type 'json_schema', and only then.",
                param="response_format.json_schema",
                code="invalid_value",
            )
        return self


class StreamOptions(RequestModel):
    include_usage: bool = False


Stop = str | Annotated[list[str], Field(max_length=4)] | None
Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]


class SamplingFields(OpenAIRequest):
    """Fields chat and completions share, in the order both references list them."""

    frequency_penalty: Penalty = 0.0
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    max_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=128)
    presence_penalty: Penalty = 0.0
    seed: int | None = None
    stop: Stop = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    user: str | None = Field(None, max_length=256)

    # --- Volt extensions (vLLM sampling controls OpenAI does not have) ---
    top_k: int | None = Field(None, ge=-1)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=2.0)

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> SamplingFields:
        if self.stream_options is not None and not self.stream:
            raise InvalidRequest(
                "'stream_options' is only allowed when 'stream' is true.",
                param="stream_options",
                code="invalid_value",
            )
        return self


class ChatCompletionRequest(SamplingFields):
    messages: list[Message] = Field(min_length=1)
    model: str
    logprobs: bool = False
    max_completion_tokens: int | None = Field(None, ge=1)
    response_format: ResponseFormat | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)

    @model_validator(mode="after")
    def _check(self) -> ChatCompletionRequest:
        if self.top_logprobs is not None and not self.logprobs:
            raise InvalidRequest(
                "'top_logprobs' requires 'logprobs' to be true.",
                param="top_logprobs",
                code="invalid_value",
            )
        both = self.max_tokens is not None and self.max_completion_tokens is not None
        if both and self.max_tokens != self.max_completion_tokens:
            raise InvalidRequest(
                "Give 'max_completion_tokens' or its deprecated alias 'max_tokens', not both.",
                param="max_tokens",
                code="invalid_value",
            )
        return self

    @property
    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


Prompt = (
    str
    | Annotated[list[str], Field(min_length=1)]
    | Annotated[list[int], Field(min_length=1)]
    | Annotated[list[Annotated[list[int], Field(min_length=1)]], Field(min_length=1)]
)


class CompletionRequest(SamplingFields):
    model: str
    prompt: Prompt
    best_of: int | None = Field(None, ge=1, le=128)
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=5)
    max_tokens: int | None = Field(16, ge=1)  # OpenAI's default for completions

    @model_validator(mode="after")
    def _check(self) -> CompletionRequest:
        if self.best_of is not None and self.best_of != self.n:
            raise InvalidRequest(
                "'best_of' other than 'n' is not supported.",
                param="best_of",
                code="unsupported_parameter",
            )
        return self


class EmbeddingRequest(OpenAIRequest):
    input: Prompt
    model: str
    dimensions: int | None = Field(None, ge=1)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = Field(None, max_length=256)
