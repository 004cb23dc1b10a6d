"""OpenAI's request conventions, field by field, as the official SDKs use them: explicit nulls,
assistant messages replayed exactly as returned, the fields that do not change generation, and
precise 400s for what Spark cannot honour."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Org
from tests.inference.conftest import MINILM, TINY
from tests.support.client import Client

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "hi"}]

# Every optional field of chat completions, null: OpenAI reads null as "not given".
_OPTIONAL = """audio frequency_penalty logit_bias logprobs max_completion_tokens max_tokens
metadata modalities n parallel_tool_calls prediction presence_penalty prompt_cache_key
reasoning_effort response_format safety_identifier seed service_tier stop store stream
stream_options temperature tool_choice tools top_logprobs top_p user verbosity
web_search_options functions function_call"""
NULLS: dict[str, Any] = dict.fromkeys(_OPTIONAL.split())


async def test_explicit_nulls_are_not_given(api: Client, org: Org) -> None:
    r = await api.post(CHAT, key=org.key, json={"model": TINY, "messages": HI, **NULLS})
    assert r.status == 200, r.body
    assert r.json()["choices"][0]["message"]["content"] is not None
    r = await api.post(
        "/v1/embeddings",
        key=org.key,
        json={"model": MINILM, "input": "x", "encoding_format": None, "dimensions": None},
    )
    assert r.status == 200, r.body


async def test_a_returned_message_replays_as_is(api: Client, org: Org) -> None:
    first = await api.post(CHAT, key=org.key, json={"model": TINY, "messages": HI, "max_tokens": 4})
    message = first.json()["choices"][0]["message"]
    assert message["refusal"] is None  # what the SDKs then send back
    # ... what OpenAI's own messages carry besides, and what the SDK's stream/parse helpers add.
    sdk = {"annotations": [], "audio": None, "function_call": None, "parsed": {"a": 1}}
    history = [*HI, {**message, **sdk}]
    replay = {"model": TINY, "max_tokens": 4, "messages": [*history, *HI]}
    r = await api.post(CHAT, key=org.key, json=replay)
    assert r.status == 200, r.body
    parts = [{"type": "text", "text": "hello"}, {"type": "refusal", "refusal": "no"}]
    earlier = [*HI, {"role": "assistant", "content": parts}, *HI]
    r = await api.post(
        CHAT, key=org.key, json={"model": TINY, "max_tokens": 4, "messages": earlier}
    )
    assert r.status == 200, r.body


@pytest.mark.parametrize(
    "fields",
    [
        {"metadata": {"team": "search", "run": "7"}},
        {"service_tier": "auto"},
        {"service_tier": "priority"},
        {"user": "end-user-1", "safety_identifier": "hash-1", "prompt_cache_key": "k"},
        {"store": False},
        {"modalities": ["text"]},
        {"prediction": {"type": "content", "content": "hello"}},
        {"parallel_tool_calls": True},
        {"stream": True, "stream_options": {"include_usage": True, "include_obfuscation": True}},
    ],
)
async def test_fields_that_do_not_change_generation_are_accepted(
    api: Client, org: Org, fields: dict[str, Any]
) -> None:
    r = await api.post(
        CHAT, key=org.key, json={"model": TINY, "messages": HI, "max_tokens": 3, **fields}
    )
    assert r.status == 200, r.body
    if not fields.get("stream"):
        assert r.json()["service_tier"] == "default"  # Volt's tier is the org's, not a request's


@pytest.mark.parametrize(
    ("fields", "code", "param", "says"),
    [
        ({"store": True}, "unsupported_value", "store", "never keeps prompts or completions"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "unsupported_value", "audio", "audio"),
        ({"modalities": ["text", "audio"]}, "unsupported_value", "modalities", "audio"),
        ({"reasoning_effort": "low"}, "unsupported_parameter", "reasoning_effort", "reasoning"),
        ({"functions": [{"name": "f"}]}, "unsupported_parameter", "functions", "tools"),
        ({"web_search_options": {}}, "unsupported_parameter", "web_search_options", "web"),
        ({"service_tier": "fastest"}, "invalid_value", "service_tier", "service_tier"),
        ({"metadata": {"k": "v" * 513}}, "invalid_value", "metadata.k", "512"),
        ({"stream_option": {}}, "unknown_parameter", "stream_option", "stream_option"),
        ({"refusal": None}, "unknown_parameter", "refusal", "refusal"),  # not a request field
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "unsupported_value",
            "messages[0].content[0].type",
            "image_url",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "unsupported_value",
            "messages[0].content[0].type",
            "input_audio",
        ),
        (
            {"messages": [{"role": "system", "content": [{"type": "refusal", "refusal": "x"}]}]},
            "invalid_value",
            "messages[0].content[0].type",
            "refusal",
        ),
        (
            {"messages": [*HI, {"role": "assistant", "content": "x", "audio": {"id": "a"}}]},
            "unsupported_parameter",
            "messages[1].audio",
            "audio",
        ),
        (
            {"messages": [{"role": "user", "content": "x", "tool_call_id": "c"}]},
            "invalid_value",
            "messages[0].tool_call_id",
            "role 'user'",
        ),
        (
            {"messages": [{"role": "tool", "content": "42"}]},
            "missing_required_parameter",
            "messages[0].tool_call_id",
            "tool_call_id",
        ),
        (
            {"messages": [{"role": "user"}]},
            "missing_required_parameter",
            "messages[0].content",
            "content",
        ),
        (
            {
                "messages": [
                    *HI,
                    {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
                ]
            },
            "unsupported_parameter",
            "messages[1].function_call",
            "tool_calls",
        ),
    ],
)
async def test_what_spark_cannot_honour_is_a_400_that_names_it(
    api: Client, org: Org, fields: dict[str, Any], code: str, param: str, says: str
) -> None:
    r = await api.post(CHAT, key=org.key, json={"model": TINY, "messages": HI, **fields})
    error = r.expect_error(400, code, param)
    assert says in error["message"], error
