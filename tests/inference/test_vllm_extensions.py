"""vLLM's request extensions for load testers and tooling, on chat and completions against real
engines: `ignore_eos` (fixed-length runs), `min_tokens`, `stop_token_ids`, and
`stream_options.continuous_usage_stats` (usage on every chunk)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Org
from tests.inference.conftest import SMOL, TINY, Spark
from tests.support.client import Client

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
# SmolLM2's own turn format, so that a plain completion ends with its end token as chat does.
CHATML = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


def _ask(content: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}]}


async def _post(api: Client, org: Org, path: str, **body: Any) -> dict[str, Any]:
    r = await api.post(path, key=org.key, json=body)
    assert r.status == 200, r.body
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "body"),
    [(CHAT, _ask("Say hi.")), (COMPLETIONS, {"prompt": CHATML.format("Say hi.")})],
)
async def test_ignore_eos_runs_to_exactly_max_tokens(
    api: Client, org: Org, path: str, body: dict[str, Any]
) -> None:
    plain = await _post(api, org, path, model=SMOL, temperature=0, max_tokens=48, **body)
    # The model would stop early on its own ...
    assert plain["usage"]["completion_tokens"] < 48
    assert plain["choices"][0]["finish_reason"] == "stop"
    # ... and with ignore_eos runs the full length, as a fixed-length benchmark needs (n > 1
    # samples: the model's default temperature, since vLLM refuses n > 1 when greedy).
    for n, sampling in ((1, {"temperature": 0}), (2, {})):
        out = await _post(
            api, org, path, model=SMOL, max_tokens=48, ignore_eos=True, n=n, **sampling, **body
        )
        assert out["usage"]["completion_tokens"] == 48 * n
        assert {c["finish_reason"] for c in out["choices"]} == {"length"}


async def test_min_tokens_holds_the_end_back(api: Client, org: Org) -> None:
    body = {
        "model": SMOL,
        "temperature": 0,
        "max_tokens": 64,
        **_ask("Is the sky blue? Yes or no."),
    }
    short = await _post(api, org, CHAT, **body)
    assert short["usage"]["completion_tokens"] < 30
    held = await _post(api, org, CHAT, **body, min_tokens=30)
    assert held["usage"]["completion_tokens"] >= 30
    done = await _post(api, org, COMPLETIONS, model=TINY, prompt="Go", max_tokens=20, min_tokens=20)
    assert done["usage"]["completion_tokens"] == 20


async def test_stop_token_ids_end_the_answer(api: Client, org: Org, spark: Spark) -> None:
    body = {
        "model": SMOL,
        "temperature": 0,
        "max_tokens": 24,
        **_ask("What is the capital of France?"),
    }
    answer = (await _post(api, org, CHAT, **body))["choices"][0]["message"]["content"]
    assert "Paris" in answer
    tokenizer = spark.engine(SMOL).tokenizer
    ids = tokenizer.encode(answer, add_special_tokens=False)
    at = next(i for i in range(len(ids)) if "Paris" in tokenizer.decode(ids[: i + 1]))
    out = await _post(api, org, CHAT, **body, stop_token_ids=[ids[at]])
    choice = out["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "Paris" not in choice["message"]["content"]
    assert answer.startswith(choice["message"]["content"])
    assert out["usage"]["completion_tokens"] == at + 1  # the stop token was generated
    done = await _post(
        api, org, COMPLETIONS, model=SMOL, prompt=answer[:10], max_tokens=16, temperature=0,
        stop_token_ids=[ids[at]],
    )  # fmt: skip
    assert done["choices"][0]["finish_reason"] in ("stop", "length")


@pytest.mark.parametrize("path", [CHAT, COMPLETIONS])
async def test_extensions_are_validated_naming_the_parameter(
    api: Client, org: Org, spark: Spark, path: str
) -> None:
    body = {"model": TINY, **(_ask("hi") if path == CHAT else {"prompt": "hi"})}
    vocab = len(spark.engine(TINY).tokenizer)
    r = await api.post(path, key=org.key, json={**body, "max_tokens": 5, "min_tokens": 6})
    assert "max_tokens" in r.expect_error(400, "invalid_value", "min_tokens")["message"]
    r = await api.post(path, key=org.key, json={**body, "stop_token_ids": [2, vocab]})
    r.expect_error(400, "invalid_value", "stop_token_ids[1]")
    r = await api.post(path, key=org.key, json={**body, "stop_token_ids": [-1]})
    r.expect_error(400)
    r = await api.post(path, key=org.key, json={**body, "ignore_eos": "sometimes"})
    r.expect_error(400)
    # vLLM's own rules across fields are 400s naming the field too, never a 500.
    r = await api.post(path, key=org.key, json={**body, "n": 2, "temperature": 0})
    r.expect_error(400, "invalid_value", "n")


def _usage_series(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert all(e["usage"] is not None for e in events), [e.get("usage") for e in events]
    return [e["usage"] for e in events]


@pytest.mark.parametrize(
    ("path", "body"), [(CHAT, _ask("Count to five.")), (COMPLETIONS, {"prompt": "One, two,"})]
)
async def test_continuous_usage_stats_put_usage_on_every_chunk(
    api: Client, org: Org, path: str, body: dict[str, Any]
) -> None:
    request = {"model": TINY, "max_tokens": 12, "ignore_eos": True, "stream": True, **body}
    r = await api.post(
        path,
        key=org.key,
        json={**request, "stream_options": {"include_usage": True, "continuous_usage_stats": True}},
    )
    assert r.status == 200, r.body
    events = r.events()
    usage = _usage_series(events)
    prompt = usage[-1]["prompt_tokens"]
    assert prompt > 0 and {u["prompt_tokens"] for u in usage} == {prompt}
    completion = [u["completion_tokens"] for u in usage]
    assert completion == sorted(completion) and completion[-1] == 12
    assert len(set(completion)) > 2  # it rises chunk by chunk, not only at the end
    assert all(u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] for u in usage)
    assert events[-1]["choices"] == [] and events[-1]["usage"]["prompt_tokens_details"] is not None

    # Without it, usage stays on the final chunk only (OpenAI's shape); and like vLLM, the
    # extension needs include_usage.
    r = await api.post(
        path, key=org.key, json={**request, "stream_options": {"include_usage": True}}
    )
    assert [e["usage"] is None for e in r.events()][:-1] == [True] * (len(r.events()) - 1)
    r = await api.post(
        path, key=org.key, json={**request, "stream_options": {"continuous_usage_stats": True}}
    )
    assert all("usage" not in e for e in r.events())
