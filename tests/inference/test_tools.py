"""Tool calling in `POST /v1/chat/completions` against live Spark on real vLLM: `auto` in
SmolLM2's own format, `required` and named functions under structured outputs, streamed
deltas as OpenAI streams them, a round trip with the official `openai` SDK, and the 400s.
(Every response, and every streamed chunk, is validated against openapi.yaml by the client.)"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
import openai
import pytest

from tests.conftest import Org
from tests.inference.conftest import SMOL, TINY, Spark
from tests.inference.tool_schemas import SCHEMAS
from tests.support.client import Client

PATH = "/v1/chat/completions"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time in a timezone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
ASK = [{"role": "user", "content": "What is the weather like in Paris today?"}]
GREEDY = {"temperature": 0, "seed": 7}


async def chat(api: Client, org: Org, **body: Any) -> dict[str, Any]:
    r = await api.post(PATH, key=org.key, json=body)
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


async def chat_stream(api: Client, org: Org, **body: Any) -> list[dict[str, Any]]:
    r = await api.post(PATH, key=org.key, json={**body, "stream": True})
    assert r.status == 200, r.body
    return r.events()


def reassemble(events: list[dict[str, Any]], index: int = 0) -> dict[str, Any]:
    """A streamed choice put back together, checking each tool-call delta has OpenAI's shape:
    a call's first delta has index, id, type, name and empty arguments, later ones only index
    and an argument fragment."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for event in events:
        for choice in event["choices"]:
            if choice["index"] != index:
                continue
            delta = choice["delta"]
            content.append(delta.get("content") or "")
            for d in delta.get("tool_calls", []):
                if d["index"] not in calls:
                    assert set(d) == {"index", "id", "type", "function"}, d
                    assert d["type"] == "function" and d["id"].startswith("call_")
                    assert d["function"]["arguments"] == "", d
                    calls[d["index"]] = {"name": d["function"]["name"], "arguments": ""}
                else:
                    assert set(d) == {"index", "function"} and set(d["function"]) == {"arguments"}
                    calls[d["index"]]["arguments"] += d["function"]["arguments"]
            finish = choice["finish_reason"] or finish
    assert sorted(calls) == list(range(len(calls)))
    return {
        "content": "".join(content),
        "calls": [calls[i] for i in sorted(calls)],
        "finish_reason": finish,
    }


def calls_of(choice: dict[str, Any]) -> list[dict[str, Any]]:
    calls = choice["message"].get("tool_calls") or []
    for call in calls:
        assert call["type"] == "function" and call["id"].startswith("call_")
    return [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in calls]


async def test_required_named_and_auto_stream_as_they_answer(api: Client, org: Org) -> None:
    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}, "auto"):
        body = {
            "model": SMOL,
            "messages": ASK,
            "tools": [WEATHER, TIME],
            "tool_choice": choice,
            "max_tokens": 60,
            **GREEDY,
        }
        out = (await chat(api, org, **body))["choices"][0]
        streamed = reassemble(await chat_stream(api, org, **body))
        calls = calls_of(out)
        assert streamed["calls"] == calls, choice
        assert streamed["finish_reason"] == out["finish_reason"], choice
        assert streamed["content"] == (out["message"]["content"] or ""), choice
        if choice == "auto" and not calls:
            continue  # the model answered in words: content, as without tools
        assert out["finish_reason"] == "tool_calls" and out["message"]["content"] is None
        assert calls and calls[0]["name"] == "get_weather", choice
        arguments = json.loads(calls[0]["arguments"])
        jsonschema.validate(arguments, WEATHER["function"]["parameters"])  # type: ignore[index]


async def test_tool_choice_none_is_a_plain_answer(api: Client, org: Org, spark: Spark) -> None:
    body = {"model": SMOL, "messages": ASK, "max_tokens": 12, **GREEDY}
    plain = await chat(api, org, **body)
    none = await chat(api, org, **body, tools=[WEATHER], tool_choice="none")
    # The tools are not rendered: the model must not call them, and the prompt is unchanged.
    assert none["usage"]["prompt_tokens"] == plain["usage"]["prompt_tokens"]
    message = none["choices"][0]["message"]
    assert "tool_calls" not in message and message["content"]
    assert none["choices"][0]["finish_reason"] in ("stop", "length")
    auto = await chat(api, org, **body, tools=[WEATHER])
    assert auto["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"] + 50


