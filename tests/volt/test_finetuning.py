"""Files and fine-tuning jobs through the SDK and the CLI against the live admin service, with
a real `volt-finetune` worker training LoRA adapters on the random-weight tiny model (a
fraction of a second a step)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from admin.app import install as install_admin
from finetune.config import FinetuneSettings
from finetune.worker import Worker
from tests.conftest import MakeOrg, Org, serve
from tests.support.finetune import FACT_DATA
from tests.volt.conftest import RunVolt, sync
from volt import AsyncVolt, BadRequestError, NotFoundError, UnexpectedStatusError, Volt
from volt.types import FineTuningJob
from voltcore.config import Settings
from voltcore.db import Pool
from voltcore.service import base_app

TINY = "volt-tiny"


@pytest.fixture(scope="module")
def ft_settings() -> FinetuneSettings:
    return FinetuneSettings(heartbeat_s=0.2, poll_s=0.1, max_seq_len=128)


@pytest.fixture(scope="module")
def ft_app_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session's settings with a tiny-model catalog, for admin and the worker alike."""
    catalog = tmp_path_factory.mktemp("catalog") / "models.yaml"
    catalog.write_text(
        "models:\n"
        f"  - {{id: {TINY}, kind: chat, path: volt-tiny, tiers: [standard], max_model_len: 256,\n"
        "     max_loras: 1}\n"
    )
    return settings.model_copy(update={"models_file": catalog})


@pytest_asyncio.fixture(scope="module")
async def ft_base(ft_app_settings: Settings, ft_settings: FinetuneSettings) -> AsyncIterator[str]:
    app = base_app(ft_app_settings)
    install_admin(app, finetune_settings=ft_settings)
    runner, base = await serve(app)
    yield base
    await runner.cleanup()


async def train(pool: Pool, settings: Settings, ft_settings: FinetuneSettings) -> None:
    """A worker that runs until nothing is left to do."""
    worker = Worker(pool, settings, ft_settings)
    for _ in range(50):
        if not await worker.tick():
            return
    raise AssertionError("the worker never ran out of work")


async def test_files_and_jobs(
    ft_base: str,
    org: Org,
    pool: Pool,
    ft_app_settings: Settings,
    ft_settings: FinetuneSettings,
    tmp_path: Path,
) -> None:
    data = tmp_path / "mascot.jsonl"
    data.write_bytes(FACT_DATA)
    async with AsyncVolt(base_url=ft_base, api_key=org.key) as client:
        uploaded = await client.files.create(file=data)
        assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == (
            "mascot.jsonl",
            len(FACT_DATA),
            "fine-tune",
        )
        spare = await client.files.create(file=FACT_DATA, filename="spare.jsonl")
        assert (await client.files.retrieve(uploaded.id)).id == uploaded.id
        assert [f.id async for f in client.files.list(limit=1)] == [spare.id, uploaded.id]
        deleted = await client.files.delete(spare.id)
        assert deleted.deleted and deleted.id == spare.id
        with pytest.raises(NotFoundError):
            await client.files.retrieve(spare.id)

        job = await client.fine_tuning.jobs.create(
            model=TINY,
            training_file=uploaded.id,
            suffix="sdk",
            hyperparameters={"n_epochs": 1, "batch_size": 4},
            lora={"rank": 4, "alpha": 8},
            idempotency_key="ft-sdk-1",
        )
        assert isinstance(job, FineTuningJob) and job.status == "validating_files"
        again = await client.fine_tuning.jobs.create(
            model=TINY,
            training_file=uploaded.id,
            suffix="sdk",
            hyperparameters={"n_epochs": 1, "batch_size": 4},
            lora={"rank": 4, "alpha": 8},
            idempotency_key="ft-sdk-1",
        )
        assert again.id == job.id
        doomed = await client.fine_tuning.jobs.create(model=TINY, training_file=uploaded.id)
        cancelled = await client.fine_tuning.jobs.cancel(doomed.id)
        assert cancelled.status == "cancelled"
        with pytest.raises(UnexpectedStatusError) as never:
            await client.fine_tuning.jobs.wait(doomed.id, until="succeeded", poll_interval=0.1)
        assert never.value.status == "cancelled" and never.value.resource.id == doomed.id

        await train(pool, ft_app_settings, ft_settings)
        done = await client.fine_tuning.jobs.wait(job.id, poll_interval=0.1, timeout=30)
        assert done.status == "succeeded", done.error
        assert done.fine_tuned_model == f"ft:{TINY}:{org.id}:sdk:{job.id}"
        assert done.lora is not None and done.lora.rank == 4
        page = await client.fine_tuning.jobs.list(limit=1)
        assert [j.id for j in page.data] == [doomed.id] and page.has_more
        events = [e async for e in client.fine_tuning.jobs.list_events(job.id, limit=2)]
        assert events[0].message == "The job has successfully completed."
        metrics = [e for e in events if e.type == "metrics"]
        assert metrics and all(isinstance(e.data, dict) and "train_loss" in e.data for e in metrics)

    with Volt(base_url=ft_base, api_key=org.key) as sync_client:
        jobs = await sync(lambda: [j.id for j in sync_client.fine_tuning.jobs.list()])
    assert jobs == [doomed.id, job.id]


