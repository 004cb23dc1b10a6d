"""`POST /v1/completions`: string, list and token prompts, n, echo, logprobs, streaming."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Org
from tests.inference.conftest import SMOL, TINY, Spark
from tests.support.client import Client

PATH = "/v1/completions"


async def complete(api: Client, org: Org, **body: Any) -> dict[str, Any]:
    r = await api.post(PATH, key=org.key, json=body)
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


async def test_string_prompt_with_openai_defaults(api: Client, org: Org) -> None:
    out = await complete(api, org, model=TINY, prompt="Once upon a time")
    assert out["object"] == "text_completion" and out["id"].startswith("cmpl-")
    assert out["usage"]["completion_tokens"] == 16  # OpenAI's default max_tokens
    assert out["choices"][0]["finish_reason"] == "length" and out["volt"]["tier"] == "standard"


async def test_smollm2_continues_sensibly(api: Client, org: Org) -> None:
    out = await complete(
        api, org, model=SMOL, temperature=0, max_tokens=5, prompt="The capital of France is"
    )
    assert "Paris" in out["choices"][0]["text"]


async def test_list_prompts_and_n_number_choices_like_openai(api: Client, org: Org) -> None:
    out = await complete(api, org, model=TINY, prompt=["Hello", "Goodbye"], n=2, max_tokens=3)
    assert [c["index"] for c in out["choices"]] == [0, 1, 2, 3]
    assert out["usage"]["completion_tokens"] == 12


async def test_token_prompts(api: Client, org: Org, spark: Spark) -> None:
    ids = spark.engine(TINY).tokenizer.encode("Hello there")
    single = await complete(api, org, model=TINY, prompt=ids, max_tokens=2)
    assert single["usage"]["prompt_tokens"] == len(ids)
    many = await complete(api, org, model=TINY, prompt=[ids, ids[:1]], max_tokens=2)
    assert many["usage"]["prompt_tokens"] == len(ids) + 1 and len(many["choices"]) == 2


async def test_echo_and_logprobs(api: Client, org: Org) -> None:
    out = await complete(
        api, org, model=TINY, prompt="Echo me", echo=True, max_tokens=4, logprobs=2
    )
    choice = out["choices"][0]
    assert choice["text"].startswith("Echo me")
    lp = choice["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == 4
    assert choice["text"] == "Echo me" + "".join(lp["tokens"])
    assert lp["text_offset"][0] == len("Echo me")
    assert all(len(top) <= 2 for top in lp["top_logprobs"])


async def test_streaming_with_usage(api: Client, org: Org) -> None:
    r = await api.post(
        PATH,
        key=org.key,
        json={
            "model": TINY,
            "prompt": ["a", "b"],
            "max_tokens": 3,
            "stream": True,
            "echo": True,
            "stream_options": {"include_usage": True},
        },
    )
    chunks = r.events()
    texts: dict[int, str] = {}
    for c in chunks:
        for ch in c["choices"]:
            texts[ch["index"]] = texts.get(ch["index"], "") + ch["text"]
    assert texts[0].startswith("a") and texts[1].startswith("b")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 6
    assert "volt" in chunks[-1]


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": TINY}, "missing_required_parameter", "prompt"),
        ({"model": TINY, "prompt": ""}, "invalid_value", "prompt"),
        ({"model": TINY, "prompt": []}, "invalid_value", "prompt"),
        ({"model": TINY, "prompt": [10**9]}, "invalid_value", "prompt[0]"),
        ({"model": TINY, "prompt": "x", "best_of": 3}, "unsupported_parameter", "best_of"),
        ({"model": TINY, "prompt": "x", "suffix": "y"}, "unsupported_parameter", "suffix"),
        ({"model": TINY, "prompt": "x", "logprobs": 9}, "invalid_value", "logprobs"),
        ({"model": TINY, "prompt": "x", "max_tokens": 0}, "invalid_value", "max_tokens"),
    ],
)
async def test_bad_input(
    api: Client, org: Org, body: dict[str, Any], code: str, param: str
) -> None:
    (await api.post(PATH, key=org.key, json=body)).expect_error(400, code, param)
