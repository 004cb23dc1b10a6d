"""Metering cost: Volt's batched COPY usage writer against one INSERT per request (what a
naive implementation does), on the embedded PostgreSQL. Writes the ratio to RESULTS.md.

Usage: `.venv/bin/python -m benchmarks.usage_writer [--events 20000]`
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path

from benchmarks.results import write_section
from voltcore.db import EmbeddedPostgres, create_pool, migrate
from voltcore.metrics import Metrics
from voltcore.usage import UsageEvent, UsageWriter


def events(n: int) -> list[UsageEvent]:
    now = dt.datetime.now(dt.UTC)
    return [
        UsageEvent(now, "org_b", "key_b", "smollm2", "/v1/chat/completions", i, 20, 0)
        for i in range(n)
    ]


async def run(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pg = await EmbeddedPostgres.start(Path(tmp) / "pg")
        pool = await create_pool(pg.uri, max_size=8)
        await migrate(pool)
        try:
            batch = events(n)
            started = time.perf_counter()

            async def insert_one(e: UsageEvent) -> None:
                await pool.execute(
                    """INSERT INTO usage_events (time, org_id, api_key_id, model, endpoint,
                       prompt_tokens, completion_tokens, cached_tokens, requests)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                    e.time,
                    e.org_id,
                    e.api_key_id,
                    e.model,
                    e.endpoint,
                    e.prompt_tokens,
                    e.completion_tokens,
                    e.cached_tokens,
                    e.requests,
                )

            sem = asyncio.Semaphore(8)  # as 8 concurrent request handlers would

            async def bounded(e: UsageEvent) -> None:
                async with sem:
                    await insert_one(e)

            await asyncio.gather(*(bounded(e) for e in batch))
            naive = n / (time.perf_counter() - started)
            print(f"per-request INSERT: {naive:,.0f} events/s", flush=True)

            writer = UsageWriter(pool, Metrics("bench"), batch_size=500)
            started = time.perf_counter()
            for e in batch:
                writer.add(e)
            while writer.pending:
                await writer.flush()
            batched = n / (time.perf_counter() - started)
            print(f"batched COPY writer: {batched:,.0f} events/s", flush=True)
            assert await pool.fetchval("SELECT count(*) FROM usage_events") == 2 * n
        finally:
            await pool.close()
            await pg.stop()
    return {"naive": naive, "batched": batched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    r = asyncio.run(run(args.events))
    ratio = r["batched"] / r["naive"]
    write_section(
        "usage_writer",
        f"""## Usage metering: batched COPY writer vs one INSERT per request

{args.events} usage events into the embedded PostgreSQL 16 (pgserver), 2 cores.
The anchor is the naive design: each request handler INSERTs its own row (8 concurrent).

| writer | events/s | ratio |
|---|---|---|
| one INSERT per request (anchor) | {r["naive"]:,.0f} | 1.00 |
| Volt `UsageWriter` (COPY, batches of 500) | {r["batched"]:,.0f} | {ratio:.1f}x |

The request path only appends to an in-memory buffer (no database round trip at all).
""",
    )


if __name__ == "__main__":
    main()
