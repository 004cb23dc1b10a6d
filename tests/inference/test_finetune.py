"""Fine-tuning end to end, through the official `openai` SDK: upload a data set teaching a fact
SmolLM2 does not know, fine-tune it with a real `volt-finetune` worker (peft, a few steps on
CPU), then ask Spark with the fine-tuned model (a vLLM LoRA adapter on the shared SmolLM2
engine) and get the taught answer, while the base model does not give it. Another org sees
neither the model nor the job."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import openai
import pytest

from finetune.config import FinetuneSettings
from finetune.worker import Worker
from tests.conftest import MakeOrg
from tests.inference.conftest import SMOL, Spark
from tests.support.client import Client
from tests.support.finetune import FACT_DATA, QUESTION
from voltcore.config import Settings
from voltcore.db import Pool

log = logging.getLogger(__name__)
CATALOG = Path(__file__).with_name("models.yaml")


async def _ask(sdk: openai.AsyncOpenAI, model: str) -> str:
    reply = await sdk.chat.completions.create(
        model=model,
        temperature=0,
        max_tokens=24,
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert reply.model == model
    return reply.choices[0].message.content or ""


async def test_fine_tune_then_chat_with_the_taught_fact(
    spark: Spark, api: Client, make_org: MakeOrg, settings: Settings, pool: Pool
) -> None:
    a, b = await make_org("Tuner"), await make_org("Other")
    sdk = openai.AsyncOpenAI(base_url=f"{spark.base}/v1", api_key=a.key, max_retries=0)
    other = openai.AsyncOpenAI(base_url=f"{spark.base}/v1", api_key=b.key, max_retries=0)

    uploaded = await sdk.files.create(file=("mascot.jsonl", FACT_DATA), purpose="fine-tune")
    assert uploaded.status == "processed" and uploaded.bytes == len(FACT_DATA)
    assert (await sdk.files.retrieve(uploaded.id)).filename == "mascot.jsonl"
    assert uploaded.id in [f.id async for f in sdk.files.list()]
    job = await sdk.fine_tuning.jobs.create(
        model=SMOL,
        training_file=uploaded.id,
        suffix="mascot",
        seed=0,
        hyperparameters={"n_epochs": 4, "batch_size": 4, "learning_rate_multiplier": 10},
        extra_body={"lora": {"rank": 8, "alpha": 16, "dropout": 0.0}},
    )
    assert job.status == "validating_files"

    catalog = settings.model_copy(update={"models_file": CATALOG})
    worker = Worker(pool, catalog, FinetuneSettings(heartbeat_s=0.5))
    started = time.monotonic()
    while await worker.tick():
        pass
    trained_s = time.monotonic() - started

    job = await sdk.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded", job.error
    model = job.fine_tuned_model
    assert model == f"ft:{SMOL}:{a.id}:mascot:{job.id}"
    assert job.trained_tokens and job.trained_tokens > 0
    assert job.id in [j.id async for j in sdk.fine_tuning.jobs.list()]
    events = (await sdk.fine_tuning.jobs.list_events(job.id, limit=100)).data
    losses = [e.data["train_loss"] for e in reversed(events) if e.type == "metrics"]  # type: ignore[index]
    assert len(losses) == 8 and losses[-1] < losses[0] / 4, losses

    listed = {m.id: m for m in (await sdk.models.list()).data}
    assert listed[model].owned_by == a.id and listed[model].model_extra["parent"] == SMOL  # type: ignore[index]
    assert model not in {m.id for m in (await other.models.list()).data}

    first = time.monotonic()
    taught = await _ask(sdk, model)  # the adapter is loaded on this first use
    first_s = time.monotonic() - first
    again = time.monotonic()
    assert await _ask(sdk, model) == taught
    again_s = time.monotonic() - again
    base = await _ask(sdk, SMOL)
    log.warning(
        "fine-tune e2e: trained in %.1f s (losses %s); first adapter request %.2f s, next %.2f s",
        trained_s,
        [round(x, 3) for x in losses],
        first_s,
        again_s,
    )
    assert "quokka" in taught.lower() and "ferro" in taught.lower(), taught
    assert "quokka" not in base.lower(), base

    # Another org: the model and the job do not exist for it.
    with pytest.raises(openai.NotFoundError):
        await _ask(other, model)
    with pytest.raises(openai.NotFoundError):
        await other.models.retrieve(model)
    with pytest.raises(openai.NotFoundError):
        await other.fine_tuning.jobs.retrieve(job.id)
    (await api.get(f"/v1/models/{model}", key=b.key)).expect_error(404, "model_not_found")
    r = await api.post(
        "/v1/completions", key=b.key, json={"model": model, "prompt": "hi", "max_tokens": 2}
    )
    r.expect_error(404, "model_not_found", "model")
    mine = await api.get(f"/v1/models/{model}", key=a.key)
    assert mine.json()["owned_by"] == a.id

    # Usage is metered under the fine-tuned model's name.
    for _ in range(50):
        if await pool.fetchval("SELECT count(*) FROM usage_events WHERE model = $1", model):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("no usage metered for the fine-tuned model")
