"""`POST /v1/responses` against real vLLM CPU engines: input shapes, structured output, tools
and their second turn, streaming event by event (every event validated against openapi.yaml
by the client), the refusals of stored state, and the real clients: the official `openai`
SDK's `client.responses` and the OpenAI Agents SDK's Responses model."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
import openai
import orjson
import pytest

from inference.responses.protocol import ResponsesRequest
from tests.conftest import Org
from tests.inference.conftest import SMOL, TINY, Spark
from tests.support.client import Client, Reply
from tests.support.openapi import Spec

PATH = "/v1/responses"
WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
ASK_WEATHER = "What is the weather like in Paris today?"


async def create(api: Client, org: Org, **body: Any) -> dict[str, Any]:
    r = await api.post(PATH, key=org.key, json=body)
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


def events(reply: Reply) -> list[dict[str, Any]]:
    """The data of each event (the client has already checked `event:` lines, the order of
    `sequence_number` and each event against the spec)."""
    assert reply.status == 200, reply.body
    blocks = [b for b in reply.body.decode().split("\n\n") if b.strip()]
    return [orjson.loads(b.split("\n")[1].removeprefix("data: ")) for b in blocks]


def output_text(response: dict[str, Any]) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
    )


def calls(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in response["output"] if item["type"] == "function_call"]


def test_request_model_matches_the_spec(spec: Spec) -> None:
    schema = spec.doc["components"]["schemas"]["CreateResponseRequest"]
    documented = set(schema["properties"])
    fields = {f.alias or n for n, f in ResponsesRequest.model_fields.items()}
    assert fields <= documented, fields - documented
    assert documented - fields == set(ResponsesRequest.UNSUPPORTED)
    assert set(schema["required"]) == {
        f.alias or n for n, f in ResponsesRequest.model_fields.items() if f.is_required()
    }


async def test_string_input(api: Client, org: Org) -> None:
    out = await create(
        api,
        org,
        model=SMOL,
        temperature=0,
        max_output_tokens=24,
        input="What is the capital of France?",
    )
    assert out["id"].startswith("resp_") and out["object"] == "response"
    assert out["status"] == "completed" and out["error"] is None
    assert out["incomplete_details"] is None
    [message] = out["output"]
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["id"].startswith("msg_") and message["status"] == "completed"
    [part] = message["content"]
    assert part["type"] == "output_text" and part["annotations"] == []
    assert "Paris" in part["text"]
    usage = out["usage"]
    assert usage["output_tokens"] > 0 and usage["input_tokens"] > 1
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"]["cached_tokens"] >= 0
    # Not stored, and saying so, though the request left `store` unset.
    assert out["store"] is False
    assert out["temperature"] == 0 and out["text"] == {"format": {"type": "text"}}
    assert out["volt"]["pod"] == "spark-test-0" and out["volt"]["timing"]["ttft_ms"] > 0


async def test_unset_sampling_takes_the_models_defaults(
    api: Client, org: Org, spark: Spark
) -> None:
    defaults = spark.engine(SMOL).sampling_defaults  # the catalog's, as chat applies them
    out = await create(api, org, model=SMOL, max_output_tokens=2, input="hi")
    assert out["temperature"] == pytest.approx(defaults["temperature"])
    assert out["top_p"] == pytest.approx(defaults["top_p"])


async def test_items_with_instructions(api: Client, org: Org) -> None:
    body: dict[str, Any] = {
        "model": SMOL,
        "temperature": 0,
        "max_output_tokens": 16,
        "instructions": "You answer in one word.",
        "metadata": {"trace": "t-1"},
        "user": "u-1",
        "input": [
            {"role": "user", "content": "Name a colour."},
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Blue.", "annotations": []}],
            },
            {"role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Another?"}],
            },
        ],
    }
    out = await create(api, org, **body)
    assert output_text(out).strip()
    assert out["instructions"] == "You answer in one word."
    assert out["metadata"] == {"trace": "t-1"} and out["user"] == "u-1"
    # `instructions` is the system prompt, before the items.
    system = {"role": "system", "content": body["instructions"]}
    same = await create(
        api, org, **{**body, "instructions": None, "input": [system, *body["input"]]}
    )
    assert same["usage"]["input_tokens"] == out["usage"]["input_tokens"]
    assert output_text(same) == output_text(out)


async def test_json_schema_format(api: Client, org: Org) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "place", "schema": schema, "strict": True}
    out = await create(
        api,
        org,
        model=SMOL,
        temperature=0,
        max_output_tokens=60,
        input="Name the capital of France and its country as JSON.",
        text={"format": fmt},
    )
    jsonschema.validate(json.loads(output_text(out)), schema)
    assert out["text"]["format"] == fmt


async def test_max_output_tokens_is_incomplete(api: Client, org: Org) -> None:
    out = await create(api, org, model=TINY, max_output_tokens=4, input="Tell me a long story")
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out["output"][0]["status"] == "incomplete" and out["usage"]["output_tokens"] == 4
    reply = await api.post(
        PATH,
        key=org.key,
        json={"model": TINY, "max_output_tokens": 4, "input": "Tell me", "stream": True},
    )
    last = events(reply)[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


async def test_stream_events_and_reassembly(api: Client, org: Org) -> None:
    body = {
        "model": SMOL,
        "temperature": 0,
        "max_output_tokens": 40,
        "input": "Write one sentence about the sea.",
    }
    plain = await create(api, org, **body)
    reply = await api.post(PATH, key=org.key, json={**body, "stream": True})
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    assert b"[DONE]" not in reply.body
    got = events(reply)
    kinds = [e["type"] for e in got]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert got[0]["response"]["status"] == "in_progress" and got[0]["response"]["output"] == []
    text = "".join(e["delta"] for e in got if e["type"] == "response.output_text.delta")
    assert text == output_text(plain)
    done = next(e for e in got if e["type"] == "response.output_text.done")
    assert done["text"] == text
    final = got[-1]["response"]
    assert final["id"] == got[0]["response"]["id"] and output_text(final) == text
    assert final["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
    assert final["volt"]["timing"]["ttft_ms"] > 0
    item_ids = {e["item_id"] for e in got if "item_id" in e}
    assert item_ids == {final["output"][0]["id"]}


@pytest.mark.parametrize(
    "tool_choice",
    ["required", {"type": "function", "name": "get_weather"}],
    ids=["required", "named"],
)
async def test_function_tool_call(api: Client, org: Org, tool_choice: Any) -> None:
    body = {
        "model": SMOL,
        "temperature": 0,
        "max_output_tokens": 60,
        "input": ASK_WEATHER,
        "tools": [WEATHER],
        "tool_choice": tool_choice,
        "parallel_tool_calls": False,
    }
    out = await create(api, org, **body)
    [call] = calls(out)
    assert call["name"] == "get_weather" and call["status"] == "completed"
    assert call["call_id"] and call["id"].startswith("fc_")
    jsonschema.validate(json.loads(call["arguments"]), WEATHER["parameters"])
    assert out["tool_choice"] == tool_choice and out["tools"] == [WEATHER]
    assert out["parallel_tool_calls"] is False

    got = events(await api.post(PATH, key=org.key, json={**body, "stream": True}))
    added = next(e for e in got if e["type"] == "response.output_item.added")
    assert added["item"]["type"] == "function_call" and added["item"]["name"] == "get_weather"
    fragments = "".join(
        e["delta"] for e in got if e["type"] == "response.function_call_arguments.delta"
    )
    done = next(e for e in got if e["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == fragments == call["arguments"]
    assert calls(got[-1]["response"])[0]["arguments"] == call["arguments"]


async def test_second_turn_with_the_function_result(api: Client, org: Org) -> None:
    first = await create(
        api,
        org,
        model=SMOL,
        temperature=0,
        max_output_tokens=60,
        input=ASK_WEATHER,
        tools=[WEATHER],
        tool_choice="required",
    )
    [call] = calls(first)
    # The next turn replays the first turn's output items, as the SDKs do, then the result.
    out = await create(
        api,
        org,
        model=SMOL,
        temperature=0,
        max_output_tokens=40,
        tools=[WEATHER],
        tool_choice="none",
        input=[
            {"role": "user", "content": ASK_WEATHER},
            *first["output"],
            {"type": "function_call_output", "call_id": call["call_id"], "output": "22 C, sunny"},
        ],
    )
    assert out["status"] == "completed" and not calls(out)
    assert output_text(out).strip()


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("store", True, "never keeps prompts or completions"),
        ("previous_response_id", "resp_123", "keeps no prompts or completions"),
        ("conversation", "conv_123", "keeps no prompts or completions"),
        ("background", True, "never keeps prompts or completions"),
    ],
)
async def test_stored_state_is_refused_saying_why(
    api: Client, org: Org, field: str, value: Any, words: str
) -> None:
    r = await api.post(PATH, key=org.key, json={"model": TINY, "input": "hi", field: value})
    error = r.expect_error(400, param=field)
    assert words in error["message"]


async def test_store_false_and_nulls_are_accepted(api: Client, org: Org) -> None:
    out = await create(
        api,
        org,
        model=TINY,
        input="hi",
        max_output_tokens=2,
        store=False,
        background=False,
        previous_response_id=None,
        include=[],
        reasoning={},
        temperature=None,
        truncation="disabled",
        prompt_cache_key="k",
        safety_identifier="s",
        service_tier="auto",
    )
    assert out["store"] is False and out["prompt_cache_key"] == "k"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"input": "hi", "temprature": 0}, "temprature", "unknown_parameter"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0].type",
            "unsupported_value",
        ),
        ({"input": "hi", "include": ["message.output_text.logprobs"]}, "include[0]", None),
        ({"input": "hi", "reasoning": {"effort": "low"}}, "reasoning", None),
        ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type", None),
        ({"input": "hi", "truncation": "auto"}, "truncation", None),
        ({"input": "hi", "tool_choice": "required"}, "tool_choice", None),
        ({"input": "hi", "stream_options": {}}, "stream_options", None),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type", None),
        (
            {"input": "hi", "text": {"format": {"type": "json_schema", "name": "a"}}},
            "text.format.schema",
            None,
        ),
        (
            {
                "input": "hi",
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "name": "nope"},
            },
            "tool_choice.name",
            None,
        ),
        ({"input": "hi", "max_output_tokens": 5000}, "input", "context_length_exceeded"),
        (
            {"input": "hi", "tools": [WEATHER, WEATHER], "tool_choice": "required"},
            "tools[1].name",
            None,
        ),
    ],
)
async def test_bad_requests_name_the_parameter(
    api: Client, org: Org, body: dict[str, Any], param: str, code: str | None
) -> None:
    r = await api.post(PATH, key=org.key, json={"model": SMOL, **body})
    r.expect_error(400, code=code, param=param)


async def test_a_bad_schema_is_a_400_before_the_stream(api: Client, org: Org) -> None:
    # xgrammar cannot compile this pattern; vLLM would find out only inside the engine.
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "(unclosed"}}}
    fmt = {"type": "json_schema", "name": "bad", "schema": schema}
    r = await api.post(
        PATH,
        key=org.key,
        json={"model": TINY, "input": "hi", "stream": True, "text": {"format": fmt}},
    )
    r.expect_error(400, param="text.format")


async def test_a_failure_mid_stream_ends_with_error_then_failed(
    api: Client, org: Org, spark: Spark, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = spark.engine(TINY)
    real = engine.generate

    async def failing(*args: Any, **kwargs: Any) -> Any:
        steps = real(*args, **kwargs)
        try:
            for _ in range(3):
                yield await anext(steps)
        finally:
            await steps.aclose()  # type: ignore[attr-defined]
        raise RuntimeError("the engine failed this request")

    monkeypatch.setattr(engine, "generate", failing)
    reply = await api.post(
        PATH,
        key=org.key,
        json={"model": TINY, "input": "count", "max_output_tokens": 50, "stream": True},
    )
    got = events(reply)
    error, last = got[-2:]
    assert error["type"] == "error" and error["code"] == "engine_error" and error["message"]
    assert last["type"] == "response.failed"
    failed = last["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "engine_error"
    assert failed["usage"]["output_tokens"] == 3 and failed["volt"]["pod"] == "spark-test-0"
    deltas = "".join(e["delta"] for e in got if e["type"] == "response.output_text.delta")
    assert output_text(failed) == deltas


# ------------------------------------------------------------------ the real clients


@pytest.fixture
def base(spark: Spark) -> str:
    return f"{spark.base}/v1"


async def test_openai_sdk_responses(base: str, org: Org) -> None:
    client = openai.AsyncOpenAI(base_url=base, api_key=org.key, max_retries=0)
    out = await client.responses.create(
        model=SMOL, input="What is the capital of France?", temperature=0, max_output_tokens=24
    )
    assert (
        "Paris" in out.output_text and out.status == "completed" and out.to_dict()["store"] is False
    )
    assert out.usage is not None and out.usage.output_tokens > 0
    assert out.model_extra is not None and out.model_extra["volt"]["tier"] == "standard"

    stream = await client.responses.create(
        model=SMOL,
        input="What is the capital of France?",
        temperature=0,
        max_output_tokens=24,
        stream=True,
    )
    kinds, text = [], []
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text.append(event.delta)
        if event.type == "response.completed":
            assert event.response.output_text == "".join(text) == out.output_text

    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"

    tool = await client.responses.create(  # type: ignore[call-overload]
        model=SMOL,
        input=ASK_WEATHER,
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0,
        max_output_tokens=60,
    )
    [call] = [item for item in tool.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments)["city"]


async def test_openai_sdk_responses_sync(base: str, org: Org) -> None:
    def run() -> tuple[str, str | None]:
        client = openai.OpenAI(base_url=base, api_key=org.key, max_retries=0)
        out = client.responses.create(model=TINY, input="hi", max_output_tokens=5)
        streamed = []
        with client.responses.stream(
            model=SMOL, input="What is the capital of France?", temperature=0, max_output_tokens=40
        ) as stream:
            for event in stream:
                if event.type == "response.output_text.delta":
                    streamed.append(event.delta)
            final = stream.get_final_response()
        assert final.output_text == "".join(streamed)
        with pytest.raises(openai.BadRequestError) as bad:
            client.responses.create(model=TINY, input="hi", store=True)
        assert bad.value.param == "store"
        return out.output_text, out.status

    text, status = await asyncio.to_thread(run)
    assert status == "incomplete" and text


async def test_openai_agents_sdk_with_a_function_tool(base: str, org: Org) -> None:
    agents = pytest.importorskip("agents")
    from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool

    agents.set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=base, api_key=org.key, max_retries=0)
    seen: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        seen.append(city)
        return f"It is 22 C and sunny in {city}."

    agent = Agent(
        name="weather",
        instructions="You answer questions about the weather, using the tool.",
        model=OpenAIResponsesModel(model=SMOL, openai_client=client),
        # The first turn must call the tool; the SDK then resets tool_choice (its
        # `reset_tool_choice` default) so that the second turn can answer.
        model_settings=ModelSettings(
            tool_choice="get_weather", temperature=0, max_tokens=60, parallel_tool_calls=False
        ),
        tools=[get_weather],
    )
    result = await Runner.run(agent, ASK_WEATHER, max_turns=4)
    assert seen and seen[0]
    assert isinstance(result.final_output, str) and result.final_output.strip()
