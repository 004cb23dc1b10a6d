"""Batched writers keep events through a database restart, bound their buffer (counting what
they drop) and flush on close."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from voltcore.db import EmbeddedPostgres, Pool, create_pool, migrate
from voltcore.metrics import Metrics
from voltcore.usage import UsageEvent, UsageWriter


def event(i: int) -> UsageEvent:
    return UsageEvent(dt.datetime.now(dt.UTC), "org_w", None, "m", "/v1/completions", i, 1)


def sample(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name, {"writer": "usage"})
    return value or 0.0


async def wait_until_drained(writer: UsageWriter, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while writer.pending:
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_events_survive_a_database_restart(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    pg = await EmbeddedPostgres.start(pgdata)
    pool = await create_pool(pg.uri, max_size=2)
    await migrate(pool)
    metrics = Metrics("test")
    writer = UsageWriter(pool, metrics, interval_s=0.05, batch_size=8)
    writer.start()
    try:
        for i in range(10):
            writer.add(event(i))
        await wait_until_drained(writer)

        await pg.stop()  # the database goes away with events still arriving
        for i in range(10, 30):
            writer.add(event(i))
        await asyncio.sleep(0.5)
        assert writer.pending == 20
        assert sample(metrics, "volt_writer_errors_total") >= 1

        pg = await EmbeddedPostgres.start(pgdata)  # same data directory: a restart
        await wait_until_drained(writer)
        rows = await pool.fetch("SELECT prompt_tokens FROM usage_events ORDER BY prompt_tokens")
        assert [r["prompt_tokens"] for r in rows] == list(range(30))  # none lost, none twice
        assert sample(metrics, "volt_writer_dropped_events_total") == 0
        assert sample(metrics, "volt_writer_written_events_total") == 30
    finally:
        await writer.close(timeout_s=2)
        await pool.close()
        await pg.stop()


async def test_full_buffer_drops_oldest_and_counts(fresh_db: tuple[str, Pool]) -> None:
    _, db = fresh_db
    metrics = Metrics("test")
    writer = UsageWriter(db, metrics, max_buffered=5, batch_size=100)
    for i in range(8):
        writer.add(event(i))
    assert writer.pending == 5
    assert sample(metrics, "volt_writer_dropped_events_total") == 3
    await writer.flush()
    rows = await db.fetch("SELECT prompt_tokens FROM usage_events ORDER BY prompt_tokens")
    assert [r["prompt_tokens"] for r in rows] == [3, 4, 5, 6, 7]


async def test_close_flushes_what_is_buffered(fresh_db: tuple[str, Pool]) -> None:
    _, db = fresh_db
    writer = UsageWriter(db, Metrics("test"), interval_s=3600, batch_size=2)
    writer.start()
    for i in range(5):
        writer.add(event(i))
    await writer.close()
    assert await db.fetchval("SELECT count(*) FROM usage_events") == 5
