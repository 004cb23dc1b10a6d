"""LangChain (`langchain-openai`), unchanged, pointed at Spark: `bind_tools` produces a tool call
that LangChain parses (streamed and not), and the second turn with the `ToolMessage` answers."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.conftest import Org
from tests.inference.conftest import SMOL, Spark


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 21 C in {city}."


@pytest.fixture
def llm(spark: Spark, org: Org) -> ChatOpenAI:
    return ChatOpenAI(
        model=SMOL,
        base_url=f"{spark.base}/v1",
        api_key=org.key,  # type: ignore[arg-type]
        max_retries=0,
        temperature=0,
        max_completion_tokens=64,
    )


QUESTION = HumanMessage("What is the weather in Paris?")


async def test_bind_tools_round_trip(llm: ChatOpenAI) -> None:
    call = await llm.bind_tools([get_weather], tool_choice="get_weather").ainvoke([QUESTION])
    assert isinstance(call, AIMessage) and not call.invalid_tool_calls
    [parsed] = call.tool_calls
    assert parsed["name"] == "get_weather" and isinstance(parsed["args"]["city"], str)
    result = get_weather.invoke(parsed)  # a ToolMessage carrying the call's id
    answer = await llm.bind_tools([get_weather]).ainvoke([QUESTION, call, result])
    assert isinstance(answer, AIMessage)
    assert answer.content or answer.tool_calls


async def test_streamed_tool_call_chunks_assemble(llm: ChatOpenAI) -> None:
    bound = llm.bind_tools([get_weather], tool_choice="required")
    merged: AIMessageChunk | None = None
    async for chunk in bound.astream([QUESTION]):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and not merged.invalid_tool_calls
    [parsed] = merged.tool_calls
    assert parsed["name"] == "get_weather" and isinstance(parsed["args"]["city"], str)
    plain = await bound.ainvoke([QUESTION])
    assert plain.tool_calls == merged.tool_calls or plain.tool_calls[0]["args"] == parsed["args"]
