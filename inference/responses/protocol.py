"""The request of `POST /v1/responses`, in the OpenAI reference's field order. Data and
validation only: conversion to a chat view and engine parameters lives in `convert`.

Volt's Responses API is stateless: prompts and completions never leave the serving pod, so
nothing that asks Volt to keep, fetch or resume them (`store: true`, `previous_response_id`,
`conversation`, `background: true`) can be honoured, and each is refused saying so."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from inference.protocol import OpenAIModel, OpenAIRequest, ServiceTier
from voltcore.errors import InvalidRequest

_NOT_KEPT = (
    "Volt keeps no prompts or completions (they never leave the serving pod), so there is no "
    "earlier response or conversation to continue; send the whole conversation in 'input'."
)


def _tag(known: dict[str, str], other: str, default: str | None = None) -> Any:
    """A discriminator for items whose `type` may be absent (a bare `{role, content}` message)
    or unknown (refused by name, not as a shape mismatch). Tags are hyphenated so that error
    paths drop them (`voltcore.validation.param_path`)."""

    def pick(value: Any) -> str:
        kind = (
            value.get("type", default) if isinstance(value, dict) else getattr(value, "type", None)
        )
        return known.get(kind, other) if isinstance(kind, str) else other

    return Discriminator(pick)


class _Media(OpenAIModel):
    """Image, file and audio input: parsed only to be refused by name."""

    model_config = ConfigDict(extra="allow")
    type: str


class InputText(OpenAIModel):
    type: Literal["input_text"]
    text: str


class OutputText(OpenAIModel):
    """Assistant text, as Spark (or OpenAI) returned it and a client replays it."""

    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


class Refusal(OpenAIModel):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    Annotated[InputText, Tag("input-text")]
    | Annotated[OutputText, Tag("output-text")]
    | Annotated[Refusal, Tag("refusal-part")]
    | Annotated[_Media, Tag("other-part")],
    _tag(
        {"input_text": "input-text", "output_text": "output-text", "refusal": "refusal-part"},
        "other-part",
    ),
]


class MessageItem(OpenAIModel):
    """A message of any role; `type` may be left out. Output messages replay with their
    `id` and `status`."""

    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[ContentPart]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    phase: Literal["commentary", "final_answer"] | None = None  # a label only: no effect

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(
            p.refusal if isinstance(p, Refusal) else p.text
            for p in self.content
            if not isinstance(p, _Media)
        )


class FunctionCallItem(OpenAIModel):
    """A function call of an earlier turn, replayed as it was returned."""

    type: Literal["function_call"]
    call_id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=64)
    arguments: str
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallOutputItem(OpenAIModel):
    """The caller's result of a function call."""

    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1, max_length=256)
    output: str | list[ContentPart]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None

    def text(self) -> str:
        if isinstance(self.output, str):
            return self.output
        return "".join(p.text for p in self.output if isinstance(p, InputText | OutputText))


class _OtherItem(OpenAIModel):
    """Reasoning, item references and built-in tool calls: refused by name."""

    model_config = ConfigDict(extra="allow")
    type: str


InputItem = Annotated[
    Annotated[MessageItem, Tag("message-item")]
    | Annotated[FunctionCallItem, Tag("function-call")]
    | Annotated[FunctionCallOutputItem, Tag("function-call-output")]
    | Annotated[_OtherItem, Tag("other-item")],
    _tag(
        {
            "message": "message-item",
            "function_call": "function-call",
            "function_call_output": "function-call-output",
        },
        "other-item",
        default="message",
    ),
]


