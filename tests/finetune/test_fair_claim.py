"""Job claiming is fair across orgs, against real Postgres: an org that queues a thousand jobs
first does not hold another org's first job behind them, whether workers run many jobs at once
or one after another, and concurrent claims still never take the same job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from admin.bootstrap import bootstrap_org
from finetune import store
from finetune.states import JobEvent
from finetune.store import Job
from voltcore.db import Pool, create_pool


@pytest_asyncio.fixture
async def db(fresh_db: tuple[str, Pool]) -> AsyncIterator[Pool]:
    """A database of its own (no other test's queued jobs), with room for concurrent claims."""
    p = await create_pool(fresh_db[0], max_size=8)
    yield p
    await p.close()


async def _org(db: Pool, name: str) -> str:
    b = await bootstrap_org(
        db, name=name, tier="standard", metro="fra1", admin_email="a@x.example", trust_domain="t"
    )
    return b.org_id


async def _queue(db: Pool, org_id: str, n: int, *, age_s: float) -> None:
    """`n` queued jobs, the first created `age_s` ago, one a millisecond after another."""
    await db.execute(
        """INSERT INTO ft_jobs (id, org_id, model, training_file, hyperparameters, lora, seed,
                                status, created_at)
           SELECT 'ftjob-' || $1 || '-' || i, $1, 'volt-tiny', 'file-x', '{}', '{}', 0,
                  'queued', now() - make_interval(secs => $3) + i * interval '1 ms'
           FROM generate_series(1, $2) AS i""",
        org_id,
        n,
        age_s,
    )


async def test_one_orgs_thousand_jobs_do_not_hold_back_anothers_first(db: Pool) -> None:
    a, b = await _org(db, "A"), await _org(db, "B")
    await _queue(db, a, 1000, age_s=3600)  # long before B's job
    await _queue(db, b, 1, age_s=0)
    # Many workers: every claimed job keeps running. A's first job went first (it waited
    # longest), then B has fewer running jobs than A.
    first = [await store.claim(db, f"w{i}") for i in range(2)]
    assert [j.org_id for j in first if j is not None] == [a, b]


async def test_round_robin_when_each_job_ends_before_the_next_claim(db: Pool) -> None:
    a, b, c = await _org(db, "A"), await _org(db, "B"), await _org(db, "C")
    await _queue(db, a, 1000, age_s=3600)
    await _queue(db, b, 3, age_s=60)
    await _queue(db, c, 3, age_s=0)
    # One worker: no org has a running job at claim time, so turns decide.
    order = []
    for _ in range(9):
        job = await store.claim(db, "w")
        assert job is not None
        order.append(job.org_id)
        await store.JOBS.apply(db, job, JobEvent.SUCCEED)
    assert order == [a, b, c] * 3
    # B and C are done; A's queue drains on.
    assert (await _claimed(db)).org_id == a


async def _claimed(db: Pool) -> Job:
    job = await store.claim(db, "w")
    assert job is not None
    return job


async def test_concurrent_claims_are_fair_and_never_share_a_job(db: Pool) -> None:
    a, b = await _org(db, "A"), await _org(db, "B")
    await _queue(db, a, 1000, age_s=3600)
    await _queue(db, b, 1, age_s=0)
    jobs = await asyncio.gather(*(store.claim(db, f"w{i}") for i in range(8)))
    claimed = [j for j in jobs if j is not None]
    assert len(claimed) == 8 and len({j.id for j in claimed}) == 8
    assert sum(j.org_id == b for j in claimed) == 1
    running = await db.fetchval("SELECT count(*) FROM ft_jobs WHERE status = 'running'")
    assert running == 8
