"""`volt-finetune` workers against the real database, artifact store and peft (on the tiny
model): validation, training with metrics events, registration, claims that never collide,
cancel during training, a killed worker's job retried by another, and failures as errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import orjson

from finetune import store
from finetune.plan import model_name
from tests.conftest import REPO, Org
from tests.finetune.conftest import TINY, MakeWorker, until_idle
from tests.support.client import Client
from tests.support.finetune import FACT_DATA, example, jsonl, upload
from voltcore.config import Settings
from voltcore.db import Pool

JOBS = "/v1/fine-tuning/jobs"


async def _job(api: Client, org: Org, data: bytes = FACT_DATA, **body: Any) -> dict[str, Any]:
    file_id = (await upload(api, org.key, data)).json()["id"]
    r = await api.post(JOBS, key=org.key, json={"model": TINY, "training_file": file_id, **body})
    assert r.status == 202, r.body
    return r.json()  # type: ignore[no-any-return]


async def _get(api: Client, org: Org, job_id: str) -> dict[str, Any]:
    return (await api.get(f"{JOBS}/{job_id}", key=org.key)).json()  # type: ignore[no-any-return]


async def _events(api: Client, org: Org, job_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"{JOBS}/{job_id}/events", key=org.key, params={"limit": 100})
    return list(reversed(r.json()["data"]))


async def test_a_job_trains_and_registers_its_model(
    ft_api: Client, org: Org, make_worker: MakeWorker, pool: Pool, settings: Settings
) -> None:
    job = await _job(
        ft_api,
        org,
        suffix="mascot",
        validation_file=(await upload(ft_api, org.key, FACT_DATA)).json()["id"],
        hyperparameters={"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 10},
    )
    worker = make_worker()
    assert await worker.validate_one()
    queued = await _get(ft_api, org, job["id"])
    assert queued["status"] == "queued"
    assert queued["hyperparameters"] == {
        "n_epochs": 3,
        "batch_size": 4,
        "learning_rate_multiplier": 10.0,
    }
    await until_idle(worker)

    done = await _get(ft_api, org, job["id"])
    expected = model_name(TINY, org.id, "mascot", job["id"])
    assert done["status"] == "succeeded", done
    assert done["fine_tuned_model"] == expected and done["error"] is None
    assert done["trained_tokens"] > 0 and done["finished_at"] >= done["created_at"]

    events = await _events(ft_api, org, job["id"])
    metrics = [e for e in events if e["type"] == "metrics"]
    assert [m["data"]["step"] for m in metrics] == list(range(1, 7))  # 3 epochs x 2 batches
    assert all(m["data"]["total_steps"] == 6 for m in metrics)
    assert all(isinstance(m["data"]["train_loss"], float) for m in metrics)
    assert [m["data"]["epoch"] for m in metrics if "valid_loss" in m["data"]] == [1, 2, 3]
    assert events[-1]["message"] == "The job has successfully completed."
    # No training text in any event.
    assert not any("quokka" in e["message"] for e in events)

    row = await pool.fetchrow("SELECT * FROM ft_models WHERE id = $1", expected)
    assert row["org_id"] == org.id and row["base_model"] == TINY
    adapter = settings.artifacts / row["adapter"]
    assert (adapter / "adapter_config.json").exists()
    assert (adapter / "adapter_model.safetensors").exists()
    config = orjson.loads((adapter / "adapter_config.json").read_bytes())
    assert config["r"] == 8 and sorted(config["target_modules"]) == [
        "k_proj",
        "o_proj",
        "q_proj",
        "v_proj",
    ]


async def test_concurrent_claims_never_take_the_same_job(
    ft_api: Client, org: Org, make_worker: MakeWorker, pool: Pool
) -> None:
    jobs = [await _job(ft_api, org) for _ in range(2)]
    validator = make_worker()
    while await validator.validate_one():
        pass
    claims = await asyncio.gather(*(store.claim(pool, f"w{i}") for i in range(6)))
    taken = [c for c in claims if c is not None]
    assert sorted(c.id for c in taken) == sorted(j["id"] for j in jobs)
    assert len({c.worker for c in taken}) == 2
    for c in taken:  # leave nothing running for the other tests' workers
        await ft_api.post(f"{JOBS}/{c.id}/cancel", key=org.key)


async def test_cancel_during_training_stops_it(
    ft_api: Client, org: Org, make_worker: MakeWorker, pool: Pool, settings: Settings
) -> None:
    job = await _job(ft_api, org, hyperparameters={"n_epochs": 50, "batch_size": 1})
    worker = make_worker()
    runner = asyncio.create_task(worker.run())
    try:
        while not any(e["type"] == "metrics" for e in await _events(ft_api, org, job["id"])):
            await asyncio.sleep(0.1)
        running = await _get(ft_api, org, job["id"])
        assert running["status"] == "running"
        assert running["estimated_finish"] is not None  # progress is visible
        r = await ft_api.post(f"{JOBS}/{job['id']}/cancel", key=org.key)
        assert r.json()["status"] == "cancelled"
        cancelled_at = time.monotonic()
        # The trainer notices within a heartbeat and stops at its next step.
        while await pool.fetchval(
            "SELECT count(*) FROM ft_jobs WHERE worker = $1 AND status = 'running'", worker.name
        ):
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        steps = len([e for e in await _events(ft_api, org, job["id"]) if e["type"] == "metrics"])
        await asyncio.sleep(1.0)
        later = len([e for e in await _events(ft_api, org, job["id"]) if e["type"] == "metrics"])
        assert later == steps < 400, "training went on after the cancel"
        assert time.monotonic() - cancelled_at < 10
    finally:
        worker.stop()
        await asyncio.wait_for(runner, 30)
    final = await _get(ft_api, org, job["id"])
    assert final["status"] == "cancelled" and final["fine_tuned_model"] is None
    assert await pool.fetchval("SELECT count(*) FROM ft_models WHERE job_id = $1", job["id"]) == 0
    assert not list((settings.artifacts / "adapters" / org.id).glob(f"*{job['id']}*"))


async def test_a_killed_worker_leaves_the_job_retryable(
    ft_api: Client,
    org: Org,
    make_worker: MakeWorker,
    settings: Settings,
    pg_uri: str,
    tiny_catalog: Any,
) -> None:
    job = await _job(ft_api, org, hyperparameters={"n_epochs": 10, "batch_size": 1})
    env = {
        **os.environ,
        "VOLT_DATABASE_URL": pg_uri,
        "VOLT_DATA_DIR": str(settings.data_dir),
        "VOLT_MODELS_FILE": str(tiny_catalog),
        "VOLT_FINETUNE_HEARTBEAT_S": "0.2",
        "VOLT_FINETUNE_POLL_S": "0.1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "finetune",
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(e["type"] == "metrics" for e in await _events(ft_api, org, job["id"])):
            assert proc.returncode is None, "the worker exited"
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)  # no chance to clean up: a crash, an OOM kill
        await proc.wait()
    stuck = await _get(ft_api, org, job["id"])
    assert stuck["status"] == "running"

    # Another worker notices the silence, queues the job again and finishes it.
    rescuer = make_worker()
    await asyncio.sleep(1.6)
    await until_idle(rescuer)
    done = await _get(ft_api, org, job["id"])
    assert done["status"] == "succeeded", done
    messages = [e["message"] for e in await _events(ft_api, org, job["id"])]
    assert any("stopped responding" in m for m in messages)
    assert sum(m.startswith("Fine-tuning started") for m in messages) == 2
    # The dead worker's half-written adapter is gone; the finished one is in place.
    folder = settings.artifacts / "adapters" / org.id
    assert [p.name for p in folder.iterdir() if job["id"] in p.name] == [job["id"]]


async def test_a_job_whose_worker_keeps_dying_fails(
    ft_api: Client, org: Org, make_worker: MakeWorker, pool: Pool
) -> None:
    job = await _job(ft_api, org)
    worker = make_worker(max_attempts=1)
    await worker.validate_one()
    claimed = await store.claim(pool, "doomed-worker")
    assert claimed is not None and claimed.id == job["id"]
    await asyncio.sleep(1.6)  # the claimer never heartbeats: it is as good as dead
    await worker.recover_lost()
    failed = await _get(ft_api, org, job["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "worker_lost"


async def test_files_that_do_not_fit_the_model_fail_validation(
    ft_api: Client, org: Org, make_worker: MakeWorker
) -> None:
    long = jsonl([example("q", "a"), example("word " * 300, "a")])
    job = await _job(ft_api, org, data=long)
    await make_worker().validate_one()
    failed = await _get(ft_api, org, job["id"])
    assert failed["status"] == "failed" and failed["finished_at"] is not None
    error = failed["error"]
    assert error["code"] == "example_too_long" and error["param"] == "training_file"
    assert error["message"].startswith("line 2:") and "128" in error["message"]
    events = await _events(ft_api, org, job["id"])
    assert events[-1]["level"] == "error"
