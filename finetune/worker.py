"""The claim loop of a `volt-finetune` worker.

Each tick: hand jobs whose worker went silent back to the queue (or fail them after too many
attempts), validate one job's files, else claim one queued job (`FOR UPDATE SKIP LOCKED`: two
workers never take the same one) and train it in a thread while heartbeating. A missed
heartbeat answer (the job was cancelled) stops training at its next step; a shutdown puts the
job back in the queue for another worker.

Usage: `await Worker(pool, Settings(), FinetuneSettings()).run()`; `worker.stop()` to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from finetune import artifacts, plan, store
from finetune.config import FinetuneSettings
from finetune.dataset import DatasetError, parse_examples
from finetune.states import JobEvent, JobState
from finetune.store import Job
from finetune.train import Cancelled, Encoded, Result, Step, TrainSpec, encode, train
from voltcore.catalog import ModelSpec, by_id, resolve
from voltcore.config import Settings
from voltcore.errors import Conflict

log = logging.getLogger(__name__)


class JobError(Exception):
    """The job cannot succeed; becomes its `error` object."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param

    def error(self) -> dict[str, Any]:
        return store.error_object(self.code, self.message, self.param)


@dataclass(frozen=True)
class Prepared:
    spec: ModelSpec
    base_path: Path
    train: list[Encoded]
    valid: list[Encoded]

    @property
    def tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.train)