@pytest.mark.parametrize("mode", ["required", "named"])
async def test_every_call_over_varied_schemas_validates(
    api: Client, org: Org, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = asyncio.Semaphore(8)

    async def one(name: str, parameters: dict[str, Any] | None, prompt: str) -> str | None:
        function: dict[str, Any] = {"name": name, "description": prompt}
        if parameters is not None:
            function["parameters"] = parameters
        tools = [{"type": "function", "function": function}, WEATHER]
        choice: Any = (
            "required" if mode == "required" else {"type": "function", "function": {"name": name}}
        )
        async with gate:
            out = await chat(
                api,
                org,
                model=SMOL,
                messages=[{"role": "user", "content": f"Call {name}: {prompt}"}],
                tools=tools,
                tool_choice=choice,
                max_tokens=200,
                **GREEDY,
            )
        choice_out = out["choices"][0]
        calls = calls_of(choice_out)
        if choice_out["finish_reason"] != "tool_calls" or not calls:
            return f"{name}: finish_reason {choice_out['finish_reason']}, {len(calls)} calls"
        for call in calls:
            schema = parameters if call["name"] == name else WEATHER["function"]["parameters"]  # type: ignore[index]
            try:
                arguments = json.loads(call["arguments"])
                jsonschema.validate(
                    arguments,
                    schema or {"type": "object"},
                    format_checker=jsonschema.FormatChecker(),
                )
            except (ValueError, jsonschema.ValidationError) as err:
                return f"{name}: {call['arguments']!r}: {err}"
            if mode == "named" and call["name"] != name:
                return f"{name}: called {call['name']}"
        return None

    failures = await asyncio.gather(*(one(*s) for s in SCHEMAS))
    bad = [f for f in failures if f is not None]
    with capsys.disabled():
        ok = len(SCHEMAS) - len(bad)
        print(f"\n[tools] {mode}: {ok}/{len(SCHEMAS)} calls parse and validate")
    assert len(SCHEMAS) >= 20
    assert not bad, bad


async def test_parallel_tool_calls_false_gives_one_call(api: Client, org: Org) -> None:
    messages = [{"role": "user", "content": "Weather in Paris and the time in Tokyo?"}]
    body = {"model": SMOL, "messages": messages, "tools": [WEATHER, TIME], "max_tokens": 80}
    for choice in ("required", "auto"):
        out = await chat(
            api, org, **body, tool_choice=choice, parallel_tool_calls=False, n=2, temperature=1
        )
        for c in out["choices"]:
            assert len(c["message"].get("tool_calls") or []) <= 1, c
        if choice == "required":
            assert all(len(c["message"]["tool_calls"]) == 1 for c in out["choices"])


async def test_n_choices_are_read_each_on_its_own(api: Client, org: Org) -> None:
    body = {
        "model": SMOL,
        "messages": ASK,
        "tools": [WEATHER, TIME],
        "tool_choice": "required",
        "max_tokens": 60,
        "n": 3,
        "temperature": 1,
        "seed": 3,
    }
    out = await chat(api, org, **body)
    events = await chat_stream(api, org, **body)
    for i, choice in enumerate(out["choices"]):
        assert choice["index"] == i and calls_of(choice), choice
        assert reassemble(events, i)["calls"], i


async def test_round_trip_with_the_openai_sdk(spark: Spark, org: Org) -> None:
    client = openai.AsyncOpenAI(base_url=f"{spark.base}/v1", api_key=org.key, max_retries=0)
    messages: list[Any] = list(ASK)
    first = await client.chat.completions.create(
        model=SMOL,
        messages=messages,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=60,
        **GREEDY,
    )
    reply = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and reply.tool_calls
    call = reply.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)
    messages.append(reply)  # the SDK's own object, as returned
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "Sunny, 24 C"})
    second = await client.chat.completions.create(
        model=SMOL,
        messages=messages,
        tools=[WEATHER],
        max_tokens=40,
        **GREEDY,  # type: ignore[list-item]
    )
    answer = second.choices[0]
    assert answer.message.content or answer.message.tool_calls
    # The same first turn streamed, gathered by the SDK's own stream helper.
    async with client.chat.completions.stream(
        model=SMOL,
        messages=list(ASK),
        tools=[WEATHER],
        tool_choice="required",
        max_tokens=60,
        **GREEDY,  # type: ignore[list-item]
    ) as stream:
        final = await stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls
    assert streamed and [(c.function.name, c.function.arguments) for c in streamed] == [
        (c.function.name, c.function.arguments) for c in reply.tool_calls
    ]


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (
            {
                "model": TINY,
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            },
            "invalid_value",
            "tool_choice",
        ),
        ({"model": TINY, "tools": [WEATHER]}, "unsupported_value", "tools"),
        ({"model": TINY, "tools": [WEATHER], "tool_choice": "auto"}, "unsupported_value", "tools"),
        ({"model": TINY, "tool_choice": "required"}, "invalid_value", "tool_choice"),
        (
            {
                "model": TINY,
                "tool_choice": "required",
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {"type": "string"}},
                    }
                ],
            },
            "invalid_value",
            "tools[0].function.parameters",
        ),
        (
            {
                "model": TINY,
                "tool_choice": "required",
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {"type": "object", "properties": 5},
                        },
                    }
                ],
            },
            "invalid_value",
            "tools[0].function.parameters",
        ),
        (
            {"model": TINY, "tool_choice": "required", "tools": [WEATHER, WEATHER]},
            "invalid_value",
            "tools[1].function.name",
        ),
        (
            {"model": SMOL, "tools": [WEATHER], "response_format": {"type": "json_object"}},
            "invalid_value",
            "response_format",
        ),
        (
            {"model": TINY, "tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "invalid_value",
            "tools[0].function.name",
        ),
        (
            {
                "model": TINY,
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "tool", "content": "42"},
                ],
            },
            "missing_required_parameter",
            "messages[1].tool_call_id",
        ),
    ],
)
async def test_bad_tool_input_is_a_400_naming_it(
    api: Client, org: Org, body: dict[str, Any], code: str, param: str
) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **body}
    r = await api.post(PATH, key=org.key, json=body)
    r.expect_error(400, code, param)