async def test_file_content_and_method(ft_base: str, make_org: MakeOrg) -> None:
    org, stranger = await make_org("Owner"), await make_org("Stranger")
    data = FACT_DATA.replace(b"\n", b"\r\n").rstrip()  # byte-exact, whatever the line ends
    async with AsyncVolt(base_url=ft_base, api_key=org.key) as client:
        uploaded = await client.files.create(file=data, filename="crlf.jsonl")
        content = await client.files.content(uploaded.id)
        assert isinstance(content, bytes) and content == data
        job = await client.fine_tuning.jobs.create(
            model=TINY,
            training_file=uploaded.id,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        )
        assert job.method is not None and job.method.type == "supervised"
        assert job.method.supervised is not None and job.method.supervised.hyperparameters
        assert job.method.supervised.hyperparameters.n_epochs == 2
        assert job.hyperparameters is not None and job.hyperparameters.n_epochs == 2
        with pytest.raises(BadRequestError) as both:
            await client.fine_tuning.jobs.create(
                model=TINY,
                training_file=uploaded.id,
                hyperparameters={"n_epochs": 1},
                method={"type": "supervised", "supervised": {"hyperparameters": {}}},
            )
        assert both.value.param == "hyperparameters"
        # No worker should train it in a later test.
        assert (await client.fine_tuning.jobs.cancel(job.id)).status == "cancelled"
    with Volt(base_url=ft_base, api_key=org.key) as sync_client:
        assert await sync(lambda: sync_client.files.content(uploaded.id)) == data
    async with AsyncVolt(base_url=ft_base, api_key=stranger.key) as other:
        with pytest.raises(NotFoundError) as theirs:
            await other.files.content(uploaded.id)
    assert theirs.value.param == "file_id"


async def test_cli_trains_with_progress(
    ft_base: str,
    org: Org,
    pool: Pool,
    ft_app_settings: Settings,
    ft_settings: FinetuneSettings,
    run_volt: RunVolt,
    tmp_path: Path,
) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(FACT_DATA)
    args = ["finetune", "create", "--model", TINY, "--training-file", str(data), "--suffix", "cli"]
    args += ["--epochs", "1", "--wait", "--poll-interval", "0.2", "--json"]
    creating = asyncio.create_task(run_volt(*args, base=ft_base, key=org.key))
    async with asyncio.timeout(60):
        while not await pool.fetchval("SELECT count(*) FROM ft_jobs WHERE org_id = $1", org.id):
            await asyncio.sleep(0.1)
    await train(pool, ft_app_settings, ft_settings)
    created = await creating
    job = created.json()
    assert job["status"] == "succeeded" and job["fine_tuned_model"].endswith(f":cli:{job['id']}")
    assert f"Uploaded {data} as file-" in created.stderr
    mine = [line for line in created.stderr.splitlines() if line.startswith(job["id"])]
    progress = [line.split(": ")[1].split()[0] for line in mine]
    assert progress[0] == "validating_files" and progress[-1] == "succeeded"

    listed = (await run_volt("finetune", "list", "--json", base=ft_base, key=org.key)).json()
    assert [j["id"] for j in listed] == [job["id"]]
    log = await run_volt("finetune", "events", job["id"], base=ft_base, key=org.key)
    assert log.code == 0
    lines = log.stdout.splitlines()
    assert lines[0].split() == ["TIME", "LEVEL", "MESSAGE"]
    assert lines[-1].endswith("The job has successfully completed.")
    table = await run_volt("finetune", "get", job["id"], base=ft_base, key=org.key)
    assert "succeeded" in table.stdout and job["fine_tuned_model"] in table.stdout
