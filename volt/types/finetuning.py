"""Files and fine-tuning jobs (OpenAI's shapes, plus Volt's LoRA settings)."""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

from volt.types.common import VoltModel

FineTuningJobStatus = Literal[
    "validating_files", "queued", "running", "succeeded", "failed", "cancelled"
]
TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class FileObject(VoltModel):
    """An uploaded file."""

    id: str
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    object: Literal["file"]
    purpose: str
    status: Literal["uploaded", "processed", "error"] | None = None
    status_details: str | None = None


class FileDeleted(VoltModel):
    id: str
    object: Literal["file"]
    deleted: bool


class JobError(VoltModel):
    code: str | None = None
    message: str | None = None
    param: str | None = None


class Hyperparameters(VoltModel):
    batch_size: Literal["auto"] | int | None = None
    learning_rate_multiplier: Literal["auto"] | float | None = None
    n_epochs: Literal["auto"] | int | None = None


class SupervisedMethod(VoltModel):
    hyperparameters: Hyperparameters | None = None


class JobMethod(VoltModel):
    """OpenAI's `method`: always `supervised`, with the same values as `hyperparameters`."""

    type: str
    supervised: SupervisedMethod | None = None


class LoraSettings(VoltModel):
    rank: int | None = None
    alpha: float | None = None
    dropout: float | None = None
    target_modules: list[str] | None = None


class FineTuningJob(VoltModel):
    """A `fine_tuning.job`."""

    id: str
    created_at: int
    error: JobError | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: Hyperparameters | None = None
    model: str
    object: Literal["fine_tuning.job"]
    organization_id: str | None = None
    result_files: list[str] | None = None
    status: FineTuningJobStatus
    trained_tokens: int | None = None
    training_file: str
    validation_file: str | None = None
    seed: int | None = None
    estimated_finish: int | None = None
    method: JobMethod | None = None
    # Volt extensions
    suffix: str | None = None
    lora: LoraSettings | None = None


class FineTuningJobEvent(VoltModel):
    id: str
    object: Literal["fine_tuning.job.event"]
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    # For `metrics` events: `{step, train_loss, ...}`.
    data: dict[str, Any] | None = None
    type: Literal["message", "metrics"] | None = None


class HyperparametersParam(TypedDict, total=False):
    batch_size: Literal["auto"] | int
    learning_rate_multiplier: Literal["auto"] | float
    n_epochs: Literal["auto"] | int


class SupervisedMethodParam(TypedDict, total=False):
    hyperparameters: HyperparametersParam


class MethodParam(TypedDict, total=False):
    """OpenAI's `method`, the newer form of `hyperparameters` (only `supervised` is trained)."""

    type: Required[Literal["supervised"]]
    supervised: SupervisedMethodParam


class LoraParam(TypedDict, total=False):
    """Volt extension: the LoRA adapter's settings (peft `LoraConfig`)."""

    rank: int
    alpha: float
    dropout: float
    target_modules: list[str]
