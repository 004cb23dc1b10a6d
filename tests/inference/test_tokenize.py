"""`POST /tokenize` and `POST /detokenize` (vLLM's) against the live Spark: round trips, counts
equal to what chat and completions meter as `prompt_tokens`, the same tier and org isolation
as chat, and bad input refused naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from inference.tokenize import DetokenizeRequest, TokenizeRequest
from tests.conftest import MakeOrg, Org
from tests.inference.conftest import MINILM, SMOL, TINY, Spark
from tests.inference.test_isolation import _fine_tune_row
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.db import Pool

MESSAGES = [
    {"role": "system", "content": "You answer in one word."},
    {"role": "user", "content": "Name a colour."},
    {"role": "assistant", "content": "Blue.", "refusal": None},
    {"role": "user", "content": "Another?"},
]


async def _tokenize(api: Client, org: Org, **body: Any) -> dict[str, Any]:
    r = await api.post("/tokenize", key=org.key, json=body)
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


def test_request_models_match_the_spec(spec: Spec) -> None:
    schemas = spec.doc["components"]["schemas"]
    for model, name in [
        (TokenizeRequest, "TokenizeRequest"),
        (DetokenizeRequest, "DetokenizeRequest"),
    ]:
        assert set(schemas[name]["properties"]) == set(model.model_fields), name
        assert set(schemas[name]["required"]) == {
            n for n, f in model.model_fields.items() if f.is_required()
        }


async def test_round_trip(api: Client, org: Org, spark: Spark) -> None:
    text = "Volt tokenizes this sentence, émojis 🚀 and all."
    out = await _tokenize(api, org, model=SMOL, prompt=text, return_token_strs=True)
    assert out["count"] == len(out["tokens"]) == len(out["token_strs"]) > 5
    assert out["max_model_len"] == spark.engine(SMOL).max_model_len
    assert out["volt"]["pod"] == "spark-test-0"
    assert out["tokens"] == spark.engine(SMOL).tokenizer.encode(text)
    r = await api.post("/detokenize", key=org.key, json={"model": SMOL, "tokens": out["tokens"]})
    assert r.status == 200, r.body
    assert r.json()["prompt"] == text
    plain = await _tokenize(api, org, model=SMOL, prompt=text)
    assert plain["token_strs"] is None and plain["tokens"] == out["tokens"]
    # Embedding models tokenize prompts too.
    assert (await _tokenize(api, org, model=MINILM, prompt="hello world"))["count"] >= 2


async def test_counts_match_what_completions_and_chat_meter(api: Client, org: Org) -> None:
    prompt = "The quick brown fox jumps over the lazy dog."
    r = await api.post(
        "/v1/completions", key=org.key, json={"model": SMOL, "prompt": prompt, "max_tokens": 1}
    )
    counted = await _tokenize(api, org, model=SMOL, prompt=prompt)
    assert counted["count"] == r.json()["usage"]["prompt_tokens"]

    for model in (SMOL, TINY):
        r = await api.post(
            "/v1/chat/completions",
            key=org.key,
            json={"model": model, "messages": MESSAGES, "max_tokens": 1},
        )
        assert r.status == 200, r.body
        rendered = await _tokenize(api, org, model=model, messages=MESSAGES)
        assert rendered["count"] == r.json()["usage"]["prompt_tokens"], model
        text = (
            await api.post(
                "/detokenize", key=org.key, json={"model": model, "tokens": rendered["tokens"]}
            )
        ).json()["prompt"]
        assert "Name a colour." in text and text.rstrip().endswith("assistant")


async def test_tier_and_org_isolation_match_chat(
    api: Client, make_org: MakeOrg, pool: Pool, spark: Spark
) -> None:
    free, a, b = await make_org("Free", tier="free"), await make_org("A"), await make_org("B")
    tokens = spark.engine(SMOL).tokenizer.encode("hi")
    # A model outside the caller's tier: 404, exactly like chat.
    for path, body in (("/tokenize", {"prompt": "hi"}), ("/detokenize", {"tokens": tokens})):
        r = await api.post(path, key=free.key, json={"model": SMOL, **body})
        r.expect_error(404, "model_not_found", "model")
        # The free tier's own model works.
        assert (await api.post(path, key=free.key, json={"model": TINY, **body})).status == 200
    # A fine-tuned model of a base outside the tier: 404.
    tuned_free = await _fine_tune_row(pool, free, SMOL)
    r = await api.post("/tokenize", key=free.key, json={"model": tuned_free, "prompt": "hi"})
    r.expect_error(404, "model_not_found", "model")
    # Org A's fine-tuned model: A tokenizes with its base model's tokenizer; B learns nothing,
    # the same 404 as for a model that does not exist.
    tuned = await _fine_tune_row(pool, a, SMOL)
    mine = await _tokenize(api, a, model=tuned, prompt="hi")
    assert mine["tokens"] == tokens
    for path, body in (
        ("/tokenize", {"prompt": "hi"}),
        ("/tokenize", {"messages": MESSAGES}),
        ("/detokenize", {"tokens": tokens}),
    ):
        r = await api.post(path, key=b.key, json={"model": tuned, **body})
        err = r.expect_error(404, "model_not_found", "model")
        missing = await api.post(path, key=b.key, json={"model": tuned + "x", **body})
        assert missing.expect_error(404, "model_not_found")["message"] == err["message"].replace(
            tuned, tuned + "x"
        )
    # And no key at all is a 401.
    assert (await api.post("/tokenize", json={"model": TINY, "prompt": "hi"})).status == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "param"),
    [
        ("/detokenize", {"tokens": [5, 10**9]}, 400, "invalid_value", "tokens[1]"),
        ("/detokenize", {"tokens": [-1]}, 400, "invalid_value", "tokens[0]"),
        ("/detokenize", {}, 400, None, "tokens"),
        ("/tokenize", {}, 400, "invalid_value", "messages"),
        ("/tokenize", {"prompt": "a", "messages": MESSAGES}, 400, "invalid_value", "prompt"),
        ("/tokenize", {"prompt": "a", "tools": []}, 400, "invalid_value", "tools"),
        ("/tokenize", {"prompt": "a", "promt": "b"}, 400, "unknown_parameter", "promt"),
        ("/tokenize", {"messages": []}, 400, None, "messages"),
        (
            "/tokenize",
            {"messages": [{"role": "tool", "content": "x"}]},
            400,
            "missing_required_parameter",
            "messages[0].tool_call_id",
        ),
        (
            "/tokenize",
            {"messages": MESSAGES, "add_generation_prompt": False},
            400,
            "unsupported_value",
            "add_generation_prompt",
        ),
        (
            "/tokenize",
            {"messages": MESSAGES, "add_special_tokens": True},
            400,
            "unsupported_value",
            "add_special_tokens",
        ),
        ("/tokenize", {"model": "nope", "prompt": "a"}, 404, "model_not_found", "model"),
        ("/tokenize", {"model": MINILM, "messages": MESSAGES}, 400, "model_not_supported", "model"),
    ],
)
async def test_bad_input_is_refused_naming_the_parameter(
    api: Client, org: Org, path: str, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    r = await api.post(path, key=org.key, json={"model": TINY, **body})
    r.expect_error(status, code, param)


async def test_large_prompts_are_bounded_by_the_body_limit(api: Client, org: Org) -> None:
    # The session's body limit is 64 KiB (tests/conftest.py): past it a 413 before parsing.
    r = await api.post("/tokenize", key=org.key, json={"model": TINY, "prompt": "word " * 20_000})
    r.expect_error(413)
    # Under it, a prompt larger than the inline threshold is tokenized (in a worker thread).
    out = await _tokenize(api, org, model=TINY, prompt="word " * 10_000)
    assert out["count"] >= 10_000
