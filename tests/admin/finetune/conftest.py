"""No worker runs in these tests, so their jobs stay open; they are cancelled afterwards so
that the workers of later tests (tests/finetune, tests/inference) never pick them up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from admin.finetune import store
from admin.finetune.states import OPEN, JobEvent
from voltcore.db import Pool


@pytest_asyncio.fixture(autouse=True)
async def _cancel_open_jobs(pool: Pool) -> AsyncIterator[None]:
    yield
    for job in await pool.fetch("SELECT * FROM ft_jobs WHERE status = ANY($1::text[])", list(OPEN)):
        await store.apply(pool, job, JobEvent.CANCEL)
