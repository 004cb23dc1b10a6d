"""Request models of Spark's OpenAI-compatible endpoints, in the OpenAI reference's field order,
with Volt's extensions in a marked block. Data and validation only: conversion to engine
parameters lives in `inference.params`."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from voltcore.errors import InvalidRequest
from voltcore.validation import RequestModel


class OpenAIModel(RequestModel):
    """A request object under OpenAI's conventions: an explicit `null` means "not given" (the
    SDKs send `temperature: null`, `tools: null`, ...), so a known field set to null takes its
    default. An unknown field stays an error, null or not: a typo never passes silently."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or None not in data.values():
            return data
        known = {f.alias or n for n, f in cls.model_fields.items()}
        return {k: v for k, v in data.items() if v is not None or k not in known}


class OpenAIRequest(OpenAIModel):
    # OpenAI parameters an endpoint knows but Volt cannot honour, with the reason the 400 gives:
    # a clear refusal naming them beats the "unrecognized argument" a typo gets. Null is fine.
    UNSUPPORTED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if name in cls.UNSUPPORTED and value is not None:
                    raise InvalidRequest(
                        f"'{name}' is not supported by Volt: {cls.UNSUPPORTED[name]}",
                        param=name,
                        code="unsupported_parameter",
                    )
            data = {k: v for k, v in data.items() if k not in cls.UNSUPPORTED}
        return data


class TextPart(OpenAIModel):
    type: Literal["text"]
    text: str


class RefusalPart(OpenAIModel):
    """An assistant's earlier refusal, replayed in the history."""

    type: Literal["refusal"]
    refusal: str


class MediaPart(OpenAIModel):
    """Image, audio and file input: parsed only to be refused by name (Volt's chat models read
    text), rather than failing as an unknown shape."""

    model_config = ConfigDict(extra="allow")
    type: Literal["image_url", "input_audio", "file"]


ContentPart = Annotated[TextPart | RefusalPart | MediaPart, Field(discriminator="type")]


class FunctionCall(OpenAIModel):
    name: str = Field(min_length=1, max_length=64)
    arguments: str  # JSON text, as the model produced it
    # The openai SDK's own parse of `arguments` (`client.chat.completions.stream/parse`), which
    # it sends back with the message: ignored, `arguments` is what the model said.
    parsed_arguments: Any = None


class ToolCall(OpenAIModel):
    """A tool call of an earlier assistant turn, as Spark (or OpenAI) returned it."""

    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"]
    function: FunctionCall


class Message(OpenAIModel):
    """One message of any role; which fields a role may carry is checked by
    `ChatCompletionRequest`, where the error can name `messages[i]`."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=64)
    # Assistant turns, exactly as the SDKs replay a returned message.
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    audio: dict[str, Any] | None = None  # a reference to earlier audio output: never Volt's
    annotations: list[dict[str, Any]] | None = None  # URL citations of web search: ignored
    parsed: Any = None  # the openai SDK's parse of `content` under a response_format: ignored
    function_call: FunctionCall | None = None  # deprecated; refused like `functions`
    # Tool results.
    tool_call_id: str | None = Field(None, min_length=1, max_length=256)

    def text(self) -> str:
        """The text content; other parts are refused before anything reads this."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            part.text if isinstance(part, TextPart) else part.refusal
            for part in self.content
            if not isinstance(part, MediaPart)
        )


_ROLE_FIELDS = {
    "system": {"content", "name"},
    "developer": {"content", "name"},
    "user": {"content", "name"},
    "assistant": {"content", "name", "refusal", "tool_calls", "audio", "annotations", "parsed"},
    "tool": {"content", "tool_call_id"},
}


def check_message(message: Message, i: int) -> None:
    """OpenAI's per-role rules, naming `messages[i].field` when one is broken."""
    where = f"messages[{i}]"
    for name in message.model_fields_set - _ROLE_FIELDS[message.role] - {"role"}:
        if name == "function_call":
            raise InvalidRequest(
                "'function_call' is deprecated and not supported by Volt; use 'tool_calls'.",
                param=f"{where}.function_call",
                code="unsupported_parameter",
            )
        raise InvalidRequest(
            f"'{name}' is not allowed in a message with role '{message.role}'.",
            param=f"{where}.{name}",
            code="invalid_value",
        )
    if message.audio is not None:
        raise InvalidRequest(
            "Volt generates no audio, so there is no earlier audio output to refer to.",
            param=f"{where}.audio",
            code="unsupported_parameter",
        )
    if message.role == "tool" and message.tool_call_id is None:
        raise InvalidRequest(
            f"Missing required parameter: '{where}.tool_call_id'.",
            param=f"{where}.tool_call_id",
            code="missing_required_parameter",
        )
    if message.role != "assistant" and message.content is None:
        raise InvalidRequest(
            f"Missing required parameter: '{where}.content'.",
            param=f"{where}.content",
            code="missing_required_parameter",
        )
    for j, part in enumerate(message.content if isinstance(message.content, list) else []):
        allowed = {"assistant": ("text", "refusal"), "user": ("text",)}.get(message.role, ("text",))
        if part.type in allowed:
            continue
        if isinstance(part, MediaPart) and message.role == "user":
            raise InvalidRequest(
                f"'{part.type}' content is not supported: Volt's chat models read text only.",
                param=f"{where}.content[{j}].type",
                code="unsupported_value",
            )
        raise InvalidRequest(
            f"A message with role '{message.role}' takes content parts of type "
            f"{' or '.join(repr(a) for a in allowed)}, not '{part.type}'.",
            param=f"{where}.content[{j}].type",
            code="invalid_value",
        )


