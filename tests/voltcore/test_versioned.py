"""Rows guarded by their version: one UPDATE per change, and `change`, the one
read-check-apply-retry that routes use, with one behaviour once retries run out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio

from voltcore import versioned
from voltcore.db import Pool
from voltcore.errors import Conflict
from voltcore.versioned import VersionConflict


@pytest_asyncio.fixture
async def table(pool: Pool) -> AsyncIterator[str]:
    await pool.execute(
        """CREATE TABLE versioned_probe (id text PRIMARY KEY, status text NOT NULL,
           note text, version int NOT NULL DEFAULT 1, updated_at timestamptz)"""
    )
    await pool.execute("INSERT INTO versioned_probe (id, status) VALUES ('r1', 'open')")
    yield "versioned_probe"
    await pool.execute("DROP TABLE versioned_probe")


@dataclass(frozen=True)
class Probe:
    """The probe table's typed row, as a store would return it."""

    id: str
    status: str
    note: str | None
    version: int

    @classmethod
    def of(cls, record: asyncpg.Record | None) -> Probe:
        assert record is not None
        return cls(record["id"], record["status"], record["note"], record["version"])


async def _read(pool: Pool) -> Probe:
    return Probe.of(await pool.fetchrow("SELECT * FROM versioned_probe WHERE id = 'r1'"))


async def test_a_stale_version_is_a_version_conflict(pool: Pool, table: str) -> None:
    row = await _read(pool)
    moved = await versioned.update(pool, table, row, {}, state="closing", code="probe_changed")
    assert moved["version"] == row.version + 1
    with pytest.raises(VersionConflict):
        await versioned.update(pool, table, row, {"note": "late"}, code="probe_changed")


async def test_change_retries_a_row_that_moved_and_applies_once(pool: Pool, table: str) -> None:
    calls = 0

    async def close(row: Probe) -> Probe | None:
        nonlocal calls
        calls += 1
        if calls == 1:  # someone else moves the row between our read and our write
            await pool.execute("UPDATE versioned_probe SET version = version + 1")
        return Probe.of(
            await versioned.update(pool, table, row, {}, state="closed", code="probe_changed")
        )

    row = await versioned.change(lambda: _read(pool), close, code="probe_changed")
    assert (row.status, calls) == ("closed", 2)


async def test_nothing_to_change_answers_the_row_as_read(pool: Pool, table: str) -> None:
    async def unchanged(_row: Probe) -> None:
        return None

    row = await versioned.change(lambda: _read(pool), unchanged, code="probe_changed")
    assert (row.status, row.version) == ("open", 1)


async def test_a_conflict_that_is_the_answer_is_not_retried(pool: Pool, table: str) -> None:
    calls = 0

    async def refuse(_row: Probe) -> None:
        nonlocal calls
        calls += 1
        raise Conflict("not now", code="not_allowed")

    with pytest.raises(Conflict) as err:
        await versioned.change(lambda: _read(pool), refuse, code="probe_changed")
    assert (err.value.code, calls) == ("not_allowed", 1)


async def test_retries_running_out_is_a_409_never_a_stale_row(pool: Pool, table: str) -> None:
    async def always_moved(row: Probe) -> Probe:
        await pool.execute("UPDATE versioned_probe SET version = version + 1")
        return Probe.of(
            await versioned.update(pool, table, row, {}, state="closed", code="probe_changed")
        )

    with pytest.raises(Conflict) as err:
        await versioned.change(
            lambda: _read(pool), always_moved, code="probe_changed", param="probe_id"
        )
    assert not isinstance(err.value, VersionConflict)
    assert (err.value.status, err.value.code, err.value.param) == (409, "probe_changed", "probe_id")
    assert (await _read(pool)).status == "open"


async def test_concurrent_changes_each_apply_exactly_once(pool: Pool, table: str) -> None:
    async def append(row: Probe) -> Probe:
        # A state change bumps the version (a change of observations alone does not).
        note = (row.note or "") + "x"
        return Probe.of(
            await versioned.update(
                pool, table, row, {"note": note}, state="open", code="probe_changed"
            )
        )

    await asyncio.gather(
        *(
            versioned.change(lambda: _read(pool), append, code="probe_changed", attempts=50)
            for _ in range(8)
        )
    )
    assert (await _read(pool)).note == "x" * 8
