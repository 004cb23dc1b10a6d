"""Fine-tuning settings, read from `VOLT_FINETUNE_*`; shared by admin and the workers. The base
models come from the one catalog, `Settings.models_file`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FinetuneSettings(BaseSettings):
    """Usage: `FinetuneSettings()`; tests pass fields directly."""

    model_config = SettingsConfigDict(env_prefix="VOLT_FINETUNE_", extra="ignore")

    # Uploads past this are 413 (OpenAI's limit is 512 MB).
    max_file_bytes: int = Field(512 << 20, ge=1)
    # Per org, so that one tenant cannot fill the artifact store (a disk every org shares) or
    # the work queue: stored file bytes and files past these are 409 `file_storage_limit_exceeded`
    # and `file_count_limit_exceeded`; a job past `max_org_unfinished_jobs` (validating, queued
    # or running) is 409 `unfinished_job_limit_exceeded`. Sized for one machine's disk; OpenAI's
    # org storage limit is 100 GB.
    max_org_file_bytes: int = Field(10 << 30, ge=1)
    max_org_files: int = Field(1000, ge=1)
    max_org_unfinished_jobs: int = Field(10, ge=1)
    # Longest training example in tokens (also capped by the base model's context).
    max_seq_len: int = Field(2048, ge=16)
    # A worker proves it is alive this often; a running job silent for `lost_after_s` is
    # handed to another worker, at most `max_attempts` times in all.
    heartbeat_s: float = Field(2.0, gt=0)
    lost_after_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    # How often an idle worker looks for work.
    poll_s: float = Field(1.0, gt=0)