class JsonSchemaFormat(OpenAIModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(OpenAIModel):
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


class StreamOptions(OpenAIModel):
    include_usage: bool = False
    # OpenAI pads stream events with random characters against length side channels; Volt's
    # events are not padded (its deployments terminate TLS at their own ingress), so accepted
    # and ignored.
    include_obfuscation: bool = False

    # --- Volt extension (vLLM's) ---
    # With `include_usage`, every chunk carries the request's usage so far, not only the last.
    continuous_usage_stats: bool = False


Stop = str | Annotated[list[str], Field(max_length=4)] | None
Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]


class SamplingFields(OpenAIRequest):
    """Fields chat and completions share, in the order both references list them. Sampling
    fields left unset (or null) take the model's defaults, then OpenAI's: see
    `inference.params.sampling_params`."""

    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    max_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=128)
    presence_penalty: Penalty | None = None
    seed: int | None = None
    stop: Stop = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    user: str | None = Field(None, max_length=256)

    # --- Volt extensions (vLLM sampling controls OpenAI does not have) ---
    top_k: int | None = Field(None, ge=-1)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=2.0)
    # --- Volt extensions for load testers (vLLM's): fixed-length runs and token-level stops ---
    ignore_eos: bool = False
    min_tokens: int = Field(0, ge=0)
    stop_token_ids: list[Annotated[int, Field(ge=0)]] | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> SamplingFields:
        if self.stream_options is not None and not self.stream:
            raise InvalidRequest(
                "'stream_options' is only allowed when 'stream' is true.",
                param="stream_options",
                code="invalid_value",
            )
        return self


class ToolFunction(OpenAIModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None  # a JSON Schema object; absent: no arguments
    strict: bool | None = None


class ChatTool(OpenAIModel):
    type: Literal["function"]
    function: ToolFunction


class NamedFunction(OpenAIModel):
    name: str


class NamedToolChoice(OpenAIModel):
    type: Literal["function"]
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice
ServiceTier = Literal["auto", "default", "flex", "scale", "priority"]


class ChatCompletionRequest(SamplingFields):
    UNSUPPORTED: ClassVar[dict[str, str]] = {
        "functions": "deprecated by OpenAI; use 'tools'.",
        "function_call": "deprecated by OpenAI; use 'tool_choice'.",
        "reasoning_effort": "Volt's models are not reasoning models.",
        "verbosity": "Volt's models have no verbosity control; bound 'max_completion_tokens'.",
        "web_search_options": "Volt's models do not search the web.",
    }

    messages: list[Message] = Field(min_length=1)
    model: str
    audio: dict[str, Any] | None = None  # refused unless null: see `_check`
    logprobs: bool = False
    max_completion_tokens: int | None = Field(None, ge=1)
    # Accepted with OpenAI's meaning where it has one here, ignored where it only concerns
    # stored completions (Volt stores none); see openapi.yaml for each.
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = Field(None, max_length=16)
    modalities: list[Literal["text", "audio"]] | None = None
    parallel_tool_calls: bool | None = None
    prediction: dict[str, Any] | None = None
    prompt_cache_key: str | None = Field(None, max_length=1024)
    response_format: ResponseFormat | None = None
    safety_identifier: str | None = Field(None, max_length=256)
    service_tier: ServiceTier | None = None
    store: bool | None = None
    tool_choice: ToolChoice | None = None
    tools: list[ChatTool] | None = Field(None, max_length=128)
    top_logprobs: int | None = Field(None, ge=0, le=20)

    @model_validator(mode="after")
    def _check(self) -> ChatCompletionRequest:
        for i, message in enumerate(self.messages):
            check_message(message, i)
        if self.store:
            raise InvalidRequest(
                "'store: true' asks Volt to keep the completion, and Volt never keeps prompts "
                "or completions: they do not leave the serving pod. Leave 'store' unset or false.",
                param="store",
                code="unsupported_value",
            )
        if self.audio is not None or "audio" in (self.modalities or []):
            raise InvalidRequest(
                "Volt's models generate text only; audio output is not supported.",
                param="audio" if self.audio is not None else "modalities",
                code="unsupported_value",
            )
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
    UNSUPPORTED: ClassVar[dict[str, str]] = {
        "suffix": "Volt's models do not fill in the middle; put the text in 'prompt'.",
    }

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