class FunctionTool(OpenAIModel):
    """A function tool in the Responses API's flat shape."""

    type: Literal["function"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _OtherTool(OpenAIModel):
    """Built-in tools (web search, file search, code interpreter, MCP, ...): refused by name."""

    model_config = ConfigDict(extra="allow")
    type: str


Tool = Annotated[
    Annotated[FunctionTool, Tag("function-tool")] | Annotated[_OtherTool, Tag("other-tool")],
    _tag({"function": "function-tool"}, "other-tool"),
]


class FunctionChoice(OpenAIModel):
    type: Literal["function"]
    name: str


class _OtherChoice(OpenAIModel):
    model_config = ConfigDict(extra="allow")
    type: str


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[
        Annotated[FunctionChoice, Tag("function-choice")]
        | Annotated[_OtherChoice, Tag("other-choice")],
        _tag({"function": "function-choice"}, "other-choice"),
    ]
)


class TextFormat(OpenAIModel):
    # One model rather than a tagged union, so that errors name `text.format.x`.
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None

    @model_validator(mode="after")
    def _schema_iff_json_schema(self) -> TextFormat:
        for field in ("name", "schema"):
            given = (self.name if field == "name" else self.schema_) is not None
            if given != (self.type == "json_schema"):
                raise InvalidRequest(
                    f"'text.format.{field}' is required with type 'json_schema', and only then.",
                    param=f"text.format.{field}",
                    code="missing_required_parameter" if not given else "invalid_value",
                )
        return self


class TextConfig(OpenAIModel):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class Reasoning(OpenAIModel):
    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None


class ResponsesStreamOptions(OpenAIModel):
    # Volt's events are not padded against length side channels: accepted and ignored, as in
    # chat completions.
    include_obfuscation: bool = False


class ResponsesRequest(OpenAIRequest):
    UNSUPPORTED: ClassVar[dict[str, str]] = {
        "conversation": _NOT_KEPT,
        "context_management": "Volt keeps no conversation state to compact.",
        "previous_response_id": _NOT_KEPT,
        "prompt": "Volt keeps no stored prompt templates; send 'instructions' and 'input'.",
        "top_logprobs": "use chat completions ('logprobs', 'top_logprobs') for log probabilities.",
    }

    background: bool | None = None
    include: list[str] | None = None
    input: str | Annotated[list[InputItem], Field(min_length=1)]
    instructions: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    max_tool_calls: int | None = Field(None, ge=1)
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = Field(None, max_length=16)
    model: str
    parallel_tool_calls: bool | None = None
    prompt_cache_key: str | None = Field(None, max_length=1024)
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    reasoning: Reasoning | None = None
    safety_identifier: str | None = Field(None, max_length=256)
    service_tier: ServiceTier | None = None
    store: bool | None = None
    stream: bool = False
    stream_options: ResponsesStreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)  # unset: the model's default
    text: TextConfig | None = None
    tool_choice: ToolChoice | None = None
    tools: list[Tool] | None = Field(None, max_length=128)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = Field(None, max_length=256)

    @model_validator(mode="after")
    def _check(self) -> ResponsesRequest:
        _refuse_kept_state(self)
        _refuse_unsupported_values(self)
        for i, item in enumerate(self.input if isinstance(self.input, list) else []):
            check_item(item, i)
        for i, tool in enumerate(self.tools or []):
            if isinstance(tool, _OtherTool):
                raise InvalidRequest(
                    f"'{tool.type}' tools are not supported: Volt runs no built-in tools; "
                    "declare a function tool and run it yourself.",
                    param=f"tools[{i}].type",
                    code="unsupported_value",
                )
        if isinstance(self.tool_choice, _OtherChoice):
            raise InvalidRequest(
                f"tool_choice of type '{self.tool_choice.type}' is not supported; use 'none', "
                "'auto', 'required' or {'type': 'function', 'name': ...}.",
                param="tool_choice.type",
                code="unsupported_value",
            )
        if isinstance(self.tool_choice, FunctionChoice):
            names = {t.name for t in self.tools or [] if isinstance(t, FunctionTool)}
            if self.tool_choice.name not in names:
                raise InvalidRequest(
                    f"tool_choice names the function '{self.tool_choice.name}', which is not "
                    "among 'tools'.",
                    param="tool_choice.name",
                    code="invalid_value",
                )
        if self.stream_options is not None and not self.stream:
            raise InvalidRequest(
                "'stream_options' is only allowed when 'stream' is true.",
                param="stream_options",
                code="invalid_value",
            )
        return self

    def function_tools(self) -> list[FunctionTool]:
        return [t for t in self.tools or [] if isinstance(t, FunctionTool)]


