"""Spark's Responses API (stateless): the response object, its output items and the stream's
typed events. Fields in the OpenAI reference's order; `volt` is a Volt extension."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal, Self, TypedDict, cast

from pydantic import Field

from volt.types.common import VoltModel
from volt.types.inference import VoltBlock

ItemStatus = Literal["in_progress", "completed", "incomplete"]


class ResponseOutputText(VoltModel):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]]
    logprobs: list[dict[str, Any]] | None = None


class ResponseOutputMessage(VoltModel):
    type: Literal["message"]
    id: str
    status: ItemStatus
    role: Literal["assistant"]
    content: list[ResponseOutputText]


class ResponseFunctionCall(VoltModel):
    """A call for the caller to run; answer it with a `function_call_output` input item that
    quotes `call_id`."""

    type: Literal["function_call"]
    id: str
    call_id: str
    name: str
    arguments: str  # JSON text
    status: ItemStatus


ResponseOutputItem = Annotated[
    ResponseOutputMessage | ResponseFunctionCall, Field(discriminator="type")
]


class InputTokensDetails(VoltModel):
    cached_tokens: int


class OutputTokensDetails(VoltModel):
    reasoning_tokens: int


class ResponseUsage(VoltModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseError(VoltModel):
    code: str
    message: str


class IncompleteDetails(VoltModel):
    reason: str | None = None


class ResponseTextConfig(VoltModel):
    format: dict[str, Any] | None = None
    verbosity: str | None = None


class Response(VoltModel):
    """A `response`; never stored (`store` is always false). `output_text` joins its text."""

    id: str
    object: Literal["response"]
    created_at: int
    status: Literal["completed", "incomplete", "in_progress", "failed"]
    background: bool | None = None
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    instructions: str | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    model: str
    output: list[ResponseOutputItem]
    parallel_tool_calls: bool
    previous_response_id: None = None
    prompt_cache_key: str | None = None
    reasoning: dict[str, Any] | None = None
    safety_identifier: str | None = None
    service_tier: str | None = None
    store: Literal[False]
    temperature: float | None = None
    text: ResponseTextConfig
    tool_choice: str | dict[str, Any]
    tools: list[dict[str, Any]]
    top_p: float | None = None
    truncation: str | None = None
    usage: ResponseUsage | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    # Volt extension: in every plain response and in the final response of a stream.
    volt: VoltBlock | None = None

    @property
    def output_text(self) -> str:
        return "".join(
            part.text
            for item in self.output
            if isinstance(item, ResponseOutputMessage)
            for part in item.content
        )


# ------------------------------------------------------------------ stream events


class ResponseStreamEvent(VoltModel):
    """One event of a Responses stream. Validating this base class gives the subclass its
    `type` names (`ResponseTextDeltaEvent`, ...), so a stream iterates typed events."""

    type: str
    sequence_number: int

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        if cls is ResponseStreamEvent and isinstance(obj, dict):
            kind = next((k for k in _EVENTS if obj.get("type") in k.types()), None)
            if kind is not None:
                return cast(Self, kind.model_validate(obj, *args, **kwargs))
        return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def types(cls) -> tuple[str, ...]:
        return typing.get_args(cls.model_fields["type"].annotation)


class ResponseLifecycleEvent(ResponseStreamEvent):
    """`response.created`, `.in_progress`, then `.completed`, `.incomplete` or `.failed`
    (whose response carries `usage` and `volt`)."""

    type: Literal[
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    ]
    response: Response


class ResponseOutputItemEvent(ResponseStreamEvent):
    type: Literal["response.output_item.added", "response.output_item.done"]
    output_index: int
    item: ResponseOutputItem


class ResponseContentPartEvent(ResponseStreamEvent):
    type: Literal["response.content_part.added", "response.content_part.done"]
    item_id: str
    output_index: int
    content_index: int
    part: ResponseOutputText


class ResponseTextDeltaEvent(ResponseStreamEvent):
    type: Literal["response.output_text.delta"]
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[dict[str, Any]]


class ResponseTextDoneEvent(ResponseStreamEvent):
    type: Literal["response.output_text.done"]
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[dict[str, Any]]


class ResponseFunctionCallArgumentsDeltaEvent(ResponseStreamEvent):
    type: Literal["response.function_call_arguments.delta"]
    item_id: str
    output_index: int
    delta: str


class ResponseFunctionCallArgumentsDoneEvent(ResponseStreamEvent):
    type: Literal["response.function_call_arguments.done"]
    item_id: str
    output_index: int
    arguments: str
    name: str


class ResponseErrorEvent(ResponseStreamEvent):
    """A failure after the stream began; the SDK's stream raises it as an `APIError`."""

    type: Literal["error"]
    code: str | None
    message: str
    param: str | None


_EVENTS: tuple[type[ResponseStreamEvent], ...] = (
    ResponseLifecycleEvent,
    ResponseOutputItemEvent,
    ResponseContentPartEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseErrorEvent,
)


# ------------------------------------------------------------------ request parameters


class InputTextParam(TypedDict):
    type: Literal["input_text", "output_text"]
    text: str


class MessageParam(TypedDict, total=False):
    """`{"role": "user", "content": "Hi"}`, or an output message replayed."""

    type: Literal["message"]
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputTextParam]


class FunctionCallParam(TypedDict, total=False):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str


class FunctionCallOutputParam(TypedDict):
    type: Literal["function_call_output"]
    call_id: str
    output: str


InputItemParam = MessageParam | FunctionCallParam | FunctionCallOutputParam | dict[str, Any]


class FunctionToolParam(TypedDict, total=False):
    type: Literal["function"]
    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool


class ResponseParams(TypedDict, total=False):
    """The optional parameters of a response (stateless: `store` and `background` may only
    be false)."""

    background: bool | None
    include: list[str] | None
    instructions: str | None
    max_output_tokens: int | None
    max_tool_calls: int | None
    metadata: dict[str, str] | None
    parallel_tool_calls: bool | None
    prompt_cache_key: str | None
    prompt_cache_retention: Literal["in_memory"] | None
    reasoning: dict[str, Any] | None
    safety_identifier: str | None
    service_tier: str | None
    store: Literal[False] | None
    temperature: float | None
    text: dict[str, Any]
    tool_choice: str | dict[str, Any]
    tools: list[FunctionToolParam]
    top_p: float | None
    truncation: Literal["disabled"] | None
    user: str
