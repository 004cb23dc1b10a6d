"""Tool calling without an engine: reading calls out of model text (streamed in any pieces, it
reads as it does whole; it agrees with vLLM's xlam parser), the `required` schema, and the
SmolLM2 tool template (identical to the model's own without tools)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference import templates
from inference.tools.schema import call_list_schema
from inference.tools.stream import NamedCall, TaggedCalls, ToolStream

OUTPUTS = [
    'Sure. <tool_call>[{"name": "get_weather", "arguments": {"city": "Paris", "n": [1, '
    '{"a": "}"}]}}, {"name": "b", "arguments": {}}]</tool_call>',
    '<tool_call>\n[{"arguments": {"x": 1}, "name": "f"}]\n</tool_call>',
    '[{"name": "f", "arguments": {"q": "a\\"b]"}}]',
    '<tool_call>[{"name": "f", "arguments": {"q": 1}}, {"name": "g", "arguments": {"r": null}}]'
    "</tool_call>",
    "[1, 2, 3] is a list",
    "I cannot <tool_call> help with that",
    "No calls here, only a < sign and <tool",
    '<tool_call>{"name": "f", "arguments": {"deep": {"a": [[1], [2, {"b": "c"}]]}}}</tool_call>',
]


def read(reader: ToolStream, pieces: list[str]) -> tuple[str, list[dict[str, Any]], Any]:
    content, deltas = [], []
    for piece in pieces:
        text, calls = reader.feed(piece)
        content.append(text)
        deltas += calls
    text, calls = reader.flush()
    return "".join(content) + text, deltas, reader.finish()


def reassemble(deltas: list[dict[str, Any]]) -> list[tuple[str, str]]:
    calls: dict[int, list[str]] = {}
    for d in deltas:
        if d["index"] not in calls:
            assert set(d) == {"index", "id", "type", "function"}
            assert d["function"]["arguments"] == ""
            calls[d["index"]] = [d["function"]["name"], ""]
        else:
            assert set(d) == {"index", "function"} and set(d["function"]) == {"arguments"}
            calls[d["index"]][1] += d["function"]["arguments"]
    return [(name, args) for name, args in (calls[i] for i in sorted(calls))]


def whole(output: str, parallel: bool = True) -> tuple[str | None, list[tuple[str, str]]]:
    reader = TaggedCalls(parallel)
    reader.feed(output)
    content, calls = reader.finish()
    return content, [(c["function"]["name"], c["function"]["arguments"]) for c in calls]


@settings(max_examples=60, deadline=None)
@given(output=st.sampled_from(OUTPUTS), cuts=st.lists(st.integers(0, 200), max_size=12))
def test_a_stream_in_any_pieces_reads_as_the_whole_answer(output: str, cuts: list[int]) -> None:
    points = sorted({min(c, len(output)) for c in cuts})
    pieces = [output[a:b] for a, b in zip([0, *points], [*points, len(output)], strict=True)]
    streamed_content, deltas, (content, calls) = read(TaggedCalls(True), pieces)
    assert (streamed_content.strip() or None) == (content.strip() if content else None)
    assert reassemble(deltas) == [
        (c["function"]["name"], c["function"]["arguments"]) for c in calls
    ]
    assert whole(output) == (content, reassemble(deltas))


# The last output, one call object rather than a list inside the tags, is read as a call here
# (hermes-style models write that); xlam reads lists only.
@pytest.mark.parametrize("output", OUTPUTS[:-1])
def test_calls_agree_with_vllms_xlam_parser(output: str) -> None:
    from vllm.tool_parsers.xlam_tool_parser import xLAMToolParser

    theirs = xLAMToolParser(None).extract_tool_calls(output, None)  # type: ignore[arg-type]
    content, calls = whole(output)
    assert [(n, json.loads(a)) for n, a in calls] == [
        (c.function.name, json.loads(c.function.arguments)) for c in theirs.tool_calls
    ]
    assert (content or "").strip() == (theirs.content or "").strip()


def test_arguments_are_passed_on_as_written_and_calls_get_ids() -> None:
    reader = TaggedCalls(True, json_only=True)
    _, deltas = reader.feed('[{"name":"f","arguments":{"a":1,"b":[true,null]}}')
    assert deltas[0]["id"].startswith("call_") and deltas[0]["function"]["name"] == "f"
    reader.feed("]")
    content, calls = reader.finish()
    assert content is None and calls[0]["function"]["arguments"] == '{"a":1,"b":[true,null]}'
    assert calls[0]["type"] == "function" and calls[0]["id"] == deltas[0]["id"]


def test_no_parallel_calls_keeps_the_first() -> None:
    two = '<tool_call>[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {}}]</tool_call>'
    assert whole(two, parallel=False)[1] == [("f", "{}")]
    assert len(whole(two)[1]) == 2


def test_a_named_call_is_the_whole_output() -> None:
    _, deltas, (content, calls) = read(NamedCall("f"), ['{"a"', ":[1,", "2]}"])
    assert content is None and reassemble(deltas) == [("f", '{"a":[1,2]}')]
    assert calls[0]["function"] == {"name": "f", "arguments": '{"a":[1,2]}'}


def test_call_list_schema_hoists_defs_without_clashes() -> None:
    point = {"type": "object", "properties": {"x": {"type": "integer"}}}
    a = {"type": "object", "$defs": {"p": point}, "properties": {"at": {"$ref": "#/$defs/p"}}}
    b = {"type": "object", "definitions": {"p": {"type": "string"}}, "properties": {}}
    b["properties"] = {"q": {"$ref": "#/definitions/p"}}
    schema = call_list_schema([("a", a), ("b", b), ("c", None)], parallel=False)
    assert schema["maxItems"] == 1 and set(schema["$defs"]) == {"a.p", "b.p"}
    branches = schema["items"]["anyOf"]
    assert branches[0]["properties"]["arguments"]["properties"]["at"] == {"$ref": "#/$defs/a.p"}
    assert branches[1]["properties"]["arguments"]["properties"]["q"] == {"$ref": "#/$defs/b.p"}
    assert branches[2]["properties"]["arguments"] == {"type": "object", "properties": {}}
    assert "$defs" in a  # the request's own schema is left as it was
    import jsonschema

    jsonschema.validate([{"name": "a", "arguments": {"at": {"x": 1}}}], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"name": "b", "arguments": {"q": 5}}], schema)


def test_smollm2_tool_template_is_the_models_own_without_tools() -> None:
    from transformers import AutoTokenizer

    from voltcore.catalog import resolve

    tokenizer = AutoTokenizer.from_pretrained(resolve("smollm2"))
    ours = templates.load("smollm2-tools")
    for messages in (
        [{"role": "user", "content": "hi"}],
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "two\nlines"},
        ],
    ):
        for generation in (True, False):
            own = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation
            )
            assert own == tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation, chat_template=ours
            )
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    text = tokenizer.apply_chat_template(
        history, tokenize=False, add_generation_prompt=True, chat_template=ours, tools=[tool]
    )
    assert '<tools>[{"type": "function", "function": {"name": "get_weather"' in text
    assert '<tool_call>[{"name": "f", "arguments": {"a": 1}}]</tool_call><|im_end|>' in text
    assert "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_a_repeated_call_ends_the_answer_and_a_cut_one_is_dropped() -> None:
    call = '{"name": "f", "arguments": {"a": 1}}'
    reader = TaggedCalls(True, json_only=True)
    _, deltas, _ = read(reader, [f"[{call}, ", '{"name": "g", "arguments": {}}, ', call, ", "])
    assert reader.stopped and reassemble(deltas) == [("f", '{"a": 1}'), ("g", "{}")]
    cut = TaggedCalls(True, json_only=True)
    _, deltas, (content, calls) = read(cut, [f"[{call}, ", '{"name": "g", "arguments": {"b": '])
    assert not cut.stopped and content is None
    assert reassemble(deltas) == [("f", '{"a": 1}')] and len(calls) == 1
