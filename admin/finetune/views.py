"""Fine-tuning's API objects, OpenAI's shapes: files, jobs and job events, rendered from the
store's typed rows."""

from __future__ import annotations

from typing import Any

from admin.tenancy import unix
from finetune.store import Event, File, Job


def file_object(row: File) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": unix(row.created_at),
        "expires_at": None,
        "filename": row.filename,
        "purpose": row.purpose,
        # Only files that passed validation are stored.
        "status": "processed",
        "status_details": None,
    }


def job_object(row: Job) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "fine_tuning.job",
        "created_at": unix(row.created_at),
        "error": row.error,
        "fine_tuned_model": row.fine_tuned_model,
        "finished_at": unix(row.finished_at),
        "hyperparameters": row.hyperparameters,
        "model": row.model,
        "organization_id": row.org_id,
        "result_files": [],
        "seed": row.seed,
        "status": row.status.value,
        "trained_tokens": row.trained_tokens,
        "training_file": row.training_file,
        "validation_file": row.validation_file,
        "estimated_finish": unix(row.estimated_finish),
        # OpenAI's newer form of `hyperparameters`, whichever form the job was created with.
        "method": {
            "type": "supervised",
            "supervised": {"hyperparameters": row.hyperparameters},
        },
        # Volt extensions
        "suffix": row.suffix,
        "lora": row.lora,
    }


def event_object(row: Event) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "fine_tuning.job.event",
        "created_at": unix(row.created_at),
        "level": row.level,
        "message": row.message,
        "data": row.data,
        "type": row.type,
    }
