"""Tool calling, the one home of it for chat completions and the Responses API: from a request's
`tools`, `tool_choice` and `parallel_tool_calls` to what the prompt renders, how decoding is
constrained, and how each choice's output is read back into OpenAI's `tool_calls`.

- `required` and a named function are guaranteed to parse: vLLM's structured outputs constrain
  decoding with a JSON schema built from the tools (a list of `{"name", "arguments"}` objects,
  one `anyOf` branch per tool, or the named function's parameters), and the output is read
  as that JSON.
- `auto` lets the model decide, in its own tool-call format, declared per model in the catalog
  (`tool_parser`, with a `chat_template` that renders tools). A model without one answers
  `auto` with a 400 naming `tools`: tools are never dropped silently.
- `none`: the model must not call tools, so they are not rendered either (as vLLM does with
  `--exclude-tools-when-tool-choice-none`): a small model shown tools tends to answer with a
  call whatever it is told. Tool turns already in the history still render.

Usage:
    plan = plan_tools(engine, body.tools, body.tool_choice, body.parallel_tool_calls)
    prompt = render(..., tools=plan.template_tools if plan else None)
    structured = plan.structured if plan else None
    reader = plan.stream()  # one per choice; see `inference.tools.stream`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from inference.tools.schema import call_list_schema, check_parameters
from inference.tools.stream import NamedCall, TaggedCalls, ToolStream
from voltcore.errors import InvalidRequest

if TYPE_CHECKING:
    from inference.engine import Engine
    from inference.protocol import ChatTool, ToolChoice

__all__ = ["ToolPlan", "ToolStream", "done", "finish_with_calls", "plan_tools"]


@dataclass(frozen=True)
class ToolPlan:
    """What one request's tools mean for generation; see the module's docstring."""

    mode: Literal["auto", "required", "named"]
    template_tools: list[dict[str, Any]]  # OpenAI-shaped tools for `apply_chat_template(tools=)`
    schema: dict[str, Any] | None  # the JSON schema decoding is held to (required, named)
    parallel: bool
    name: str | None = None  # the named function

    @property
    def structured(self) -> Any:
        """vLLM `StructuredOutputsParams`, or None under `auto`."""
        if self.schema is None:
            return None
        from vllm.sampling_params import StructuredOutputsParams

        return StructuredOutputsParams(json=self.schema)

    def constrain(self, response_format: Any) -> Any:
        """The structured outputs of the request: the tools' schema merged with what
        `response_format` asks (vLLM `StructuredOutputsParams` or None).

        A forced call wins: `response_format` shapes text answers, and under `required` or a
        named function there is none. Under `auto`, a JSON `response_format` would hold the
        whole answer to JSON, where the model's tool-call format can never appear, so the
        pair is refused rather than tools being silently dropped."""
        if self.schema is not None:
            return self.structured
        if response_format is not None:
            raise InvalidRequest(
                "With tools and tool_choice 'auto', a JSON 'response_format' would constrain the "
                "whole answer to JSON and the model could never call a tool. Use tool_choice "
                "'required' or name a function to force a call, or leave 'response_format' out.",
                param="response_format",
                code="invalid_value",
            )
        return None

    def stream(self) -> ToolStream:
        """A fresh reader for one choice's output."""
        if self.mode == "named":
            assert self.name is not None
            return NamedCall(self.name)
        return TaggedCalls(self.parallel, json_only=self.mode == "required")


def plan_tools(
    engine: Engine,
    tools: list[ChatTool] | None,
    tool_choice: ToolChoice | None,
    parallel_tool_calls: bool | None,
) -> ToolPlan | None:
    """None when the request has no tools or forbids calls (`tool_choice: "none"`); raises
    `InvalidRequest` naming the parameter for a choice the tools or the model cannot honour."""
    tools = tools or []
    names: dict[str, int] = {}
    for i, tool in enumerate(tools):
        where = f"tools[{i}].function"
        if tool.function.name in names:
            raise InvalidRequest(
                f"Tool names must be unique; '{tool.function.name}' is also tools"
                f"[{names[tool.function.name]}].",
                param=f"{where}.name",
                code="invalid_value",
            )
        names[tool.function.name] = i
        check_parameters(tool.function.parameters, f"{where}.parameters", tool.function.name)
    choice = tool_choice if tool_choice is not None else ("auto" if tools else "none")
    if choice == "none" or (choice == "auto" and not tools):
        return None
    if not tools:
        raise InvalidRequest(
            "'tool_choice' other than 'none' or 'auto' needs 'tools' to choose from.",
            param="tool_choice",
            code="invalid_value",
        )
    parallel = parallel_tool_calls is not False
    rendered = [_template_tool(t) for t in tools]
    if choice == "auto":
        if engine.spec.tool_parser is None:
            raise InvalidRequest(
                f"The model '{engine.spec.id}' has no tool-call format of its own, so it cannot "
                "decide by itself whether to call a tool (tool_choice 'auto'). Set tool_choice "
                "to 'required' or name a function: Spark then constrains the answer to a call.",
                param="tools",
                code="unsupported_value",
            )
        return ToolPlan("auto", rendered, None, parallel)
    if choice == "required":
        params = [(t.function.name, t.function.parameters) for t in tools]
        return ToolPlan("required", rendered, call_list_schema(params, parallel), parallel)
    assert not isinstance(choice, str)
    name = choice.function.name
    if name not in names:
        raise InvalidRequest(
            f"tool_choice names the function '{name}', which is not in 'tools'.",
            param="tool_choice",
            code="invalid_value",
        )
    parameters = tools[names[name]].function.parameters
    schema = parameters if parameters else {"type": "object", "properties": {}}
    return ToolPlan("named", rendered, schema, False, name)


def finish_with_calls(reason: str, reader: ToolStream | None) -> str:
    """OpenAI's `tool_calls` when an answer that ended by itself made calls (or was ended by
    Spark on a repeated call); a length cap stays `length` (the calls may be cut short)."""
    if reader is None or not reader.called:
        return reason
    return "tool_calls" if reader.stopped or reason == "stop" else reason


def done(finished: list[bool], readers: list[ToolStream | None]) -> bool:
    """Whether every choice has ended, by itself or because its reader stopped it: the caller
    then stops generating (leaving the `Run` aborts what is left)."""
    return all(f or (r is not None and r.stopped) for f, r in zip(finished, readers, strict=True))


def _template_tool(tool: ChatTool) -> dict[str, Any]:
    """The tool as chat templates read it (Hugging Face's convention is OpenAI's shape);
    `strict` is a constraint for Spark, not information for the model."""
    function = tool.function.model_dump(exclude_none=True, exclude={"strict"})
    return {"type": "function", "function": function}
