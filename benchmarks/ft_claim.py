"""Fine-tuning job claims: Volt's fair claim (fewest running, least recently served org first)
against first-come-first-served (`ORDER BY created_at` with `SKIP LOCKED`, the claim before it),
on the embedded PostgreSQL. Measures how many claims pass before a second org's only job is
taken when another org queued a thousand first, and what one claim costs. Writes RESULTS.md.

Usage: `.venv/bin/python -m benchmarks.ft_claim [--orgs 100 --jobs 10]`
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.results import write_section
from finetune import store
from finetune.states import JobState
from voltcore.db import Conn, EmbeddedPostgres, Pool, create_pool, migrate


async def _fifo(conn: Conn, state: JobState) -> store.Job | None:
    row = await conn.fetchrow(
        """SELECT * FROM ft_jobs WHERE status = $1 ORDER BY created_at, id
           LIMIT 1 FOR UPDATE SKIP LOCKED""",
        state.value,
    )
    return None if row is None else store.Job.from_record(row)


async def _orgs(pool: Pool, n: int) -> list[str]:
    ids = [f"org_bench_{i}" for i in range(n)]
    await pool.executemany(
        "INSERT INTO orgs (id, name, tier, home_metro) VALUES ($1, $1, 'standard', 'fra1')",
        [(i,) for i in ids],
    )
    return ids


async def _queue(pool: Pool, org_id: str, n: int, age_s: float) -> None:
    await pool.execute(
        """INSERT INTO ft_jobs (id, org_id, model, training_file, hyperparameters, lora, seed,
                                status, created_at)
           SELECT 'ftjob-' || $1 || '-' || i, $1, 'm', 'f', '{}', '{}', 0, 'queued',
                  now() - make_interval(secs => $3) + i * interval '1 ms'
           FROM generate_series(1, $2) AS i""",
        org_id,
        n,
        age_s,
    )


async def _reset(pool: Pool) -> None:
    await pool.execute("TRUNCATE ft_org_turns, ft_events, ft_models, ft_jobs")


async def _claims_until_second_org(pool: Pool, orgs: list[str]) -> int:
    await _reset(pool)
    await _queue(pool, orgs[0], 1000, 3600)
    await _queue(pool, orgs[1], 1, 0)
    for n in range(1, 1002):
        job = await store.claim(pool, "bench")
        assert job is not None
        # One worker: each job ends before the next claim.
        await pool.execute("UPDATE ft_jobs SET status = 'succeeded' WHERE id = $1", job.id)
        if job.org_id == orgs[1]:
            return n
    raise AssertionError("never claimed")


async def _claim_ms(pool: Pool, orgs: list[str], per_org: int, claims: int) -> float:
    await _reset(pool)
    for org_id in orgs:
        await _queue(pool, org_id, per_org, 600)
    started = time.perf_counter()
    for _ in range(claims):
        assert await store.claim(pool, "bench") is not None
    return (time.perf_counter() - started) * 1000 / claims


async def run(n_orgs: int, per_org: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pg = await EmbeddedPostgres.start(Path(tmp) / "pg")
        pool = await create_pool(pg.uri, max_size=4)
        await migrate(pool)
        fair_lock = store.lock_next
        try:
            orgs = await _orgs(pool, max(n_orgs, 2))
            out: dict[str, float] = {"fair_wait": await _claims_until_second_org(pool, orgs)}
            claims = min(200, n_orgs * per_org)
            out["fair_ms"] = await _claim_ms(pool, orgs[:n_orgs], per_org, claims)
            store.lock_next = _fifo
            out["fifo_wait"] = await _claims_until_second_org(pool, orgs)
            out["fifo_ms"] = await _claim_ms(pool, orgs[:n_orgs], per_org, claims)
        finally:
            store.lock_next = fair_lock
            await pool.close()
            await pg.stop()
    for k, v in out.items():
        print(f"{k}: {v:,.2f}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    r = asyncio.run(run(args.orgs, args.jobs))
    write_section(
        "ft_claim",
        f"""## Fine-tuning claims: fair across orgs vs first come, first served

Org A queues 1000 jobs, then org B queues one; one worker claims, each job ending before the
next claim. Then the cost of one claim (claim transaction, sequential) with {args.orgs} orgs
of {args.jobs} queued jobs each, on the embedded PostgreSQL 16 (pgserver).

| claim | claims until B's first job | ms per claim |
|---|---|---|
| `ORDER BY created_at` (anchor) | {r["fifo_wait"]:,.0f} | {r["fifo_ms"]:.2f} |
| Volt fair claim | {r["fair_wait"]:,.0f} | {r["fair_ms"]:.2f} |

The fair claim ranks the orgs with open jobs on each claim, so its cost grows with the open
jobs in the table; `max_org_unfinished_jobs` bounds those per org.
""",
    )


if __name__ == "__main__":
    main()
