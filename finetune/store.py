"""Fine-tuning rows in Postgres: files, jobs (transitions guarded by the row version, claims
with `FOR UPDATE SKIP LOCKED`), events, and the fine-tuned model registry Spark reads. Rows
leave here as frozen typed rows (`File`, `Job`, `Event`); rendering them is the routes' views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg

from finetune.states import MACHINE, JobEvent, JobState
from voltcore.db import Conn
from voltcore.errors import InvalidRequest, NotFound
from voltcore.ids import random_base62
from voltcore.rows import StateTable, columns

# A pool, or a connection inside a transaction.
Db: TypeAlias = "asyncpg.Pool | Conn"


def new_file_id() -> str:
    return f"file-{random_base62(24)}"


def new_job_id() -> str:
    return f"ftjob-{random_base62(24)}"


def error_object(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """A job's `error` as stored and shown: OpenAI's shape."""
    return {"code": code, "message": message, "param": param}


# ------------------------------------------------------------------ files


@dataclass(frozen=True, slots=True)
class File:
    id: str
    org_id: str
    filename: str
    purpose: str
    bytes: int
    examples: int
    sha256: str
    created_at: dt.datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> File:
        return columns(cls, record)


async def insert_file(
    db: Db, org_id: str, file_id: str, *, filename: str, size: int, examples: int, sha256: str
) -> File:
    row = await db.fetchrow(
        """INSERT INTO ft_files (id, org_id, filename, purpose, bytes, examples, sha256)
           VALUES ($1, $2, $3, 'fine-tune', $4, $5, $6) RETURNING *""",
        file_id,
        org_id,
        filename,
        size,
        examples,
        sha256,
    )
    assert row is not None
    return File.from_record(row)


async def get_file(db: Db, org_id: str, file_id: str, *, lock: str = "") -> File:
    """`lock` is `""`, `"FOR SHARE"` or `"FOR UPDATE"` (inside a transaction)."""
    row = await db.fetchrow(
        f"SELECT * FROM ft_files WHERE org_id = $1 AND id = $2 {lock}", org_id, file_id
    )
    if row is None:
        raise NotFound(f"No such file: '{file_id}'.", param="file_id")
    return File.from_record(row)


async def file_in_use(db: Db, org_id: str, file_id: str) -> bool:
    return bool(
        await db.fetchval(
            """SELECT EXISTS (SELECT 1 FROM ft_jobs WHERE org_id = $1
                                AND $2 IN (training_file, validation_file)
                                AND status = ANY($3::text[]))""",
            org_id,
            file_id,
            list(MACHINE.open),
        )
    )


async def delete_file(db: Db, org_id: str, file_id: str) -> None:
    await db.execute("DELETE FROM ft_files WHERE org_id = $1 AND id = $2", org_id, file_id)


async def lock_org(conn: Conn, what: str, org_id: str) -> None:
    """Serialise one org's checks of a limit with its inserts, until the transaction ends
    (two concurrent uploads cannot both take the last free byte)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"ft:{what}:{org_id}"
    )


async def file_usage(db: Db, org_id: str) -> tuple[int, int]:
    """(files, bytes) the org stores."""
    row = await db.fetchrow(
        "SELECT count(*) AS n, COALESCE(sum(bytes), 0)::bigint AS b FROM ft_files "
        "WHERE org_id = $1",
        org_id,
    )
    assert row is not None
    return int(row["n"]), int(row["b"])


# ------------------------------------------------------------------ jobs


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    org_id: str
    model: str
    training_file: str
    validation_file: str | None
    # As requested (values or 'auto') until validation resolves them.
    hyperparameters: dict[str, Any]
    lora: dict[str, Any]
    suffix: str | None
    seed: int
    status: JobState
    error: dict[str, Any] | None
    fine_tuned_model: str | None
    trained_tokens: int | None
    examples: int | None
    attempts: int
    worker: str | None
    heartbeat_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    estimated_finish: dt.datetime | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Job:
        return columns(cls, record, status=JobState(record["status"]))


async def insert_job(db: Db, org_id: str, job_id: str, **fields: Any) -> Job:
    cols = ["id", "org_id", "status", *fields]
    values = [job_id, org_id, JobState.VALIDATING_FILES.value, *fields.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
    row = await db.fetchrow(
        f"INSERT INTO ft_jobs ({', '.join(cols)}) VALUES ({placeholders}) RETURNING *", *values
    )
    assert row is not None
    return Job.from_record(row)


async def unfinished_jobs(db: Db, org_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM ft_jobs WHERE org_id = $1 AND status = ANY($2::text[])",
            org_id,
            list(MACHINE.open),
        )
    )


# `JOBS.get(db, org_id, job_id)` is an org's job or a 404; `JOBS.apply(db, job, event,
# **changes)` one transition, stamping `finished_at` when the job ends.
JOBS: StateTable[Job, JobState, JobEvent] = StateTable(
    "ft_jobs",
    MACHINE,
    Job.from_record,
    noun="job",
    label="fine-tuning job",
    stamp_final="finished_at",
)


