"""`client.responses` (Spark's stateless Responses API) through both clients against the live
engines: the typed response, typed stream events, a function call and its second turn, and
the refusal of stored state as a typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.spark import SMOL, TINY
from tests.volt.conftest import sync
from volt import AsyncVolt, BadRequestError, Volt
from volt.types.responses import (
    FunctionToolParam,
    Response,
    ResponseFunctionCall,
    ResponseLifecycleEvent,
    ResponseOutputMessage,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
)

FRANCE = "What is the capital of France?"
WEATHER: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def test_create_sync_and_async(sdk: Volt, asdk: AsyncVolt) -> None:
    out = await sync(
        sdk.responses.create, model=SMOL, input=FRANCE, temperature=0, max_output_tokens=24
    )
    assert isinstance(out, Response) and isinstance(out.output[0], ResponseOutputMessage)
    assert "Paris" in out.output_text and out.store is False and out.status == "completed"
    assert out.usage is not None and out.usage.output_tokens > 0
    assert out.volt is not None and out.volt.pod == "spark-test-0"
    again = await asdk.responses.create(
        model=SMOL, input=FRANCE, temperature=0, max_output_tokens=24
    )
    assert again.output_text == out.output_text


async def test_stream_typed_events(sdk: Volt, asdk: AsyncVolt) -> None:
    def collect() -> list[ResponseStreamEvent]:
        with sdk.responses.stream(model=TINY, input="hi", max_output_tokens=6) as stream:
            return list(stream)

    events = await sync(collect)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    last = events[-1]
    assert isinstance(last, ResponseLifecycleEvent) and last.type == "response.incomplete"
    text = "".join(e.delta for e in events if isinstance(e, ResponseTextDeltaEvent))
    assert text == last.response.output_text and last.response.volt is not None

    stream = await asdk.responses.stream(model=TINY, input="hi", max_output_tokens=3)
    kinds = [e.type async for e in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.incomplete"


async def test_function_call_round_trip(asdk: AsyncVolt) -> None:
    first = await asdk.responses.create(
        model=SMOL,
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        temperature=0,
        max_output_tokens=40,
    )
    [call] = [item for item in first.output if isinstance(item, ResponseFunctionCall)]
    assert json.loads(call.arguments)["city"]
    replay: list[Any] = [item.model_dump() for item in first.output]
    out = await asdk.responses.create(
        model=SMOL,
        input=[
            {"role": "user", "content": "What is the weather in Paris?"},
            *replay,
            {"type": "function_call_output", "call_id": call.call_id, "output": "22 C"},
        ],
        tools=[WEATHER],
        tool_choice="none",
        temperature=0,
        max_output_tokens=30,
    )
    assert out.output_text.strip()


async def test_stored_state_is_a_typed_error(asdk: AsyncVolt) -> None:
    with pytest.raises(BadRequestError) as bad:
        await asdk.responses.create(model=TINY, input="hi", background=True)
    assert bad.value.param == "background"
