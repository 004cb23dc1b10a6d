"""`client.files` and `client.fine_tuning.jobs`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from volt._call import Call, body, path_id
from volt._constants import DEFAULT_JOB_WAIT_TIMEOUT_S, DEFAULT_POLL_INTERVAL_S
from volt._resource import Executor, M, Resource, endpoint, paginated, waiter
from volt._waiting import Lifecycle, Wait
from volt.types.common import CursorPage
from volt.types.finetuning import (
    TERMINAL_JOB_STATUSES,
    FileDeleted,
    FileObject,
    FineTuningJob,
    FineTuningJobEvent,
    FineTuningJobStatus,
    HyperparametersParam,
    LoraParam,
    MethodParam,
)

FileInput = bytes | Path | IO[bytes]

JOB_LIFECYCLE = Lifecycle(
    "fine-tuning job",
    order={"validating_files": 0, "queued": 1, "running": 2},
    final=TERMINAL_JOB_STATUSES,
)


def _read(file: FileInput, filename: str | None) -> tuple[str, bytes]:
    if isinstance(file, Path):
        return filename or file.name, file.read_bytes()
    if isinstance(file, bytes):
        return filename or "upload.jsonl", file
    name = getattr(file, "name", None)
    return filename or (Path(name).name if isinstance(name, str) else "upload.jsonl"), file.read()


def _job(job_id: str) -> Call[FineTuningJob]:
    return Call("GET", f"/v1/fine-tuning/jobs/{path_id(job_id)}", FineTuningJob)


class Files(Resource[M]):
    @endpoint
    def create(
        self, *, file: FileInput, purpose: str = "fine-tune", filename: str | None = None
    ) -> Call[FileObject]:
        """Upload chat JSONL for fine-tuning.

        Usage: `client.files.create(file=Path("train.jsonl"))`.
        """
        name, content = _read(file, filename)
        return Call(
            "POST",
            "/v1/files",
            FileObject,
            files={"file": (name, content, "application/jsonl")},
            data={"purpose": purpose},
        )

    @paginated
    def list(
        self, *, limit: int | None = None, after: str | None = None, purpose: str | None = None
    ) -> Call[CursorPage[FileObject]]:
        """Usage: `for f in client.files.list(): print(f.id)`."""
        params = body(limit=limit, after=after, purpose=purpose)
        return Call("GET", "/v1/files", CursorPage[FileObject], params=params)

    @endpoint
    def retrieve(self, file_id: str) -> Call[FileObject]:
        """Usage: `client.files.retrieve("file-...")`."""
        return Call("GET", f"/v1/files/{path_id(file_id)}", FileObject)

    @endpoint
    def content(self, file_id: str) -> Call[bytes]:
        """The file's bytes exactly as uploaded.

        Usage: `Path("train.jsonl").write_bytes(client.files.content("file-..."))`.
        """
        return Call("GET", f"/v1/files/{path_id(file_id)}/content", bytes)

    @endpoint
    def delete(self, file_id: str) -> Call[FileDeleted]:
        """Usage: `client.files.delete("file-...").deleted`."""
        return Call("DELETE", f"/v1/files/{path_id(file_id)}", FileDeleted)


class Jobs(Resource[M]):
    @endpoint
    def create(
        self,
        *,
        model: str,
        training_file: str,
        hyperparameters: HyperparametersParam | None = None,
        suffix: str | None = None,
        validation_file: str | None = None,
        seed: int | None = None,
        method: MethodParam | None = None,
        lora: LoraParam | None = None,
        idempotency_key: str | None = None,
    ) -> Call[FineTuningJob]:
        """Queue a LoRA fine-tuning job; it starts in `validating_files`.

        Usage: `client.fine_tuning.jobs.create(model="smollm2-135m-instruct",
        training_file=file.id, hyperparameters={"n_epochs": 1})`. OpenAI's newer form,
        `method={"type": "supervised", "supervised": {"hyperparameters": {...}}}`, works too
        (not together with `hyperparameters`).
        """
        return Call(
            "POST",
            "/v1/fine-tuning/jobs",
            FineTuningJob,
            json=body(
                model=model,
                training_file=training_file,
                hyperparameters=hyperparameters,
                suffix=suffix,
                validation_file=validation_file,
                seed=seed,
                method=method,
                lora=lora,
            ),
            idempotency_key=idempotency_key,
        )

    @paginated
    def list(
        self, *, limit: int | None = None, after: str | None = None
    ) -> Call[CursorPage[FineTuningJob]]:
        """Usage: `for job in client.fine_tuning.jobs.list(): print(job.status)`."""
        params = body(limit=limit, after=after)
        return Call("GET", "/v1/fine-tuning/jobs", CursorPage[FineTuningJob], params=params)

    @endpoint
    def retrieve(self, job_id: str) -> Call[FineTuningJob]:
        """Usage: `client.fine_tuning.jobs.retrieve("ftjob-...")`."""
        return _job(job_id)

    @waiter
    def wait(
        self,
        job_id: str,
        *,
        until: FineTuningJobStatus | None = None,
        timeout: float = DEFAULT_JOB_WAIT_TIMEOUT_S,
        poll_interval: float = DEFAULT_POLL_INTERVAL_S,
        on_update: Callable[[FineTuningJob], object] | None = None,
    ) -> Wait[FineTuningJob]:
        """Poll the job until it ends (`succeeded`, `failed`, `cancelled`), or until `until`;
        `on_update` sees every snapshot. Raises `UnexpectedStatusError` when it ends otherwise
        than `until`, `WaitTimeoutError` after `timeout` seconds.

        Usage: `client.fine_tuning.jobs.wait(job.id).fine_tuned_model`.
        """
        return Wait(
            _job(job_id),
            JOB_LIFECYCLE,
            TERMINAL_JOB_STATUSES if until is None else frozenset({until}),
            timeout,
            poll_interval,
            on_update,
        )

    @endpoint
    def cancel(self, job_id: str) -> Call[FineTuningJob]:
        """Usage: `client.fine_tuning.jobs.cancel("ftjob-...")`."""
        return Call("POST", f"/v1/fine-tuning/jobs/{path_id(job_id)}/cancel", FineTuningJob)

    @paginated
    def list_events(
        self, job_id: str, *, limit: int | None = None, after: str | None = None
    ) -> Call[CursorPage[FineTuningJobEvent]]:
        """Newest first. Usage: `for e in client.fine_tuning.jobs.list_events(job.id): ...`."""
        return Call(
            "GET",
            f"/v1/fine-tuning/jobs/{path_id(job_id)}/events",
            CursorPage[FineTuningJobEvent],
            params=body(limit=limit, after=after),
        )


class FineTuning(Resource[M]):
    def __init__(self, client: Executor[M]) -> None:
        super().__init__(client)
        self.jobs: Jobs[M] = Jobs(client)
