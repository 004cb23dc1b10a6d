"""`POST /v1/chat/completions` against real vLLM CPU engines: every parameter, streaming, the
volt block. (Every response is also validated against openapi.yaml by the client.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Org
from tests.inference.conftest import SMOL, TINY, Spark
from tests.support.client import Client

PATH = "/v1/chat/completions"


def ask(content: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **extra}


async def chat(api: Client, org: Org, **body: Any) -> dict[str, Any]:
    r = await api.post(PATH, key=org.key, json=body)
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


async def test_smollm2_knows_the_capital_of_france(api: Client, org: Org) -> None:
    out = await chat(
        api, org, model=SMOL, temperature=0, max_tokens=24, **ask("What is the capital of France?")
    )
    assert "Paris" in out["choices"][0]["message"]["content"]


async def test_response_shape_usage_and_volt_block(api: Client, org: Org) -> None:
    r = await api.post(PATH, key=org.key, json={"model": TINY, "max_tokens": 5, **ask("hi")})
    out = r.json()
    assert r.headers["x-request-id"].startswith("req_")
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-")
    assert out["model"] == TINY
    choice = out["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "length"
    usage = out["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + 5 and usage["prompt_tokens"] > 1
    volt = out["volt"]
    assert volt["pod"] == "spark-test-0" and volt["metro"] == "fra1" and volt["tier"] == "standard"
    timing = volt["timing"]
    assert 0 < timing["ttft_ms"] <= timing["total_ms"]
    assert timing["queue_ms"] >= 0 and timing["decode_tokens_per_s"] > 0


async def test_roles_and_chat_template(api: Client, org: Org, spark: Spark) -> None:
    messages = [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "Another?", "name": "sam"},
    ]
    out = await chat(api, org, model=TINY, messages=messages, max_completion_tokens=3)
    # Exactly the model's own template over every message ("developer" is the system role).
    tokenizer = spark.engine(TINY).tokenizer
    rendered = tokenizer.apply_chat_template(
        [
            {
                "role": "system" if m["role"] == "developer" else m["role"],
                "content": m["content"] if isinstance(m["content"], str) else "Be brief.",
            }
            for m in messages
        ],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert "Blue." in rendered and "Be brief." in rendered
    expected = len(tokenizer.encode(rendered, add_special_tokens=False))
    assert out["usage"]["prompt_tokens"] == expected


async def test_n_choices(api: Client, org: Org) -> None:
    out = await chat(api, org, model=TINY, n=3, max_tokens=4, **ask("hi"))
    assert [c["index"] for c in out["choices"]] == [0, 1, 2]
    assert out["usage"]["completion_tokens"] == 12


async def test_seed_makes_sampling_reproducible(api: Client, org: Org) -> None:
    body = {"model": TINY, "temperature": 1.0, "max_tokens": 12, "seed": 1234, **ask("Go")}
    first, second = await chat(api, org, **body), await chat(api, org, **body)
    other = await chat(api, org, **{**body, "seed": 99})
    text = [o["choices"][0]["message"]["content"] for o in (first, second, other)]
    assert text[0] == text[1] and text[0] != text[2]


async def test_stop_sequence(api: Client, org: Org) -> None:
    body = {
        "model": SMOL,
        "temperature": 0,
        "max_tokens": 40,
        **ask("Name the days of the week, separated by commas."),
    }
    full = (await chat(api, org, **body))["choices"][0]["message"]["content"]
    words = full.split()
    assert len(words) > 4, full
    stop = words[len(words) // 2]  # greedy decoding repeats itself: cut at a word from the middle
    cut = (await chat(api, org, stop=[stop, "zzz-never"], **body))["choices"][0]
    assert cut["finish_reason"] == "stop"
    assert cut["message"]["content"] == full[: full.index(stop)]


async def test_penalties_and_volt_sampling_extensions_change_the_output(
    api: Client, org: Org
) -> None:
    body = {
        "model": SMOL,
        "temperature": 0,
        "max_tokens": 40,
        **ask("Write the word apple many times."),
    }
    plain = (await chat(api, org, **body))["choices"][0]["message"]["content"]
    penalised = await chat(api, org, frequency_penalty=2.0, presence_penalty=2.0, **body)
    assert penalised["choices"][0]["message"]["content"] != plain
    extended = await chat(api, org, top_k=1, repetition_penalty=1.5, min_p=0.1, **body)
    assert extended["choices"][0]["message"]["content"]


async def test_logprobs_and_top_logprobs(api: Client, org: Org) -> None:
    out = await chat(api, org, model=TINY, max_tokens=6, logprobs=True, top_logprobs=3, **ask("hi"))
    choice = out["choices"][0]
    content = choice["logprobs"]["content"]
    assert len(content) == out["usage"]["completion_tokens"] == 6
    assert "".join(t["token"] for t in content) == choice["message"]["content"]
    for token in content:
        assert token["logprob"] <= 0 and len(token["top_logprobs"]) == 3
        assert token["bytes"] == list(token["token"].encode())
        tops = [t["logprob"] for t in token["top_logprobs"]]
        assert tops == sorted(tops, reverse=True)
    plain = await chat(api, org, model=TINY, max_tokens=2, **ask("hi"))
    assert plain["choices"][0]["logprobs"] is None


async def test_json_object_response_format(api: Client, org: Org) -> None:
    out = await chat(
        api,
        org,
        model=SMOL,
        temperature=0,
        max_tokens=80,
        response_format={"type": "json_object"},
        **ask("Give the capital of France as JSON with the key 'city'."),
    )
    choice = out["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert isinstance(json.loads(choice["message"]["content"]), dict)


async def test_json_schema_response_format(api: Client, org: Org) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string", "enum": ["Paris", "Rome", "Berlin"]},
            "population_millions": {"type": "integer"},
        },
        "required": ["city", "population_millions"],
        "additionalProperties": False,
    }
    out = await chat(
        api,
        org,
        model=TINY,
        max_tokens=60,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "capital", "schema": schema, "strict": True},
        },
        **ask("Capital of France?"),
    )
    parsed = json.loads(out["choices"][0]["message"]["content"])  # even a random model obeys
    assert (
        set(parsed) == {"city", "population_millions"}
        and parsed["city"] in schema["properties"]["city"]["enum"]
    )


async def test_streaming_exactly_as_openai_streams(api: Client, org: Org) -> None:
    r = await api.post(
        PATH,
        key=org.key,
        json={"model": TINY, "max_tokens": 8, "stream": True, "logprobs": True, **ask("hi")},
    )
    assert r.headers["Content-Type"].startswith("text/event-stream")
    chunks = r.events()
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    tokens = [lp for c in chunks[1:-1] for ch in c["choices"] for lp in ch["logprobs"]["content"]]
    assert len(tokens) == 8
    text = "".join(ch["delta"].get("content", "") for c in chunks for ch in c["choices"])
    assert text == "".join(t["token"] for t in tokens)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert "volt" in chunks[-1] and all("volt" not in c for c in chunks[:-1])
    assert all("usage" not in c for c in chunks)


async def test_streaming_with_include_usage(api: Client, org: Org) -> None:
    r = await api.post(
        PATH,
        key=org.key,
        json={
            "model": TINY,
            "max_tokens": 5,
            "n": 2,
            "stream": True,
            "stream_options": {"include_usage": True},
            **ask("hi"),
        },
    )
    chunks = r.events()
    assert all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 10
    assert last["volt"]["timing"]["ttft_ms"] > 0
    finishes = {
        ch["index"]: ch["finish_reason"]
        for c in chunks
        for ch in c["choices"]
        if ch["finish_reason"]
    }
    assert finishes == {0: "length", 1: "length"}


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"model": "nope", **ask("hi")}, 404, "model_not_found", "model"),
        ({"model": "all-minilm-l6-v2", **ask("hi")}, 400, "model_not_supported", "model"),
        ({"model": TINY, "messages": []}, 400, "invalid_value", "messages"),
        (
            {"model": TINY, "messages": [{"role": "robot", "content": "x"}]},
            400,
            "invalid_value",
            "messages[0].role",
        ),
        (
            {"model": TINY, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            400,
            "unsupported_value",
            "messages[0].content[0].type",
        ),
        ({"model": TINY, "temperature": 3, **ask("hi")}, 400, "invalid_value", "temperature"),
        ({"model": TINY, "top_p": 0, **ask("hi")}, 400, "invalid_value", "top_p"),
        ({"model": TINY, "n": 0, **ask("hi")}, 400, "invalid_value", "n"),
        ({"model": TINY, "max_tokens": "ten", **ask("hi")}, 400, "invalid_type", "max_tokens"),
        (
            {"model": TINY, "stop": ["a", "b", "c", "d", "e"], **ask("hi")},
            400,
            "invalid_value",
            "stop",
        ),
        ({"model": TINY, "top_logprobs": 2, **ask("hi")}, 400, "invalid_value", "top_logprobs"),
        (
            {"model": TINY, "stream_options": {"include_usage": True}, **ask("hi")},
            400,
            "invalid_value",
            "stream_options",
        ),
        (
            # The tiny model has no tool-call format: `auto` (the default with tools) cannot be
            # served, and is refused rather than the tools dropped (tests/inference/test_tools.py).
            {"model": TINY, "tools": [{"type": "function", "function": {"name": "f"}}]} | ask("hi"),
            400,
            "unsupported_value",
            "tools",
        ),
        (
            {"model": TINY, "max_tokens": 5000, **ask("hi")},
            400,
            "context_length_exceeded",
            "messages",
        ),
        (
            {"model": TINY, "logit_bias": {"abc": 1}, **ask("hi")},
            400,
            "invalid_value",
            "logit_bias",
        ),
        (
            {"model": TINY, "response_format": {"type": "xml"}, **ask("hi")},
            400,
            "invalid_value",
            "response_format",
        ),
        ({"model": TINY, "temprature": 1, **ask("hi")}, 400, "unknown_parameter", "temprature"),
    ],
)
async def test_bad_input_is_a_400_naming_the_parameter(
    api: Client, org: Org, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    r = await api.post(PATH, key=org.key, json=body)
    error = r.expect_error(status, code)
    assert error["param"] is not None and error["param"].startswith(param), error


async def test_a_schema_the_grammar_engine_rejects_is_a_400(api: Client, org: Org) -> None:
    r = await api.post(
        PATH,
        key=org.key,
        json={
            "model": TINY,
            "max_tokens": 5,
            **ask("hi"),
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "bad",
                    "schema": {"type": "object", "properties": {"a": {"type": 7}}},
                },
            },
        },
    )
    r.expect_error(400)