def _refuse_kept_state(request: ResponsesRequest) -> None:
    if request.store:
        raise InvalidRequest(
            "'store: true' asks Volt to keep the response for later retrieval, and Volt never "
            "keeps prompts or completions: they do not leave the serving pod. Leave 'store' "
            "unset or false.",
            param="store",
            code="unsupported_value",
        )
    if request.background:
        raise InvalidRequest(
            "'background: true' needs the response kept until it is fetched, and Volt never "
            "keeps prompts or completions. Use 'stream: true' for long generations.",
            param="background",
            code="unsupported_value",
        )


_INCLUDE_REASONS = {
    "message.output_text.logprobs": "use chat completions for log probabilities",
    "reasoning.encrypted_content": "Volt's models are not reasoning models",
    "message.input_image.image_url": "Volt's models read text only",
    "computer_call_output.output.image_url": "Volt runs no built-in tools",
}


def _refuse_unsupported_values(request: ResponsesRequest) -> None:
    for i, name in enumerate(request.include or []):
        reason = _INCLUDE_REASONS.get(name, "Volt runs no built-in tools")
        raise InvalidRequest(
            f"'{name}' cannot be included: {reason}.",
            param=f"include[{i}]",
            code="unsupported_value",
        )
    reasoning = request.reasoning
    if reasoning is not None and reasoning.model_fields_set:
        raise InvalidRequest(
            "'reasoning' is not supported: Volt's models are not reasoning models.",
            param="reasoning",
            code="unsupported_parameter",
        )
    if request.text is not None and request.text.verbosity is not None:
        raise InvalidRequest(
            "Volt's models have no verbosity control; bound 'max_output_tokens' instead.",
            param="text.verbosity",
            code="unsupported_parameter",
        )
    if request.truncation == "auto":
        raise InvalidRequest(
            "'truncation: auto' is not supported: Volt never drops input silently; a "
            "conversation past the context length is a 400. Use 'disabled'.",
            param="truncation",
            code="unsupported_value",
        )
    if request.prompt_cache_retention == "24h":
        raise InvalidRequest(
            "Volt's prefix cache lives in the engine's memory, for as long as it fits; "
            "'24h' retention is not offered. Use 'in_memory'.",
            param="prompt_cache_retention",
            code="unsupported_value",
        )


def check_item(item: Any, i: int) -> None:
    """Refuse, naming `input[i]...`, the items and parts Volt cannot read."""
    where = f"input[{i}]"
    if isinstance(item, _OtherItem):
        reason = {
            "item_reference": "Volt keeps no items to refer to; send the item itself",
            "reasoning": "Volt's models are not reasoning models",
        }.get(item.type, "Volt runs no built-in tools")
        raise InvalidRequest(
            f"Input items of type '{item.type}' are not supported: {reason}.",
            param=f"{where}.type",
            code="unsupported_value",
        )
    parts = item.content if isinstance(item, MessageItem) else getattr(item, "output", None)
    field = "content" if isinstance(item, MessageItem) else "output"
    for j, part in enumerate(parts if isinstance(parts, list) else []):
        if isinstance(part, _Media):
            media = part.type in ("input_image", "input_file", "input_audio")
            raise InvalidRequest(
                f"'{part.type}' content is not supported: Volt's models read text only."
                if media
                else f"Unknown content part type '{part.type}'.",
                param=f"{where}.{field}[{j}].type",
                code="unsupported_value" if media else "invalid_value",
            )
        if isinstance(part, Refusal) and not (
            isinstance(item, MessageItem) and item.role == "assistant"
        ):
            raise InvalidRequest(
                "Only assistant messages carry refusals.",
                param=f"{where}.{field}[{j}].type",
                code="invalid_value",
            )
