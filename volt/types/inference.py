"""Spark: chat, completions, embeddings, models. Fields in the OpenAI reference's order; the
`volt` block (a Volt extension) is typed on every response."""

from __future__ import annotations

from typing import Literal, NotRequired, Required, TypedDict

from volt.types.common import VoltModel

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class VoltTiming(VoltModel):
    """Measured times in milliseconds; `ttft_ms` and `decode_tokens_per_s` are null where no
    tokens are generated."""

    queue_ms: float
    ttft_ms: float | None
    total_ms: float
    decode_tokens_per_s: float | None


class VoltBlock(VoltModel):
    """Where and how fast the request was served."""

    pod: str
    metro: str
    tier: str
    timing: VoltTiming


class PromptTokensDetails(VoltModel):
    cached_tokens: int | None = None


class CompletionTokensDetails(VoltModel):
    reasoning_tokens: int | None = None


class CompletionUsage(VoltModel):
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    completion_tokens_details: CompletionTokensDetails | None = None
    prompt_tokens_details: PromptTokensDetails | None = None


class TopLogprob(VoltModel):
    token: str
    logprob: float
    bytes: list[int] | None


class ChatCompletionTokenLogprob(VoltModel):
    token: str
    logprob: float
    bytes: list[int] | None
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(VoltModel):
    content: list[ChatCompletionTokenLogprob] | None = None
    refusal: list[ChatCompletionTokenLogprob] | None = None


class FunctionCall(VoltModel):
    name: str
    arguments: str  # JSON text, as the model wrote it


class ChatCompletionMessageToolCall(VoltModel):
    id: str
    type: Literal["function"]
    function: FunctionCall


class ChatCompletionMessage(VoltModel):
    content: str | None
    refusal: str | None = None
    role: Literal["assistant"]
    tool_calls: list[ChatCompletionMessageToolCall] | None = None


class ChatChoice(VoltModel):
    finish_reason: FinishReason
    index: int
    message: ChatCompletionMessage
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(VoltModel):
    """A `chat.completion`."""

    id: str
    choices: list[ChatChoice]
    created: int
    model: str
    service_tier: str | None = None
    system_fingerprint: str | None = None
    object: Literal["chat.completion"]
    usage: CompletionUsage | None = None
    # Volt extension
    volt: VoltBlock


class ChoiceDeltaFunctionCall(VoltModel):
    name: str | None = None
    arguments: str | None = None


class ChoiceDeltaToolCall(VoltModel):
    """A call's first delta has `id`, `type` and `function.name`; later ones only `index` and
    an arguments fragment."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: ChoiceDeltaFunctionCall | None = None


class ChoiceDelta(VoltModel):
    content: str | None = None
    refusal: str | None = None
    role: Literal["assistant"] | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None


class ChunkChoice(VoltModel):
    delta: ChoiceDelta
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None
    index: int


class ChatCompletionChunk(VoltModel):
    """One event of a chat stream; the last one carries `volt` (and `usage` when asked)."""

    id: str
    choices: list[ChunkChoice]
    created: int
    model: str
    service_tier: str | None = None
    system_fingerprint: str | None = None
    object: Literal["chat.completion.chunk"]
    usage: CompletionUsage | None = None
    # Volt extension: set in the final chunk.
    volt: VoltBlock | None = None


class CompletionLogprobs(VoltModel):
    text_offset: list[int] | None = None
    token_logprobs: list[float | None] | None = None
    tokens: list[str] | None = None
    top_logprobs: list[dict[str, float] | None] | None = None


class CompletionChoice(VoltModel):
    finish_reason: FinishReason | None
    index: int
    logprobs: CompletionLogprobs | None = None
    text: str


class Completion(VoltModel):
    """A `text_completion`."""

    id: str
    choices: list[CompletionChoice]
    created: int
    model: str
    system_fingerprint: str | None = None
    object: Literal["text_completion"]
    usage: CompletionUsage | None = None
    # Volt extension
    volt: VoltBlock


class CompletionChunk(VoltModel):
    """One event of a completion stream; the last one carries `volt`."""

    id: str
    choices: list[CompletionChoice]
    created: int
    model: str
    system_fingerprint: str | None = None
    object: Literal["text_completion"]
    usage: CompletionUsage | None = None
    # Volt extension: set in the final chunk.
    volt: VoltBlock | None = None


class Embedding(VoltModel):
    index: int
    # A base64 string with `encoding_format="base64"`.
    embedding: list[float] | str
    object: Literal["embedding"]


class EmbeddingUsage(VoltModel):
    prompt_tokens: int
    total_tokens: int


class CreateEmbeddingResponse(VoltModel):
    data: list[Embedding]
    model: str
    object: Literal["list"]
    usage: EmbeddingUsage
    # Volt extension
    volt: VoltBlock


class TokenizeResponse(VoltModel):
    """vLLM's `/tokenize` answer; `token_strs` only with `return_token_strs=True`."""

    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None
    # Volt extension
    volt: VoltBlock


