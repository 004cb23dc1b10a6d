"""The fine-tuning pages in Chromium: jobs with their status and progress, and a job's loss
curve, whose points are the `metrics` events `GET /v1/fine_tuning/jobs/{id}/events` returns.
A training run is expensive, so the jobs are driven through the store functions the API and
the workers use (insert, validated, claimed, per-step metrics as the worker batches them)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser

from finetune import store
from finetune.states import JobEvent
from finetune.store import Job
from tests.admin.console.conftest import ConsoleService, get, points, signed_in_page
from tests.conftest import Org
from voltcore.db import Pool

TOTAL_STEPS = 20


async def running_job(db: Pool, org: Org, losses: list[float]) -> Job:
    """A job a worker has claimed and reported `len(losses)` steps of (a validation loss
    every other step), as finetune/worker.py records them."""
    job = await store.insert_job(
        db,
        org.id,
        store.new_job_id(),
        model="smollm2",
        training_file="file-x",
        validation_file="file-v",
        hyperparameters={"n_epochs": 1, "batch_size": 1, "learning_rate_multiplier": 1.0},
        lora={"rank": 8},
        suffix=None,
        seed=7,
    )
    await store.add_event(db, job, "Validating training file: file-x")
    job = await store.JOBS.apply(db, job, JobEvent.VALIDATED)
    claimed = await store.claim(db, "console-test")
    assert claimed is not None and claimed.id == job.id
    events = []
    for i, loss in enumerate(losses, start=1):
        data: dict[str, Any] = {
            "step": i,
            "total_steps": TOTAL_STEPS,
            "epoch": 1,
            "train_loss": loss,
            "trained_tokens": 100 * i,
        }
        if i % 2 == 0:
            data["valid_loss"] = round(loss + 0.25, 6)
        events.append(("info", "metrics", f"Step {i}/{TOTAL_STEPS}", data))
    await store.add_events(db, claimed, events)
    return claimed


async def api_metrics(svc: ConsoleService, org: Org, job_id: str) -> list[dict[str, Any]]:
    """The job's metrics events through the API, paged, oldest first."""
    path = f"/v1/fine_tuning/jobs/{job_id}/events"
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 3}  # small pages: the paging is part of what is read
    while True:
        page = await get(svc, org, path, **params)
        seen += page["data"]
        if not page["has_more"]:
            break
        params["after"] = page["last_id"]
    return [e["data"] for e in reversed(seen) if e["type"] == "metrics"]


async def test_loss_curve_is_the_jobs_metrics(chromium: Browser, console: ConsoleService) -> None:
    a, b, db = console.a, console.b, console.pool
    losses = [2.5, 2.1, 1.75, 1.5, 1.3125, 1.2, 1.1]
    mine = await running_job(db, a, losses)
    theirs = await running_job(db, b, [3.0, 2.0])

    page = await signed_in_page(chromium, console, a)
    await page.click("#nav-jobs")
    jobs = await page.text_content("#jobs") or ""
    assert mine.id in jobs and "running" in jobs and f"step 7/{TOTAL_STEPS}" in jobs
    assert theirs.id not in jobs
    assert await page.get_attribute("#jobs progress", "value") == "7"
    assert await page.get_attribute("#jobs progress", "max") == str(TOTAL_STEPS)

    await page.click(f"a[href='/console/jobs/{mine.id}']")
    assert await page.text_content("#job-id") == mine.id
    metrics = await api_metrics(console, a, mine.id)
    assert [m["step"] for m in metrics] == list(range(1, 8))
    drawn = await points(page, "#chart-loss")
    assert [(x, y) for s, x, y in drawn if s == "train_loss"] == [
        (m["step"], m["train_loss"]) for m in metrics
    ]
    assert [(x, y) for s, x, y in drawn if s == "valid_loss"] == [
        (m["step"], m["valid_loss"]) for m in metrics if "valid_loss" in m
    ]
    assert len(drawn) == 7 + 3
    hover = await page.locator("#chart-loss circle.point title").first.text_content()
    assert hover == "step 1: train_loss 2.5"

    # Another org's job id is a 404 page, with nothing of the job on it.
    response = await page.goto(f"{console.base}/console/jobs/{theirs.id}")
    assert response is not None and response.status == 404
    assert await page.locator("#chart-loss").count() == 0
    assert "smollm2" not in (await page.text_content("main") or "")
    await page.context.close()

    page = await signed_in_page(chromium, console, b)
    response = await page.goto(f"{console.base}/console/jobs/{mine.id}")
    assert response is not None and response.status == 404
    await page.goto(f"{console.base}/console/jobs")
    assert mine.id not in (await page.text_content("#jobs") or "")
    await page.context.close()


async def test_a_job_without_steps_says_so(chromium: Browser, console: ConsoleService) -> None:
    job = await store.insert_job(
        console.pool,
        console.a.id,
        store.new_job_id(),
        model="smollm2",
        training_file="file-x",
        validation_file=None,
        hyperparameters={},
        lora={},
        suffix=None,
        seed=1,
    )
    page = await signed_in_page(chromium, console, console.a)
    await page.goto(f"{console.base}/console/jobs/{job.id}")
    assert await page.locator("#no-metrics").count() == 1
    assert "validating_files" in (await page.text_content("#job") or "")
    await page.context.close()