class Worker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        finetune: FinetuneSettings,
        name: str | None = None,
    ) -> None:
        self.pool = pool
        self.root = settings.artifacts
        self.settings = finetune
        self.catalog = by_id(settings.models_file)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._stopping = asyncio.Event()
        self._tokenizers: dict[str, Any] = {}

    def stop(self) -> None:
        """Finish what is safe to finish; a job in training goes back to the queue."""
        self._stopping.set()

    async def run(self, *, exit_when_idle: bool = False) -> None:
        log.info("worker started", extra={"worker": self.name})
        while not self._stopping.is_set():
            if await self.tick():
                continue
            if exit_when_idle:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.poll_s)
        log.info("worker stopped", extra={"worker": self.name})

    async def tick(self) -> bool:
        """One unit of work; False when there was nothing to do."""
        await self.recover_lost()
        if await self.validate_one():
            return True
        job = await store.claim(self.pool, self.name)
        if job is None:
            return False
        await self.run_job(job)
        return True

    # ------------------------------------------------------------------ lost workers

    async def recover_lost(self) -> None:
        for job in await store.lost_jobs(self.pool, self.settings.lost_after_s):
            retry = plan.after_worker_loss(job.attempts, self.settings.max_attempts)
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    if retry:
                        job = await store.JOBS.apply(
                            conn, job, JobEvent.REQUEUE, worker=None, heartbeat_at=None
                        )
                        message = (
                            f"The worker stopped responding; the job is queued again "
                            f"(attempt {job.attempts} of {self.settings.max_attempts} used)."
                        )
                    else:
                        message = f"The worker stopped responding {job.attempts} times; giving up."
                        job = await store.JOBS.apply(
                            conn,
                            job,
                            JobEvent.FAIL,
                            error=store.error_object("worker_lost", message),
                        )
                    await store.add_event(conn, job, message, level="warn")
            except Conflict:
                continue  # someone else handled it, or it was cancelled meanwhile
            log.warning("recovered job of a lost worker", extra={"job_id": job.id})

    # ------------------------------------------------------------------ validation

    def _tokenizer(self, spec: ModelSpec, path: Path) -> Any:
        if spec.id not in self._tokenizers:
            from transformers import AutoTokenizer

            self._tokenizers[spec.id] = AutoTokenizer.from_pretrained(path)
        return self._tokenizers[spec.id]

    def _encode_file(
        self, org_id: str, file_id: str, param: str, tokenizer: Any, limit: int
    ) -> list[Encoded]:
        path = self.root / artifacts.file_key(org_id, file_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise JobError("file_not_found", f"File '{file_id}' no longer exists.", param) from None
        try:
            examples = parse_examples(data)
        except DatasetError as err:
            raise JobError("invalid_file_format", str(err), param) from None
        out = []
        for line, messages in examples:
            encoded = encode(tokenizer, messages)
            if len(encoded.input_ids) > limit:
                raise JobError(
                    "example_too_long",
                    f"line {line}: the example is {len(encoded.input_ids)} tokens long, over "
                    f"the limit of {limit}.",
                    param,
                )
            out.append(encoded)
        return out

    def prepare(self, job: Job) -> Prepared:
        """Blocking: read, parse and tokenize the job's files against its base model."""
        spec = self.catalog.get(job.model)
        if spec is None:
            raise JobError("model_not_found", f"The model '{job.model}' is gone.", "model")
        base_path = resolve(spec.path)
        tokenizer = self._tokenizer(spec, base_path)
        limit = min(self.settings.max_seq_len, spec.max_model_len or self.settings.max_seq_len)
        org = job.org_id
        train_rows = self._encode_file(org, job.training_file, "training_file", tokenizer, limit)
        valid_rows: list[Encoded] = []
        if job.validation_file is not None:
            valid_rows = self._encode_file(
                org, job.validation_file, "validation_file", tokenizer, limit
            )
        return Prepared(spec, base_path, train_rows, valid_rows)

    async def validate_one(self) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            # Held while checking, so only one worker checks a job; a cancel waits for it.
            job = await store.lock_next(conn, JobState.VALIDATING_FILES)
            if job is None:
                return False
            try:
                prepared = await asyncio.to_thread(self.prepare, job)
            except JobError as err:
                job = await store.JOBS.apply(conn, job, JobEvent.REJECT, error=err.error())
                await store.add_event(conn, job, f"Validation failed: {err.message}", level="error")
                return True
            resolved = plan.resolve(job.hyperparameters, len(prepared.train))
            job = await store.JOBS.apply(
                conn,
                job,
                JobEvent.VALIDATED,
                hyperparameters=resolved.as_dict(),
                examples=len(prepared.train),
            )
            await store.add_event(
                conn,
                job,
                f"Files validated: {len(prepared.train)} examples, {prepared.tokens} tokens. "
                f"Job queued ({plan.total_steps(resolved, len(prepared.train))} steps).",
            )
        return True

    # ------------------------------------------------------------------ training

    async def run_job(self, job: Job) -> None:
        job_id, org = job.id, job.org_id
        key = artifacts.adapter_key(org, job_id)
        # A worker that died mid-job may have left its half-written adapter behind.
        for stale in (self.root / key).parent.glob(f".{job_id}.*.tmp"):
            await asyncio.to_thread(artifacts.remove, stale)
        tmp = artifacts.staging(self.root, key)
        await store.add_event(
            self.pool, job, f"Fine-tuning started (attempt {job.attempts}) on {self.name}."
        )
        log.info("training", extra={"job_id": job_id, "attempt": job.attempts})
        loop = asyncio.get_running_loop()
        steps: asyncio.Queue[Step] = asyncio.Queue()
        stop = threading.Event()

        def on_step(step: Step) -> None:
            loop.call_soon_threadsafe(steps.put_nowait, step)

        def work() -> Result:
            prepared = self.prepare(job)
            hp = plan.Resolved(**job.hyperparameters)
            return train(
                TrainSpec(
                    prepared.base_path,
                    prepared.train,
                    hp,
                    job.lora,
                    job.seed,
                    tmp,
                    prepared.valid,
                ),
                on_step,
                stop.is_set,
            )

        task = asyncio.ensure_future(asyncio.to_thread(work))
        owned = True
        while True:
            done, _ = await asyncio.wait({task}, timeout=self.settings.heartbeat_s)
            eta = await self._report(job, steps)
            if done:
                break
            if self._stopping.is_set():
                stop.set()
            elif not await store.heartbeat(self.pool, job_id, self.name, eta):
                owned = False  # cancelled, or declared lost and given to another worker
                stop.set()
        try:
            result = task.result()
        except Cancelled:
            await asyncio.to_thread(artifacts.remove, tmp)
            if owned:  # we are shutting down: let another worker retry it
                await self._finish(job, JobEvent.REQUEUE, "The worker stopped; job queued again.")
            log.info("training stopped", extra={"job_id": job_id, "owned": owned})
            return
        except JobError as err:
            await asyncio.to_thread(artifacts.remove, tmp)
            await self._finish(job, JobEvent.FAIL, f"Failed: {err.message}", error=err.error())
            return
        except Exception as err:
            # Type only: a message from deep inside the trainer could quote training data.
            log.exception("training failed", extra={"job_id": job_id})
            await asyncio.to_thread(artifacts.remove, tmp)
            message = f"Training failed ({type(err).__name__}); the job can be created again."
            await self._finish(
                job, JobEvent.FAIL, message, error=store.error_object("training_failed", message)
            )
            return
        await self._succeed(job, tmp, key, result)

    async def _report(self, job: Job, steps: asyncio.Queue[Step]) -> dt.datetime | None:
        """Metrics events for the steps done since the last call; the estimated finish."""
        batch: list[Step] = []
        while not steps.empty():
            batch.append(steps.get_nowait())
        if not batch:
            return None
        events = []
        for s in batch:
            data: dict[str, Any] = {
                "step": s.step,
                "total_steps": s.total_steps,
                "epoch": s.epoch,
                "train_loss": round(s.train_loss, 6),
                "trained_tokens": s.trained_tokens,
            }
            message = f"Step {s.step}/{s.total_steps}: training loss={s.train_loss:.4f}"
            if s.valid_loss is not None:
                data["valid_loss"] = round(s.valid_loss, 6)
                message += f", validation loss={s.valid_loss:.4f}"
            events.append(("info", "metrics", message, data))
        await store.add_events(self.pool, job, events)
        last = batch[-1]
        remaining = last.elapsed_s / last.step * (last.total_steps - last.step)
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=remaining)

    async def _finish(self, job: Job, event: JobEvent, message: str, **changes: Any) -> None:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                current = await store.JOBS.get(conn, job.org_id, job.id)
                if current.status is not JobState.RUNNING or current.worker != self.name:
                    return  # cancelled or handed on meanwhile: not ours to end
                if event is JobEvent.REQUEUE:
                    changes.update(worker=None, heartbeat_at=None)
                current = await store.JOBS.apply(
                    conn, current, event, estimated_finish=None, **changes
                )
                level = "error" if event is JobEvent.FAIL else "info"
                await store.add_event(conn, current, message, level=level)
        except Conflict:
            pass

    async def _succeed(self, job: Job, tmp: Path, key: str, result: Result) -> None:
        await asyncio.to_thread(artifacts.publish, self.root, tmp, key)
        model = plan.model_name(job.model, job.org_id, job.suffix, job.id)
        registered = False
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                current = await store.JOBS.get(conn, job.org_id, job.id)
                if current.status is JobState.RUNNING and current.worker == self.name:
                    await store.register_model(conn, current, model, key)
                    current = await store.JOBS.apply(
                        conn,
                        current,
                        JobEvent.SUCCEED,
                        fine_tuned_model=model,
                        trained_tokens=result.trained_tokens,
                        estimated_finish=None,
                    )
                    await store.add_event(conn, current, f"New fine-tuned model created: {model}")
                    await store.add_event(conn, current, "The job has successfully completed.")
                    registered = True
        except Conflict:
            pass
        if not registered:  # cancelled at the last moment: the adapter serves nobody
            await asyncio.to_thread(artifacts.remove, self.root / key)
        log.info(
            "training finished",
            extra={
                "job_id": job.id,
                "registered": registered,
                "steps": result.steps,
                "seconds": round(result.seconds, 1),
                "train_loss": round(result.train_loss, 4),
            },
        )