async def lock_next(conn: Conn, state: JobState) -> Job | None:
    """The next job in `state` that no other worker holds, locked for this transaction, taken
    fairly across orgs: the org with the fewest running jobs first, then the one served least
    recently in `state`, then the one whose head-of-line job has waited longest; inside an org,
    its oldest job. A queue is never first come first served across orgs, or one org's
    thousand queued jobs would hold every other org's first job behind them."""
    orgs = await conn.fetch(
        """SELECT o.org_id FROM (
               SELECT org_id,
                      count(*) FILTER (WHERE status = 'running') AS running,
                      min(created_at) FILTER (WHERE status = $1) AS head
               FROM ft_jobs WHERE status IN ($1, 'running') GROUP BY org_id
           ) o LEFT JOIN ft_org_turns t ON t.org_id = o.org_id AND t.status = $1
           WHERE o.head IS NOT NULL
           ORDER BY o.running, t.served_at NULLS FIRST, o.head, o.org_id""",
        state.value,
    )
    ranked = [o["org_id"] for o in orgs]
    # First pass: an org's turn is held by one claimer at a time, so claimers that rank the
    # orgs at the same moment spread over them instead of all taking the first org's jobs.
    for org_id in ranked:
        if await _take_turn(conn, org_id, state):
            job = await _oldest(conn, org_id, state)
            if job is not None:
                await conn.execute(
                    """UPDATE ft_org_turns SET served_at = clock_timestamp()
                       WHERE org_id = $1 AND status = $2""",
                    org_id,
                    state.value,
                )
                return job
    # Every turn is held by another claimer: any free job will do rather than none.
    for org_id in ranked:
        if (job := await _oldest(conn, org_id, state)) is not None:
            return job
    return None


async def _take_turn(conn: Conn, org_id: str, state: JobState) -> bool:
    await conn.execute(
        """INSERT INTO ft_org_turns (org_id, status, served_at) VALUES ($1, $2, '-infinity')
           ON CONFLICT DO NOTHING""",
        org_id,
        state.value,
    )
    return bool(
        await conn.fetchval(
            """SELECT true FROM ft_org_turns WHERE org_id = $1 AND status = $2
               FOR UPDATE SKIP LOCKED""",
            org_id,
            state.value,
        )
    )


async def _oldest(conn: Conn, org_id: str, state: JobState) -> Job | None:
    # The ranking took no locks: an org whose jobs all went to other workers meanwhile is
    # skipped, not waited for.
    row = await conn.fetchrow(
        """SELECT * FROM ft_jobs WHERE org_id = $1 AND status = $2 ORDER BY created_at, id
           LIMIT 1 FOR UPDATE SKIP LOCKED""",
        org_id,
        state.value,
    )
    return None if row is None else Job.from_record(row)


async def claim(pool: asyncpg.Pool, worker: str) -> Job | None:
    """Take the next queued job, fairly across orgs: several workers never take the same one."""
    async with pool.acquire() as conn, conn.transaction():
        job = await lock_next(conn, JobState.QUEUED)
        if job is None:
            return None
        return await JOBS.apply(
            conn,
            job,
            JobEvent.CLAIM,
            worker=worker,
            heartbeat_at=_now(),
            attempts=job.attempts + 1,
            started_at=job.started_at or _now(),
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def heartbeat(
    pool: asyncpg.Pool, job_id: str, worker: str, estimated_finish: dt.datetime | None = None
) -> bool:
    """False once the job is no longer this worker's to run (cancelled, or given away)."""
    return bool(
        await pool.fetchval(
            """UPDATE ft_jobs SET heartbeat_at = now(),
                      estimated_finish = COALESCE($3, estimated_finish)
               WHERE id = $1 AND worker = $2 AND status = 'running' RETURNING true""",
            job_id,
            worker,
            estimated_finish,
        )
    )


async def lost_jobs(pool: asyncpg.Pool, lost_after_s: float) -> list[Job]:
    """Running jobs whose worker has been silent too long."""
    rows = await pool.fetch(
        """SELECT * FROM ft_jobs WHERE status = 'running'
           AND heartbeat_at < now() - make_interval(secs => $1)""",
        lost_after_s,
    )
    return [Job.from_record(r) for r in rows]


# ------------------------------------------------------------------ events


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    id: str
    job_id: str
    org_id: str
    created_at: dt.datetime
    level: str
    type: str
    message: str
    data: dict[str, Any] | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Event:
        return columns(cls, record)


async def add_event(
    db: Db,
    job: Job,
    message: str,
    *,
    level: str = "info",
    type: str = "message",
    data: dict[str, Any] | None = None,
) -> None:
    await add_events(db, job, [(level, type, message, data)])


async def add_events(
    db: Db, job: Job, events: Sequence[tuple[str, str, str, dict[str, Any] | None]]
) -> None:
    """Many at once (a batch of per-step metrics): `(level, type, message, data)` each."""
    await db.executemany(
        """INSERT INTO ft_events (id, job_id, org_id, level, type, message, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [(f"ftevent-{random_base62(24)}", job.id, job.org_id, *event) for event in events],
    )


async def events_page(
    db: Db, job_id: str, *, limit: int, after: str | None
) -> tuple[list[Event], bool]:
    """Newest first; `after` is the last id of the previous page. Keyed by job and ordered by
    `seq` (several events land in one millisecond), so not the org-wide list helper."""
    cursor = None
    if after is not None:
        cursor = await db.fetchval(
            "SELECT seq FROM ft_events WHERE job_id = $1 AND id = $2", job_id, after
        )
        if cursor is None:
            raise InvalidRequest(
                f"Invalid cursor: '{after}'.", param="after", code="invalid_cursor"
            )
    rows = await db.fetch(
        """SELECT * FROM ft_events WHERE job_id = $1 AND ($2::bigint IS NULL OR seq < $2)
           ORDER BY seq DESC LIMIT $3""",
        job_id,
        cursor,
        limit + 1,
    )
    return [Event.from_record(r) for r in rows[:limit]], len(rows) > limit


# ------------------------------------------------------------------ fine-tuned models


async def register_model(db: Db, job: Job, model_id: str, adapter: str) -> None:
    await db.execute(
        """INSERT INTO ft_models (id, org_id, base_model, job_id, adapter)
           VALUES ($1, $2, $3, $4, $5)""",
        model_id,
        job.org_id,
        job.model,
        job.id,
        adapter,
    )
