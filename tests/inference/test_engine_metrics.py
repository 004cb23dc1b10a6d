"""vLLM's own engine metrics on Spark's `/metrics`, beside `volt_spark_*`: one family per
metric with every engine's samples (told apart by `model_name`), and nothing whose label values
the catalog does not bound."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Org
from tests.inference.conftest import MINILM, SMOL, TINY
from tests.support.client import Client

ENGINE_FAMILIES = {
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
    "vllm:kv_cache_usage_perc",
    "vllm:num_preemptions",
    "vllm:prompt_tokens",
    "vllm:generation_tokens",
    "vllm:request_success",
    "vllm:time_to_first_token_seconds",
    "vllm:e2e_request_latency_seconds",
    "vllm:request_queue_time_seconds",
}


async def _scrape(api: Client) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    text = (await api.get("/metrics")).body.decode()
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(names) == len(set(names)), "a family is exported twice"
    return {
        family.name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def _value(families: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]], name: str,
           sample: str, model: str) -> float:  # fmt: skip
    return sum(
        v
        for (n, labels), v in families[name].items()
        if n == sample and ("model_name", model) in labels
    )


async def test_vllm_engine_metrics_beside_spark_metrics(api: Client, org: Org) -> None:
    before = await _scrape(api)
    r = await api.post(
        "/v1/chat/completions",
        key=org.key,
        json={"model": SMOL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
              "ignore_eos": True},
    )  # fmt: skip
    assert r.status == 200, r.body
    # vLLM records a step's stats as its outputs are handled: give the last step a moment.
    for _ in range(50):
        after = await _scrape(api)
        grown = _value(after, "vllm:generation_tokens", "vllm:generation_tokens_total", SMOL)
        if (
            grown
            >= _value(before, "vllm:generation_tokens", "vllm:generation_tokens_total", SMOL) + 8
        ):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("vllm:generation_tokens did not count the request")

    assert set(after) >= ENGINE_FAMILIES, ENGINE_FAMILIES - set(after)
    assert {"volt_spark_requests", "volt_spark_inflight_requests"} <= set(after)
    # Every engine's gauges in the one family, labelled with the catalog's model id.
    for model in (TINY, SMOL, MINILM):
        for family in ("vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"):
            assert any(("model_name", model) in labels for _, labels in after[family]), (
                family,
                model,
            )
    kv = _value(after, "vllm:kv_cache_usage_perc", "vllm:kv_cache_usage_perc", SMOL)
    assert 0 <= kv <= 1
    assert _value(after, "vllm:num_requests_waiting", "vllm:num_requests_waiting", SMOL) >= 0
    # Label values stay bounded: model ids from the catalog, never an adapter's (org's) name.
    assert "vllm:lora_requests_info" not in after
    models = {
        dict(labels).get("model_name")
        for family, samples in after.items()
        if family.startswith("vllm:")
        for _, labels in samples
    }
    assert models <= {TINY, SMOL, MINILM, None}, models
