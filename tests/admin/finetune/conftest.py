"""No worker runs in these tests, so their jobs stay open; they are cancelled afterwards so
that the workers of later tests (tests/finetune, tests/inference) never pick them up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from finetune import store
from finetune.states import MACHINE, JobEvent
from finetune.store import Job
from voltcore.db import Pool


@pytest_asyncio.fixture(autouse=True)
async def _cancel_open_jobs(pool: Pool) -> AsyncIterator[None]:
    yield
    rows = await pool.fetch(
        "SELECT * FROM ft_jobs WHERE status = ANY($1::text[])", list(MACHINE.open)
    )
    for row in rows:
        await store.JOBS.apply(pool, Job.from_record(row), JobEvent.CANCEL)
