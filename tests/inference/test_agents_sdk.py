"""The OpenAI Agents SDK (`openai-agents`), unchanged, on Spark's chat completions: an agent with
one function tool runs to completion, plain and streamed. (Against `/v1/responses` it is in
test_responses.py.)"""

from __future__ import annotations

import openai
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)

from tests.conftest import Org
from tests.inference.conftest import SMOL, Spark

set_tracing_disabled(True)  # tracing would post to api.openai.com


def weather_agent(spark: Spark, org: Org, calls: list[str]) -> Agent:
    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        calls.append(city)
        return f"It is sunny and 21 C in {city}."

    client = openai.AsyncOpenAI(base_url=f"{spark.base}/v1", api_key=org.key, max_retries=0)
    return Agent(
        name="weather",
        instructions="You answer questions about the weather using the tool.",
        tools=[get_weather],
        model=OpenAIChatCompletionsModel(model=SMOL, openai_client=client),
        # The first turn must call the tool (a 135M model rarely chooses to on its own); the
        # SDK resets tool_choice after a tool call (reset_tool_choice), so the run then ends.
        model_settings=ModelSettings(tool_choice="required", temperature=0, max_tokens=64),
    )


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_agent_with_a_function_tool_runs_to_completion(
    spark: Spark, org: Org, streamed: bool
) -> None:
    calls: list[str] = []
    agent = weather_agent(spark, org, calls)
    if streamed:
        run = Runner.run_streamed(agent, "What is the weather in Paris?", max_turns=4)
        async for _ in run.stream_events():
            pass
        output = run.final_output
    else:
        result = await Runner.run(agent, "What is the weather in Paris?", max_turns=4)
        output = result.final_output
    assert calls, "the agent never called its tool"
    assert isinstance(output, str) and output.strip()