class DetokenizeResponse(VoltModel):
    prompt: str
    # Volt extension
    volt: VoltBlock


class Model(VoltModel):
    id: str
    created: int
    object: Literal["model"]
    owned_by: str
    # Volt extensions
    kind: Literal["chat", "embedding"] | None = None
    max_model_len: int | None = None
    parent: str | None = None


# ------------------------------------------------------------------ request parameters


class TextContentPartParam(TypedDict):
    type: Literal["text"]
    text: str


class FunctionCallParam(TypedDict):
    name: str
    arguments: str


class ToolCallParam(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCallParam


class ChatMessageParam(TypedDict):
    """`{"role": "user", "content": "Hi"}`; `developer` is treated as `system`. An assistant
    message may carry `tool_calls`, a `tool` message answers one by `tool_call_id`."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextContentPartParam] | None
    name: NotRequired[str]
    tool_calls: NotRequired[list[ToolCallParam]]
    tool_call_id: NotRequired[str]


class FunctionDefinitionParam(TypedDict, total=False):
    name: Required[str]
    description: str
    parameters: dict[str, object]
    strict: bool | None


class ToolParam(TypedDict):
    """`{"type": "function", "function": {"name": ..., "parameters": {...}}}`."""

    type: Literal["function"]
    function: FunctionDefinitionParam


class NamedFunctionParam(TypedDict):
    name: str


class NamedToolChoiceParam(TypedDict):
    type: Literal["function"]
    function: NamedFunctionParam


class JSONSchemaParam(TypedDict, total=False):
    name: Required[str]
    description: str
    schema: dict[str, object]
    strict: bool | None


class ResponseFormatParam(TypedDict, total=False):
    """`{"type": "json_object"}`, or `{"type": "json_schema", "json_schema": {...}}`."""

    type: Required[Literal["text", "json_object", "json_schema"]]
    json_schema: JSONSchemaParam


class StreamOptionsParam(TypedDict, total=False):
    include_usage: bool
    # Volt extension (vLLM's): with include_usage, usage so far on every chunk.
    continuous_usage_stats: bool


class SamplingParams(TypedDict, total=False):
    """Sampling parameters chat and completions share (OpenAI's, then Volt's extensions)."""

    frequency_penalty: float | None
    logit_bias: dict[str, float] | None
    n: int | None
    presence_penalty: float | None
    seed: int | None
    stop: str | list[str] | None
    temperature: float | None
    top_p: float | None
    user: str
    # --- Volt extensions: vLLM sampling controls OpenAI does not have
    top_k: int | None
    min_p: float | None
    repetition_penalty: float | None
    # --- Volt extensions for load testers (vLLM's)
    ignore_eos: bool | None
    min_tokens: int | None
    stop_token_ids: list[int] | None


class ChatParams(SamplingParams, total=False):
    """The optional parameters of a chat completion."""

    logprobs: bool | None
    max_completion_tokens: int | None
    max_tokens: int | None
    # Accepted with OpenAI's meaning, or ignored where it concerns stored completions or
    # audio (Volt stores none and speaks none): see openapi.yaml.
    audio: dict[str, object] | None
    metadata: dict[str, str] | None
    modalities: list[Literal["text", "audio"]] | None
    parallel_tool_calls: bool | None
    prediction: dict[str, object] | None
    prompt_cache_key: str | None
    response_format: ResponseFormatParam
    safety_identifier: str | None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None
    store: bool | None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoiceParam | None
    tools: list[ToolParam] | None
    top_logprobs: int | None


class CompletionParams(SamplingParams, total=False):
    """The optional parameters of a completion."""

    best_of: int | None
    echo: bool | None
    logprobs: int | None
    max_tokens: int | None
    suffix: str | None
